package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// The demo model's tokenizer is a byte-level BPE in the layout of Qwen2's
// tokenizer.json: Qwen2's split regex (single digits, letter runs with one leading
// non-letter, punctuation runs, white space), GPT-2's byte-to-unicode alphabet, merges
// learned on the task's texts, and one special token, <|endoftext|>, for EOS and
// padding. Every byte is in the vocabulary, so any text encodes and decodes back
// unchanged; the task's words become single tokens.

// EOSToken is the demo tokenizer's end-of-text token.
const EOSToken = "<|endoftext|>"

// qwen2Split is the Split pre-tokenizer regex of Qwen2's tokenizer.json.
const qwen2Split = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// byteRunes is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
// themselves, the others are shifted to U+0100 and up, in byte order.
var byteRunes = func() [256]rune {
	var t [256]rune
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// pretokenize splits ASCII text as the Qwen2 regex does. It is the trainer's view of
// the corpus only (the task's texts are ASCII letters, digits, spaces and - :); the
// shipped tokenizer.json carries the regex itself, and the tests check that the two
// agree on the corpus.
func pretokenize(s string) ([]string, error) {
	var out []string
	isL := func(c byte) bool { return c < 128 && unicode.IsLetter(rune(c)) }
	isN := func(c byte) bool { return c >= '0' && c <= '9' }
	isS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 128 || c == '\'' || c == '\r' || c == '\n' || c == '\t' {
			return nil, fmt.Errorf("demo tokenizer: corpus text %q: byte %q is outside what the trainer handles", s, c)
		}
		switch {
		case isN(c):
			out = append(out, s[i:i+1])
			i++
		case isL(c) || (!isS(c) && i+1 < len(s) && isL(s[i+1])) || (c == ' ' && i+1 < len(s) && isL(s[i+1])):
			j := i + 1
			for j < len(s) && isL(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		case c == ' ' && i+1 < len(s) && !isS(s[i+1]) && !isN(s[i+1]):
			j := i + 1 // " ?[^\s\p{L}\p{N}]+"
			for j < len(s) && !isS(s[j]) && !isL(s[j]) && !isN(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		case isS(c):
			j := i
			for j < len(s) && isS(s[j]) {
				j++
			}
			if j < len(s) && j-i > 1 { // \s+(?!\S): leave the last space to the next piece
				j--
			}
			out = append(out, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !isS(s[j]) && !isL(s[j]) && !isN(s[j]) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, nil
}

// byteLevel maps a piece's bytes to GPT-2's alphabet, one symbol per byte.
func byteLevel(p string) []string {
	syms := make([]string, len(p))
	for i := 0; i < len(p); i++ {
		syms[i] = string(byteRunes[p[i]])
	}
	return syms
}

// TrainBPE learns merges on texts: starting from single bytes, it repeatedly merges
// the most frequent adjacent pair of symbols within pieces (ties: the
// lexicographically smallest pair) until every piece is one symbol or maxMerges are
// made. It returns the vocabulary (the 256 byte symbols, then one token per merge) and
// the merges in rank order.
func TrainBPE(texts []string, maxMerges int) (vocab []string, merges [][2]string, err error) {
	counts := map[string]int{}
	for _, t := range texts {
		ps, err := pretokenize(t)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range ps {
			counts[p]++
		}
	}
	type word struct {
		syms []string
		n    int
	}
	var words []*word
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		words = append(words, &word{byteLevel(p), counts[p]})
	}
	for b := 0; b < 256; b++ {
		vocab = append(vocab, string(byteRunes[b]))
	}
	for len(merges) < maxMerges {
		pairs := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.n
			}
		}
		if len(pairs) == 0 {
			break
		}
		var best [2]string
		bestN := 0
		for p, n := range pairs {
			if n > bestN || (n == bestN && (p[0] < best[0] || (p[0] == best[0] && p[1] < best[1]))) {
				best, bestN = p, n
			}
		}
		merged := best[0] + best[1]
		merges = append(merges, best)
		vocab = append(vocab, merged)
		for _, w := range words {
			out := w.syms[:0]
			for i := 0; i < len(w.syms); i++ {
				if i+1 < len(w.syms) && w.syms[i] == best[0] && w.syms[i+1] == best[1] {
					out = append(out, merged)
					i++
					continue
				}
				out = append(out, w.syms[i])
			}
			w.syms = out
		}
	}
	return vocab, merges, nil
}

// TokenizerFiles returns tokenizer.json and tokenizer_config.json for vocab and merges
// (from TrainBPE); the EOS token gets the id len(vocab).
func TokenizerFiles(vocab []string, merges [][2]string, maxLen int) (tokJSON, cfgJSON []byte, err error) {
	vmap := map[string]int{}
	for i, v := range vocab {
		if _, dup := vmap[v]; dup {
			return nil, nil, fmt.Errorf("demo tokenizer: token %q twice in the vocabulary", v)
		}
		vmap[v] = i
	}
	ms := make([]string, len(merges))
	for i, m := range merges {
		if strings.Contains(m[0], " ") || strings.Contains(m[1], " ") {
			return nil, nil, fmt.Errorf("demo tokenizer: merge %q contains a space", m)
		}
		ms[i] = m[0] + " " + m[1]
	}
	byteLevelOpts := func() map[string]any {
		return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	}
	tok := map[string]any{
		"version":    "1.0",
		"truncation": nil,
		"padding":    nil,
		"added_tokens": []any{map[string]any{
			"id": len(vocab), "content": EOSToken, "single_word": false, "lstrip": false, "rstrip": false,
			"normalized": false, "special": true,
		}},
		"normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": qwen2Split}, "behavior": "Isolated", "invert": false},
			byteLevelOpts(),
		}},
		"post_processor": byteLevelOpts(),
		"decoder":        byteLevelOpts(),
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "",
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": orderedVocab(vocab), "merges": ms,
		},
	}
	cfg := map[string]any{
		"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": maxLen,
		"bos_token": nil, "eos_token": EOSToken, "pad_token": EOSToken, "unk_token": nil,
		"add_bos_token": false, "add_eos_token": false, "clean_up_tokenization_spaces": false,
	}
	if tokJSON, err = marshal(tok); err != nil {
		return nil, nil, err
	}
	if cfgJSON, err = marshal(cfg); err != nil {
		return nil, nil, err
	}
	return tokJSON, cfgJSON, nil
}

// orderedVocab marshals as a JSON object in id order (as tokenizers writes it).
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, t := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s:%d", k, i)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("demo tokenizer: %w", err)
	}
	return b.Bytes(), nil
}
