package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestTokenizeGolden tokenizes sampled rows of the real files with the real tokenizers
// and templates and compares with reference/data/tokenize_ref.mjs (tokenizers.js and a
// hand-written ChatML renderer) in testdata/golden/tokenized.json.
func TestTokenizeGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/golden/tokenized.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			File, Tokenizer          string
			Row                      int
			Prompt, Chosen, Rejected []int32
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	specs := map[string]string{
		"ultrafeedback_binarized_200": filepath.Join(prefDir, "ultrafeedback_binarized_200.jsonl"),
		"hh_rlhf_harmless_200":        filepath.Join(prefDir, "hh_rlhf_harmless_200.jsonl"),
		"dpo_en_demo":                 filepath.Join(prefDir, "llamafactory", "dpo_en_demo.json"),
		"dpo_zh_demo":                 filepath.Join(prefDir, "llamafactory", "dpo_zh_demo.json"),
	}
	datasets := map[string]map[int]*Example{}
	toks := map[string]*Tokenizer{}
	for _, c := range g.Cases {
		if datasets[c.File] == nil {
			ds, err := Load(specs[c.File], Options{Policy: PolicyDrop})
			if err != nil {
				t.Fatal(err)
			}
			datasets[c.File] = map[int]*Example{}
			for i := range ds.Examples {
				datasets[c.File][ds.Examples[i].Row] = &ds.Examples[i]
			}
		}
		if toks[c.Tokenizer] == nil {
			tk, err := LoadTokenizer(filepath.Join("..", "testdata", "tokenizers", c.Tokenizer), TokenizeOptions{Rules: RulesTRLLegacy})
			if err != nil {
				t.Fatal(err)
			}
			toks[c.Tokenizer] = tk
		}
		t.Run(fmt.Sprintf("%s/%d/%s", c.File, c.Row, c.Tokenizer), func(t *testing.T) {
			ex := datasets[c.File][c.Row]
			if ex == nil {
				t.Fatalf("row %d not loaded", c.Row)
			}
			tk, err := toks[c.Tokenizer].Tokenize(ex)
			if err != nil {
				t.Fatal(err)
			}
			p := tk.Pair()
			for _, f := range []struct {
				name      string
				got, want []int32
			}{{"prompt", p.PromptIDs, c.Prompt}, {"chosen", p.ChosenIDs, c.Chosen}, {"rejected", p.RejectedIDs, c.Rejected}} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s: %d ids, want %d; first difference at %d", f.name, len(f.got), len(f.want), firstDiff(f.got, f.want))
				}
			}
		})
	}
}

