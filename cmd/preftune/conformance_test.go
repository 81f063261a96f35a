package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tiny "github.com/preftune/preftune/train/tinymodel"
)

// TestDataCheckRules: `data check` tokenizes with the rules `train` uses (--config, or
// --template/--rules): on dpo_en_demo with Qwen2.5 and LLaMA-Factory's qwen template at
// cutoff_len 2048, infer_seqlen cuts 8 prompts (keeping their start) and no row is
// dropped, as LLaMA-Factory does (issue 15: 37 were cut before, keeping the end);
// unknown or unsupported templates are refused with exit 2, naming the template.
func TestDataCheckRules(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"LLaMA-Factory qwen at 2048", []string{"data", "check", "dpo_en_demo", "--dataset-dir", "testdata/preferences/llamafactory",
			"--tokenizer", "testdata/tokenizers/qwen2.5", "--template", "qwen", "--cutoff-len", "2048"}, 0,
			"300 rows kept, 0 dropped (prompt too long), 8 prompts and 0 completions truncated"},
		{"a LLaMA-Factory example config", []string{"data", "check", "--config", "testdata/conformance/cases/lf-v0.9.3-llama3_lora_dpo.yaml"}, 0,
			"300 rows kept, 0 dropped (prompt too long)"},
		{"template without a built-in", []string{"data", "check", "dpo_en_demo", "--dataset-dir", "testdata/preferences/llamafactory",
			"--tokenizer", "testdata/tokenizers/qwen2.5", "--template", "qwen2_vl"}, 2, `template "qwen2_vl"`},
		{"no such template", []string{"data", "check", "dpo_en_demo", "--dataset-dir", "testdata/preferences/llamafactory",
			"--tokenizer", "testdata/tokenizers/qwen2.5", "--template", "qwen9"}, 2, `template "qwen9" does not exist`},
		{"template that would grow the vocabulary", []string{"data", "check", "dpo_en_demo", "--dataset-dir", "testdata/preferences/llamafactory",
			"--tokenizer", "testdata/tokenizers/llama3", "--template", "qwen"}, 2, `template qwen: the EOS token "<|im_end|>"`},
		{"bad rules", []string{"data", "check", "dpo_en_demo", "--dataset-dir", "testdata/preferences/llamafactory",
			"--tokenizer", "testdata/tokenizers/qwen2.5", "--rules", "axolotl"}, 2, `tokenization rules "axolotl"`},
		{"train refuses an unknown template", []string{"train", "--model_name_or_path", "m", "--dataset", "d", "--stage", "dpo", "--template", "qwen9"}, 2, `template`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var so, se bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &so, &se)
			out := so.String() + se.String()
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

// TestTrainAndDataCheckAgree: `train` with a LLaMA-Factory example config and `data
// check --config` on the same file tokenize through one path: the counts of truncated
// prompts and completions they report are the same. (A tiny Qwen2-shaped model with the
// real Qwen2.5 vocabulary trains one step.)
func TestTrainAndDataCheckAgree(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 151665, Hidden: 8, Layers: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(root, "testdata", "tokenizers", "qwen2.5", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(modelDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)
	cfg := "testdata/conformance/cases/lf-head-qwen3_lora_dpo.yaml"
	var so, se bytes.Buffer
	if code := run([]string{"data", "check", "--config", cfg, "--tokenizer", modelDir}, strings.NewReader(""), &so, &se); code != 0 {
		t.Fatalf("data check: exit %d\n%s%s", code, so.String(), se.String())
	}
	m := regexp.MustCompile(`(\d+) prompts and (\d+) completions truncated`).FindStringSubmatch(so.String())
	if m == nil {
		t.Fatalf("data check printed no truncation counts:\n%s", so.String())
	}
	so.Reset()
	se.Reset()
	args := []string{"train", cfg, "--model_name_or_path", modelDir, "--output_dir", filepath.Join(dir, "out"), "--max_steps", "1",
		"--gradient_accumulation_steps", "1", "--plot_loss", "false"}
	if code := run(args, strings.NewReader(""), &so, &se); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, so.String(), se.String())
	}
	want := fmt.Sprintf("%s prompts and %s completions truncated", m[1], m[2])
	t.Logf("data check and train: %s", want)
	if !strings.Contains(se.String(), want) {
		t.Errorf("train's log lacks %q (data check's counts):\n%s", want, se.String())
	}
}
