package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
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