func firstDiff(a, b []int32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// fakeEnc encodes each byte as its value (+1000 for runes above ASCII is not needed
// here), with BOS 1 and EOS 2, and a post-processor adding BOS.
type fakeEnc struct{ noBOS bool }

func (f fakeEnc) Encode(s string, special bool) []int {
	var out []int
	if special && !f.noBOS {
		out = append(out, 1)
	}
	for i := 0; i < len(s); i++ {
		out = append(out, int(s[i]))
	}
	return out
}
func (f fakeEnc) BOS() (int, bool) { return 1, true }
func (f fakeEnc) EOS() (int, bool) { return 2, true }
func (f fakeEnc) SpecialTokensAdded() (prefix, suffix []int) {
	if f.noBOS {
		return nil, nil
	}
	return []int{1}, nil
}

func ids(s string) []int32 {
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i])
	}
	return out
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTokenizeTruncation(t *testing.T) {
	ex := Example{Kind: KindPair, Prompt: txt("abcdef"), Chosen: txt("XYZ"), Rejected: txt("Q"), Source: "f", Row: 3}
	bos, eos := []int32{1}, []int32{2}
	tests := []struct {
		name       string
		opts       TokenizeOptions
		enc        Encoder
		p, c, r    []int32
		drop       string
		cutP, cutC bool
	}{
		{"no limits: BOS from the post-processor, EOS appended", TokenizeOptions{Rules: RulesTRLLegacy}, fakeEnc{},
			cat(bos, ids("abcdef")), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", false, false},
		{"tokenizer without BOS prefix", TokenizeOptions{Rules: RulesTRLLegacy}, fakeEnc{noBOS: true},
			ids("abcdef"), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", false, false},
		{"BOS never, no EOS", TokenizeOptions{Rules: RulesTRLLegacy, BOS: BOSNever, NoEOS: true}, fakeEnc{},
			ids("abcdef"), ids("XYZ"), ids("Q"), "", false, false},
		{"BOS always", TokenizeOptions{Rules: RulesTRLLegacy, BOS: BOSAlways}, fakeEnc{noBOS: true},
			cat(bos, ids("abcdef")), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", false, false},
		{"max_prompt_length keeps the end", TokenizeOptions{Rules: RulesTRLLegacy, MaxPromptLength: 3}, fakeEnc{},
			ids("def"), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", true, false},
		{"max_completion_length keeps the start", TokenizeOptions{Rules: RulesTRLLegacy, MaxCompletionLength: 2}, fakeEnc{},
			cat(bos, ids("abcdef")), ids("XY"), cat(ids("Q"), eos), "", false, true},
		{"max_length keep_end cuts the prompt start", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 7, TruncationMode: KeepEnd}, fakeEnc{},
			ids("def"), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", true, false},
		{"max_length keep_start cuts completions", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 9, TruncationMode: KeepStart}, fakeEnc{},
			cat(bos, ids("abcdef")), ids("XY"), cat(ids("Q"), eos), "", false, true},
		{"keep_start: prompt fills max_length: dropped", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 7, TruncationMode: KeepStart}, fakeEnc{},
			nil, nil, nil, "prompt has 7 tokens, leaving no room for a completion within max_length 7", false, false},
		{"drop long prompts", TokenizeOptions{Rules: RulesTRLLegacy, MaxPromptLength: 4, DropLongPrompts: true}, fakeEnc{},
			nil, nil, nil, "prompt has 7 tokens, more than max_prompt_length 4", false, false},
		// TRL would keep the completion's end with no prompt left; the engine predicts the
		// first completion token from a prompt token, so the row is dropped (as train
		// refused it), the one rule for train, score and data check.
		{"keep_end: completion longer than max_length leaves no prompt: dropped", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 3}, fakeEnc{},
			nil, nil, nil, "the longest completion (4 tokens) leaves no prompt token within max_length 3", false, false},
		{"keep_end: one prompt token left", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 5}, fakeEnc{},
			ids("f"), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", true, false},
		// LLaMA-Factory cutoff_len: prompt 7 tokens, longest completion 4. Cutoff 8:
		// 4·2 ≥ 8 and 7·2 ≥ 8, so the target gets int(8·4/11) = 2 and the prompt 8−2 = 6,
		// both keeping their start.
		{"infer_seqlen shares the cutoff", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 8, InferSeqlen: true}, fakeEnc{},
			cat(bos, ids("abcde")), ids("XY"), cat(ids("Q"), eos), "", true, true},
		// Cutoff 10: 4·2 < 10, the completion keeps its 4 tokens, the prompt 10−4 = 6.
		{"infer_seqlen favours the completion", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 10, InferSeqlen: true}, fakeEnc{},
			cat(bos, ids("abcde")), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", true, false},
		{"infer_seqlen within the cutoff", TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 11, InferSeqlen: true}, fakeEnc{},
			cat(bos, ids("abcdef")), cat(ids("XYZ"), eos), cat(ids("Q"), eos), "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := &Tokenizer{Enc: tc.enc, Opts: tc.opts}
			out, rep, err := tk.TokenizeAll([]Example{ex}, PolicyStrict)
			if err != nil {
				t.Fatal(err)
			}
			if tc.drop != "" {
				if len(out) != 0 || rep.DroppedLong != 1 || len(rep.Issues) != 1 || rep.Issues[0].Error() != "f:3: "+tc.drop {
					t.Fatalf("want dropped %q; got %d rows, issues %v", tc.drop, len(out), rep.Issues)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("%d rows, issues %v", len(out), rep.Issues)
			}
			p := out[0].Pair()
			if !reflect.DeepEqual(p.PromptIDs, tc.p) || !reflect.DeepEqual(p.ChosenIDs, tc.c) || !reflect.DeepEqual(p.RejectedIDs, tc.r) {
				t.Errorf("got %v | %v | %v\nwant %v | %v | %v", p.PromptIDs, p.ChosenIDs, p.RejectedIDs, tc.p, tc.c, tc.r)
			}
			if (rep.TruncatedPrompt == 1) != tc.cutP || (rep.TruncatedCompl == 1) != tc.cutC {
				t.Errorf("truncated prompt %d completions %d, want %v %v", rep.TruncatedPrompt, rep.TruncatedCompl, tc.cutP, tc.cutC)
			}
		})
	}
}

