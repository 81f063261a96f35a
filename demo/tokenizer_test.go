package demo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/preftune/preftune/hf/tokenizer"
)

// corpusTexts are every prompt and completion of the task.
func corpusTexts() []string {
	var texts []string
	for n := 0; n <= 999; n++ {
		texts = append(texts, Prompt(n), Completion(n, false))
		if HasStyle(n) {
			texts = append(texts, Completion(n, true))
		}
	}
	return texts
}

// buildTestTokenizer trains the BPE on the task's texts and loads it with hf/tokenizer.
func buildTestTokenizer(t *testing.T) (*tokenizer.Tokenizer, []string) {
	t.Helper()
	vocab, merges, err := TrainBPE(corpusTexts(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	tj, cj, err := TokenizerFiles(vocab, merges, 64)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cj, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok, vocab
}

// TestTokenizerRoundTrip: the trained tokenizer loads through hf/tokenizer (which runs
// the real Qwen2 regex), splits every task text exactly where the trainer's
// pretokenizer does, makes each piece one token, and decodes every text — and
// arbitrary UTF-8 — back unchanged.
func TestTokenizerRoundTrip(t *testing.T) {
	tok, vocab := buildTestTokenizer(t)
	if got, want := tok.VocabSize(), len(vocab)+1; got != want {
		t.Errorf("vocab size %d, want %d", got, want)
	}
	eos, ok := tok.EOS()
	if !ok || eos != len(vocab) {
		t.Errorf("EOS id %d (%v), want %d", eos, ok, len(vocab))
	}
	for _, text := range corpusTexts() {
		ids := tok.Encode(text, true)
		pieces, err := pretokenize(text)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(pieces) {
			var toks []string
			for _, id := range ids {
				s, _ := tok.IDToken(id)
				toks = append(toks, s)
			}
			t.Fatalf("%q: %d tokens %q for %d pieces %q", text, len(ids), toks, len(pieces), pieces)
		}
		if back := tok.Decode(ids, false); back != text {
			t.Fatalf("%q decoded as %q", text, back)
		}
	}
	for _, text := range []string{"Hello, world!\n\tÜnïcödé 😀 123456", "  two  spaces ", "it's\r\nwe'll"} {
		if back := tok.Decode(tok.Encode(text, false), false); back != text {
			t.Errorf("%q decoded as %q", text, back)
		}
	}
	ids := tok.Encode(" forty"+EOSToken, false)
	if len(ids) != 2 || ids[1] != eos {
		t.Errorf("EOS in text: ids %v", ids)
	}
	if back := tok.Decode(ids, true); back != " forty" {
		t.Errorf("skipping special tokens: %q", back)
	}
}

// TestTrainBPEDeterministic: the same texts give the same merges; a tiny corpus
// gives the merges worked out by hand.
func TestTrainBPEDeterministic(t *testing.T) {
	v1, m1, _ := TrainBPE(corpusTexts(), 1000)
	v2, m2, _ := TrainBPE(corpusTexts(), 1000)
	if !slices.Equal(v1, v2) || !slices.Equal(m1, m2) {
		t.Fatal("two trainings differ")
	}
	// " ab ab ab ac": pieces " ab"×3, " ac" → Ġa (4), then Ġab (3), then Ġac (1)
	_, m, err := TrainBPE([]string{" ab ab ab ac"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"Ġ", "a"}, {"Ġa", "b"}, {"Ġa", "c"}}
	if !slices.Equal(m, want) {
		t.Errorf("merges %q, want %q", m, want)
	}
	if _, _, err := TrainBPE([]string{"naïve"}, 10); err == nil {
		t.Error("non-ASCII corpus accepted")
	}
}
