package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

var tokenizerDir = filepath.Join("..", "..", "testdata", "tokenizers")

// Expected ids come from testdata/tokenizer-vectors (HF AutoTokenizer.encode):
// qwen2.out "Hello world" = 9707 1879, " Hello world" = 21927 1879; llama-spm.out
// " Hello" = 29871 15043; Llama-2's post-processor prepends BOS 1.
func TestTokenizeCommand(t *testing.T) {
	qwen := filepath.Join(tokenizerDir, "qwen2.5")
	llama2 := filepath.Join(tokenizerDir, "llama2")
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // exact stdout when code is 0
		err   string // substring of stderr otherwise
	}{
		{"qwen", []string{"tokenize", "--tokenizer", qwen}, "Hello world", 0, "[9707,1879]\n", ""},
		{"no trimming", []string{"tokenize", "--tokenizer", qwen}, " Hello world", 0, "[21927,1879]\n", ""},
		{"empty", []string{"tokenize", "--tokenizer", qwen}, "", 0, "[]\n", ""},
		{"llama2 bos", []string{"tokenize", "--tokenizer", llama2, "--add-special-tokens"}, " Hello", 0, "[1,29871,15043]\n", ""},
		{"llama2 plain", []string{"tokenize", "-tokenizer", llama2}, " Hello", 0, "[29871,15043]\n", ""},
		{"invalid utf8", []string{"tokenize", "--tokenizer", qwen}, "ab\xffc", 2, "", "not valid UTF-8 (first bad byte at offset 2)"},
		{"missing dir", []string{"tokenize", "--tokenizer", filepath.Join(tokenizerDir, "nope")}, "x", 2, "", "nope"},
		{"no dir flag", []string{"tokenize"}, "x", 2, "", "--tokenizer"},
		{"stray arg", []string{"tokenize", "--tokenizer", qwen, "hello"}, "x", 2, "", "unexpected arguments"},
		{"bad flag", []string{"tokenize", "--bogus"}, "x", 2, "", "bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if tc.code == 0 && stdout.String() != tc.out {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.out)
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.err)
			}
		})
	}
}

func TestDetokenizeCommand(t *testing.T) {
	qwen := filepath.Join(tokenizerDir, "qwen2.5")
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
		err   string
	}{
		{"qwen", []string{"detokenize", "--tokenizer", qwen}, "[9707,1879]", 0, "Hello world", ""},
		{"whitespace around", []string{"detokenize", "--tokenizer", qwen}, " \n[21927, 1879]\n", 0, " Hello world", ""},
		{"empty array", []string{"detokenize", "--tokenizer", qwen}, "[]", 0, "", ""},
		{"special kept", []string{"detokenize", "--tokenizer", qwen}, "[151644,9707]", 0, "<|im_start|>Hello", ""},
		{"special skipped", []string{"detokenize", "--tokenizer", qwen, "--skip-special-tokens"}, "[151644,9707]", 0, "Hello", ""},
		{"not an array", []string{"detokenize", "--tokenizer", qwen}, `{"ids": [1]}`, 2, "", "JSON array"},
		{"null", []string{"detokenize", "--tokenizer", qwen}, `null`, 2, "", "JSON array"},
		{"string element", []string{"detokenize", "--tokenizer", qwen}, `["1"]`, 2, "", "element 0"},
		{"float element", []string{"detokenize", "--tokenizer", qwen}, `[1.5]`, 2, "", "element 0"},
		{"trailing data", []string{"detokenize", "--tokenizer", qwen}, `[1] [2]`, 2, "", "trailing"},
		{"out of range", []string{"detokenize", "--tokenizer", qwen}, `[9707, 151665]`, 2, "", "id 151665 at index 1"},
		{"negative", []string{"detokenize", "--tokenizer", qwen}, `[-1]`, 2, "", "id -1 at index 0"},
		{"missing dir", []string{"detokenize", "--tokenizer", "/nonexistent/tok"}, `[1]`, 2, "", "/nonexistent/tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if tc.code == 0 && stdout.String() != tc.out {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.out)
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.err)
			}
		})
	}
}

// TestTokenizeRoundTrip pipes tokenize into detokenize for text with newlines,
// trailing spaces and non-ASCII: the output is the input, byte for byte.
func TestTokenizeRoundTrip(t *testing.T) {
	for _, name := range []string{"qwen2.5", "llama3", "gpt2"} {
		dir := filepath.Join(tokenizerDir, name)
		text := "  Grüße, 世界!\n\n\tcode: x := 1  \n"
		var ids, out, stderr bytes.Buffer
		if code := run([]string{"tokenize", "--tokenizer", dir}, strings.NewReader(text), &ids, &stderr); code != 0 {
			t.Fatalf("%s tokenize: exit %d: %s", name, code, stderr.String())
		}
		if code := run([]string{"detokenize", "--tokenizer", dir}, &ids, &out, &stderr); code != 0 {
			t.Fatalf("%s detokenize: exit %d: %s", name, code, stderr.String())
		}
		if out.String() != text {
			t.Errorf("%s: round trip gave %q, want %q", name, out.String(), text)
		}
	}
}
