package data

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestTRLRules: current TRL's DPOTrainer tokenization (trl/trainer/dpo_trainer.py
// _prepare_dataset) on a byte tokenizer whose post-processor adds BOS (1), EOS 2:
// plain rows get the post-processor's BOS on the prompt and EOS after each completion,
// cut off tokenize(prompt+completion) after len(tokenize(prompt)); conversational rows
// get the template's text only (no EOS: the turn end is the template's).
func TestTRLRules(t *testing.T) {
	plain := Example{Kind: KindPair, Source: "f", Row: 1, Prompt: Segment{Text: "Q:"}, Chosen: Segment{Text: "yes"}, Rejected: Segment{Text: "no"}}
	conv := Example{Kind: KindPair, Conversational: true, Source: "f", Row: 2,
		Prompt: conv("user", "hi"), Chosen: conv("assistant", "yo"), Rejected: conv("assistant", "no")}
	cases := []struct {
		name                     string
		ex                       Example
		opts                     TokenizeOptions
		prompt, chosen, rejected []int32
	}{
		{"plain: BOS from the post-processor, EOS appended", plain, TokenizeOptions{}, cat([]int32{1}, ids("Q:")), cat(ids("yes"), []int32{2}), cat(ids("no"), []int32{2})},
		{"plain, BOS never", plain, TokenizeOptions{BOS: BOSNever}, ids("Q:"), cat(ids("yes"), []int32{2}), cat(ids("no"), []int32{2})},
		{"plain, keep_start max_length cuts each sequence", plain, TokenizeOptions{MaxLength: 5, TruncationMode: KeepStart}, cat([]int32{1}, ids("Q:")), ids("ye"), ids("no")},
		{"conversational: the template's text, no EOS", conv, TokenizeOptions{}, ids("<user>hi</user><assistant>"), ids("yo</assistant>"), ids("no</assistant>")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := &Tokenizer{Enc: fakeEnc{}, Chat: chatml(false), Opts: tc.opts}
			tks, _, err := tok.TokenizeAll([]Example{tc.ex}, PolicyStrict)
			if err != nil {
				t.Fatal(err)
			}
			p := tks[0].Pair()
			if !reflect.DeepEqual(p.PromptIDs, tc.prompt) || !reflect.DeepEqual(p.ChosenIDs, tc.chosen) || !reflect.DeepEqual(p.RejectedIDs, tc.rejected) {
				t.Errorf("got %v | %v | %v\nwant %v | %v | %v", p.PromptIDs, p.ChosenIDs, p.RejectedIDs, tc.prompt, tc.chosen, tc.rejected)
			}
		})
	}

	// Llama 2's tokenizer.json post-processor is TemplateProcessing "<s> $A": under TRL's
	// rules a plain prompt starts with <s> (id 1), as processing_class(text=prompt) gives.
	tok, err := LoadTokenizer(filepath.Join("..", "testdata", "tokenizers", "llama2"), TokenizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tok.Tokenize(&plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(tk.PromptIDs) == 0 || tk.PromptIDs[0] != 1 || (len(tk.PromptIDs) > 1 && tk.PromptIDs[1] == 1) {
		t.Errorf("llama2 prompt ids %v: want one leading <s> (1)", tk.PromptIDs)
	}
}
