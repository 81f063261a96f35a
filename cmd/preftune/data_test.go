package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataCommand(t *testing.T) {
	const pref = "../../testdata/preferences"
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt": "p", "chosen": "a", "rejected": "b"}`+"\n"+`{"prompt": "p", "chosen": "a"}`+"\n"), 0o644)
	unknown := filepath.Join(dir, "unknown.jsonl")
	os.WriteFile(unknown, []byte(`{"question": "q", "answer": "a"}`+"\n"), 0o644)
	mapped := filepath.Join(dir, "mapped.jsonl")
	os.WriteFile(mapped, []byte(`{"question": "q", "response_j": "a", "response_k": "b"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out.json")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
	}{
		{"no verb", []string{"data"}, 2, nil, []string{"missing verb"}},
		{"unknown verb", []string{"data", "frob"}, 2, nil, []string{`unknown verb "frob"`}},
		{"check ultrafeedback", []string{"data", "check", pref + "/ultrafeedback_binarized_200.jsonl"}, 0,
			[]string{"200 rows, 200 loaded, format trl×200", "chosen==rejected: 1", "ultrafeedback_binarized_200.jsonl:44:rejected: chosen and rejected are identical"}, nil},
		{"check hh: one empty completion is exit 2", []string{"data", "check", pref + "/hh_rlhf_harmless_200.jsonl"}, 2,
			[]string{"200 rows, 199 loaded, format hh-rlhf×199", "1  invalid: chosen: empty completion"},
			[]string{"hh_rlhf_harmless_200.jsonl:87:chosen: empty completion"}},
		{"check registry names, flags after the dataset", []string{"data", "check", "dpo_en_demo,dpo_zh_demo,kto_en_demo", "--dataset-dir", pref + "/llamafactory"}, 0,
			[]string{"(dataset dpo_en_demo): 300 rows, 300 loaded", "(dataset dpo_zh_demo): 300 rows, 300 loaded", "(dataset kto_en_demo): 300 rows, 300 loaded",
				"total: 900 rows, 900 loaded (pair 600, unpaired 300)", "duplicates: 16"}, nil},
		{"check with tokenizer", []string{"data", "check", "--tokenizer", "../../testdata/tokenizers/qwen2.5", "--dataset-dir", pref + "/llamafactory", "dpo_zh_demo", "--max-length", "256"}, 0,
			[]string{"tokens (../../testdata/tokenizers/qwen2.5, 300 rows", "prompt+longest completion", "with the length limits: 300 rows kept"}, nil},
		{"drop invalid", []string{"data", "check", pref + "/hh_rlhf_harmless_200.jsonl", "--drop-invalid"}, 0, []string{"200 rows, 199 loaded"}, nil},
		{"missing field", []string{"data", "check", bad}, 2, []string{"invalid: 1"}, []string{"bad.jsonl:2:rejected: missing field (row has: chosen, prompt)"}},
		{"unknown format", []string{"data", "check", unknown}, 2, nil, []string{"unknown.jsonl:1: unknown format: row has keys {answer, question}"}},
		{"column mapping", []string{"data", "check", mapped, "--columns", "prompt=question,chosen=response_j,rejected=response_k"}, 0, []string{"1 rows, 1 loaded, format trl×1"}, nil},
		{"bad column mapping", []string{"data", "check", mapped, "--columns", "prompt"}, 2, nil, []string{"is not CANONICAL=COLUMN"}},
		{"two datasets needed one", []string{"data", "check", "a", "b"}, 2, nil, []string{"want one dataset"}},
		{"convert to sharegpt", []string{"data", "convert", pref + "/llamafactory/dpo_en_demo.json", out, "--to", "sharegpt"}, 0, []string{"300 rows written as sharegpt"}, nil},
		{"converted file checks", []string{"data", "check", out}, 0, []string{"300 rows, 300 loaded, format llamafactory-sharegpt×300"}, nil},
		{"convert without --to", []string{"data", "convert", mapped, out}, 2, nil, []string{"--to is required"}},
		{"convert invalid input", []string{"data", "convert", bad, out, "--to", "trl"}, 2, nil, []string{"bad.jsonl:2:rejected: missing field"}},
		{"convert tokenized needs tokenizer", []string{"data", "convert", mapped, out, "--to", "jsonl-tokenized", "--columns", "prompt=question,chosen=response_j,rejected=response_k"}, 2, nil, []string{"needs a tokenizer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

func TestDataConvertTokenized(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tok.jsonl")
	var stdout, stderr bytes.Buffer
	code := run([]string{"data", "convert", "../../testdata/preferences/ultrafeedback_binarized_200.jsonl", out,
		"--to", "jsonl-tokenized", "--tokenizer", "../../testdata/tokenizers/gpt2", "--max-length", "64"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"data", "check", out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("check exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "200 rows, 200 loaded, format trl-pretokenized×200") {
		t.Errorf("check of the tokenized file: %s", stdout.String())
	}
}
