package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fuzzSeedTokenizers are small tokenizer.json files of the two families this
// package supports, plus the structurally broken ones of TestStructuralErrors
// (issue 16 item 12's duplicate id among them).
func fuzzSeedTokenizers() []string {
	// byte-level (GPT-2 style): the 256 byte symbols and a few merges
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[byteLevelStr[b]] = b
	}
	merges := [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"Ġ", "a"}}
	for _, m := range merges {
		vocab[m[0]+m[1]] = len(vocab)
	}
	vj, _ := json.Marshal(vocab)
	mj, _ := json.Marshal(merges)
	byteLevel := `{"version": "1.0", "added_tokens": [{"id": ` + itoa(len(vocab)) + `, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": null,
 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
 "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
 "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
 "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true, "vocab": ` + string(vj) + `, "merges": ` + string(mj) + `}}`

	// SentencePiece style (Llama-2): Prepend/Replace normalizers, byte fallback, <unk>
	sp := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2}
	for b := 0; b < 256; b++ {
		sp[byteTokenName(b)] = len(sp)
	}
	for _, tok := range []string{"▁", "a", "b", "c", "▁a", "ab", "▁ab"} {
		sp[tok] = len(sp)
	}
	spj, _ := json.Marshal(sp)
	sentencePiece := `{"version": "1.0",
 "added_tokens": [{"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
  {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
 "pre_tokenizer": null,
 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
 "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
 "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false, "vocab": ` + string(spj) + `, "merges": ["▁ a", "a b", "▁a b"]}}`

	return []string{
		byteLevel,
		sentencePiece,
		minimalTokenizer(`{"a": 0, "b": 1, "c": 1}`, "", "", ""),
		minimalTokenizer(`{"a": 0, "b": 1, "c": 3}`, "", `[{"id": 3, "content": "<s>", "special": true}]`, ""),
		minimalTokenizer(`{"a": 0, "b": 2147483647}`, "", "", ""),
		minimalTokenizer(`{"a": 0, "b": 1}`, `["a b"]`, "", ""),
	}
}

func byteTokenName(b int) string {
	const hex = "0123456789ABCDEF"
	return "<0x" + string(hex[b>>4]) + string(hex[b&15]) + ">"
}

// FuzzTokenizer loads arbitrary tokenizer.json bytes and, when they load,
// encodes and decodes arbitrary text. Loading must fail with an error or give
// a tokenizer whose every encoded id names a token; nothing may panic.
// `go test -run '^$' -fuzz '^FuzzTokenizer$' ./hf/tokenizer` explores.
func FuzzTokenizer(f *testing.F) {
	texts := []string{"", "the cat in a hat", "ab abc\n\n  \tb<|endoftext|>x", "é😀\xff\xfe<s>", strings.Repeat("ab ", 20)}
	for i, js := range fuzzSeedTokenizers() {
		f.Add([]byte(js), texts[i%len(texts)])
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		if len(data) > 1<<13 || len(text) > 1<<8 {
			// keep execs fast: size is not where the parser's branches are, and
			// long texts are FuzzTokenizerEncode's job (on real tokenizers
			// loaded once); a mutated split regex runs on backtracking regexp2,
			// whose cost grows steeply with text length
			return
		}
		// a hang watchdog: a panic in another goroutine ends the worker and
		// the fuzzer records this input as a crasher
		defer cpuWatchdog(10*time.Second, func() string { return fmt.Sprintf("FuzzTokenizer: over 10s of CPU on %q / %q", data, text) })()
		tok, err := Parse(data)
		if err != nil {
			if tok != nil {
				t.Fatalf("Parse returned a tokenizer and an error: %v", err)
			}
			return
		}
		for _, special := range []bool{false, true} {
			ids := tok.Encode(text, special)
			for _, id := range ids {
				if _, ok := tok.IDToken(id); !ok {
					t.Fatalf("Encode(%q) gave id %d, which names no token", text, id)
				}
			}
			_ = tok.Decode(ids, special) // decoders may produce any bytes; only the absence of a panic is asserted
			_ = tok.Decode([]int{-1, 0, 1 << 40, tok.VocabSize()}, special)
		}
		batch := tok.EncodeBatch([]string{text, text + text}, true, 2)
		if len(batch) != 2 {
			t.Fatalf("EncodeBatch returned %d results for 2 texts", len(batch))
		}
	})
}

// FuzzTokenizerEncode encodes and decodes arbitrary text with the real
// tokenizers of testdata/tokenizers (and the two well-formed seeds), loaded
// once outside the fuzz loop so every exec is spent in Encode/Decode: every
// id must name a token, plain decoding must give back text that encodes to
// the same ids' text, nothing may panic.
// `go test -run '^$' -fuzz '^FuzzTokenizerEncode$' ./hf/tokenizer` explores.
func FuzzTokenizerEncode(f *testing.F) {
	var toks []*Tokenizer
	for _, name := range []string{"gpt2", "llama2"} {
		toks = append(toks, loadTestTokenizer(f, name))
	}
	for i, js := range fuzzSeedTokenizers()[:2] {
		tok, err := Parse([]byte(js))
		if err != nil {
			f.Fatalf("seed %d: %v", i, err)
		}
		toks = append(toks, tok)
	}
	for _, text := range []string{"", "the cat in a hat", "ab abc\n\n  \tb<|endoftext|>x", "é😀\xff\xfe<s>", "<|im_start|>user\nhi<|im_end|>", "[INST] 123456 [/INST]", strings.Repeat("ab ", 20)} {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 1<<12 {
			return
		}
		for i, tok := range toks {
			for _, special := range []bool{false, true} {
				ids := tok.Encode(text, special)
				for _, id := range ids {
					if _, ok := tok.IDToken(id); !ok {
						t.Fatalf("tokenizer %d: Encode(%q) gave id %d, which names no token", i, text, id)
					}
				}
				_ = tok.Decode(ids, special)
			}
		}
	})
}

// TestFuzzSeedsLoad keeps the fuzz seeds meaningful: the two well-formed ones
// load and encode their own text back.
func TestFuzzSeedsLoad(t *testing.T) {
	seeds := fuzzSeedTokenizers()
	for i, js := range seeds[:2] {
		tok, err := Parse([]byte(js))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		text := "the cat ab in a hat"
		if got := tok.Decode(tok.Encode(text, false), false); got != text {
			t.Errorf("seed %d: Decode(Encode(%q)) = %q", i, text, got)
		}
	}
	for i, js := range seeds[2:] {
		if _, err := Parse([]byte(js)); err == nil {
			t.Errorf("broken seed %d loads", i+2)
		}
	}
}

// cpuWatchdog panics (from its own goroutine, which ends the fuzz worker) once this
// process has spent limit of CPU time since the call; it returns the stop function.
// CPU time, not wall time: a worker that is descheduled (a loaded machine, a nice
// level, SIGSTOP) is not hung.
func cpuWatchdog(limit time.Duration, msg func() string) (stop func()) {
	start := processCPU()
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	var check func()
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		used := processCPU() - start
		if used >= limit {
			panic(msg())
		}
		t = time.AfterFunc(limit-used, check)
	}
	t = time.AfterFunc(limit, check)
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
