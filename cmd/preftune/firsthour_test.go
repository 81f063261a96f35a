package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/chattemplate"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

// gpt2Model writes a tiny random Qwen2-shaped model with GPT-2's tokenizer, which has
// no chat template.
func gpt2Model(t *testing.T, dir string) string {
	t.Helper()
	m := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(m, tiny.Spec{Vocab: 50257, Hidden: 16, Layers: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tiny.CopyTokenizer(filepath.Join("..", "..", "testdata", "tokenizers", "gpt2"), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const chatPairs = `{"prompt": [{"role": "user", "content": "What is 2+2?"}], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}
{"prompt": [{"role": "user", "content": "Capital of France?"}], "chosen": [{"role": "assistant", "content": "Paris"}], "rejected": [{"role": "assistant", "content": "Rome"}]}
`

// TestNoChatTemplateSameMessage: conversational data on a model without a chat template
// fails in train, data check --tokenizer, template and generate --messages with the
// same message naming the fix; data check without --tokenizer warns that it did not
// check templating (issue 17, point 2).
func TestNoChatTemplateSameMessage(t *testing.T) {
	dir := t.TempDir()
	m := gpt2Model(t, dir)
	ds := writeFile(t, filepath.Join(dir, "chat.jsonl"), chatPairs)
	msgs := writeFile(t, filepath.Join(dir, "msgs.json"), `[{"role": "user", "content": "hi"}]`)
	cases := []struct {
		name string
		args []string
	}{
		{"train", []string{"train", "--model_name_or_path", m, "--dataset", ds, "--output_dir", filepath.Join(dir, "out"), "--max_steps", "1"}},
		{"data check", []string{"data", "check", ds, "--tokenizer", m}},
		{"template", []string{"template", "--model", m, "--messages", msgs}},
		{"generate", []string{"generate", "--model", m, "--messages", msgs, "--max-new-tokens", "1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, nil, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			for _, want := range []string{chattemplate.ErrMissing.Error(), chattemplate.MissingHint} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Errorf("a failed run left %s behind", filepath.Join(dir, "out"))
			}
		})
	}
	t.Run("data check without tokenizer", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"data", "check", ds}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "2 conversational row(s): chat templating not checked (pass --tokenizer") {
			t.Errorf("no templating warning:\n%s", stderr.String())
		}
	})
}

// TestTruncationCollapse: length limits that make chosen and rejected the same tokens
// are counted and warned about, and refused (exit 2) when every pair collapsed
// (issue 17, point 3). With GPT-2's tokenizer " yes indeed" and " yes no" share their
// first token " yes"; max_length 3 with max_prompt_length 2 leaves one completion token.
func TestTruncationCollapse(t *testing.T) {
	dir := t.TempDir()
	m := gpt2Model(t, dir)
	all := writeFile(t, filepath.Join(dir, "all.jsonl"),
		`{"prompt": "The answer is", "chosen": " yes indeed", "rejected": " yes no"}`+"\n"+
			`{"prompt": "Is it so", "chosen": " yes, sure", "rejected": " yes but"}`+"\n")
	some := writeFile(t, filepath.Join(dir, "some.jsonl"),
		`{"prompt": "The answer is", "chosen": " yes indeed", "rejected": " yes no"}`+"\n"+
			`{"prompt": "Is it so", "chosen": " yes", "rejected": " no"}`+"\n")
	out := filepath.Join(dir, "out")
	trainArgs := func(ds string, limits ...string) []string {
		return append([]string{"train", "--model_name_or_path", m, "--dataset", ds, "--output_dir", out, "--max_steps", "1",
			"--per_device_train_batch_size", "2"}, limits...)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"train all collapsed", trainArgs(all, "--max_length", "3", "--max_prompt_length", "2"), 2, "every pair (2) has identical chosen and rejected tokens after truncation (first: " + all + ":1)"},
		{"train cutoff_len all collapsed", trainArgs(all, "--cutoff_len", "3", "--max_prompt_length", "2"), 2, "every pair (2)"},
		{"train some collapsed", trainArgs(some, "--max_length", "3", "--max_prompt_length", "2"), 0, "warning: 1 of 2 pairs have identical chosen and rejected tokens after truncation (first: " + some + ":1)"},
		{"data check all collapsed", []string{"data", "check", all, "--tokenizer", m, "--max-length", "3", "--max-prompt-length", "2", "--max-completion-length", "1"}, 2, "every pair (2)"},
		{"data check some collapsed", []string{"data", "check", some, "--tokenizer", m, "--max-length", "3", "--max-prompt-length", "2", "--max-completion-length", "1"}, 0, "warning: 1 of 2 pairs"},
		{"no limits", trainArgs(all), 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(out)
			var stdout, stderr bytes.Buffer
			code := run(tc.args, nil, &stdout, &stderr)
			both := stdout.String() + stderr.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, both)
			}
			if tc.want != "" && !strings.Contains(both, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, both)
			}
			if tc.want == "" && strings.Contains(both, "after truncation") {
				t.Errorf("collapse reported without limits:\n%s", both)
			}
		})
	}
}