// chatml renders a toy ChatML template; broken makes it not round-trip.
func chatml(broken bool) ChatRenderer {
	return ChatRendererFunc(func(ms []map[string]any, gen bool, tools []any) (string, error) {
		var b strings.Builder
		for i, m := range ms {
			if broken && i == len(ms)-1 && m["role"] == "assistant" {
				b.WriteString("<|last|>")
			}
			fmt.Fprintf(&b, "<%s>%s</%s>", m["role"], m["content"], m["role"])
		}
		if gen {
			b.WriteString("<assistant>")
		}
		return b.String(), nil
	})
}

func TestTokenizeConversational(t *testing.T) {
	ex := Example{Kind: KindPair, Conversational: true, Source: "f", Row: 2,
		Prompt: conv("user", "hi"), Chosen: conv("assistant", "yo"), Rejected: conv("assistant", "no")}
	tk := &Tokenizer{Enc: fakeEnc{}, Chat: chatml(false), Opts: TokenizeOptions{Rules: RulesTRLLegacy}}
	got, err := tk.Tokenize(&ex)
	if err != nil {
		t.Fatal(err)
	}
	p := got.Pair()
	// The prompt is the template's text (no BOS added); the completion is the rest of
	// render(prompt+completion) after the rendered generation prompt, plus EOS.
	if want := ids("<user>hi</user><assistant>"); !reflect.DeepEqual(p.PromptIDs, want) {
		t.Errorf("prompt %q", string(toBytes(p.PromptIDs)))
	}
	if want := cat(ids("yo</assistant>"), []int32{2}); !reflect.DeepEqual(p.ChosenIDs, want) {
		t.Errorf("chosen %v, want %v", p.ChosenIDs, want)
	}

	tk.Chat = chatml(true)
	_, err = tk.Tokenize(&ex)
	if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), "f:2:chosen: template does not round-trip") {
		t.Errorf("broken template: %v", err)
	}
	tk.Chat = nil
	if _, err := tk.Tokenize(&ex); !errors.Is(err, ErrTemplate) {
		t.Errorf("no template: %v", err)
	}
	// Under PolicyDrop the row is recorded and skipped.
	tk.Chat = chatml(true)
	out, rep, err := tk.TokenizeAll([]Example{ex}, PolicyDrop)
	if err != nil || len(out) != 0 || len(rep.Issues) != 1 {
		t.Errorf("drop policy: %v %d %v", err, len(out), rep.Issues)
	}
}

func toBytes(ids []int32) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}

func TestTokenizeRealTemplateRoundTrip(t *testing.T) {
	// Every conversational row of the LLaMA-Factory demos renders through Qwen2.5's
	// template and round-trips.
	tk, err := LoadTokenizer(filepath.Join("..", "testdata", "tokenizers", "qwen2.5"), TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dpo_en_demo", "dpo_zh_demo", "kto_en_demo"} {
		ds, err := Load(name, Options{DatasetDir: filepath.Join(prefDir, "llamafactory")})
		if err != nil {
			t.Fatal(err)
		}
		out, rep, err := tk.TokenizeAll(ds.Examples, PolicyStrict)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out)+rep.DroppedLong != 300 {
			t.Errorf("%s: %d tokenized + %d dropped, want 300", name, len(out), rep.DroppedLong)
		}
		for _, o := range out {
			if n := len(o.PromptIDs) + len(o.Completions[0]); n > 1024 {
				t.Fatalf("%s row %d: %d tokens > max_length", name, o.Row, n)
			}
		}
	}
}

// TestInferSeqlen: LLaMA-Factory's infer_seqlen, worked by hand.
func TestInferSeqlen(t *testing.T) {
	tests := []struct{ source, target, cutoff, wantS, wantT int }{
		{10, 20, 100, 10, 20},     // fits
		{300, 100, 256, 156, 100}, // 200 < 256: target whole, source 256−100
		{100, 300, 256, 100, 156}, // 200 < 256: source whole, target 256−100
		{300, 300, 256, 128, 128}, // int(256·300/600) = 128
		{500, 300, 256, 160, 96},  // int(256·300/800) = int(96.0) = 96
		{700, 300, 100, 70, 30},   // int(100·0.3) = int(30.000000000000004) = 30
		{5, 0, 4, 4, 0},           // nothing to keep of the target
		{0, 0, 10, 0, 0},
	}
	for _, tc := range tests {
		s, tg := InferSeqlen(tc.source, tc.target, tc.cutoff)
		if s != tc.wantS || tg != tc.wantT {
			t.Errorf("InferSeqlen(%d, %d, %d) = %d, %d; want %d, %d", tc.source, tc.target, tc.cutoff, s, tg, tc.wantS, tc.wantT)
		}
	}
}
