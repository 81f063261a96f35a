package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenOutput returns the jinja2 reference rendering for (model, conversation,
// add_generation_prompt) from hf/chattemplate's goldens, which
// reference/chattemplate/render_goldens.py produced with Python's jinja2.
func goldenOutput(t *testing.T, model, conv string, agp bool) (messages, tools json.RawMessage, expected *string, wantErr *string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "hf", "chattemplate", "testdata", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gf struct {
		Conversations map[string]struct {
			Messages json.RawMessage `json:"messages"`
			Tools    json.RawMessage `json:"tools"`
		} `json:"conversations"`
		Cases []struct {
			Model               string  `json:"model"`
			Conversation        string  `json:"conversation"`
			AddGenerationPrompt bool    `json:"add_generation_prompt"`
			Expected            *string `json:"expected"`
			Error               *string `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &gf); err != nil {
		t.Fatal(err)
	}
	for _, c := range gf.Cases {
		if c.Model == model && c.Conversation == conv && c.AddGenerationPrompt == agp {
			cv := gf.Conversations[conv]
			return cv.Messages, cv.Tools, c.Expected, c.Error
		}
	}
	t.Fatalf("no golden case %s/%s/%v", model, conv, agp)
	return nil, nil, nil, nil
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTemplateCommandGoldens(t *testing.T) {
	tests := []struct {
		model, dir, conv string
		agp, withTools   bool
	}{
		{"mistral", "testdata/tokenizers/mistral", "multi_turn", false, false},
		{"llama3", "testdata/tokenizers/llama3", "unicode", true, false},
		{"qwen2.5", "testdata/tokenizers/qwen2.5", "tool_call_roundtrip", true, true},
		{"qwen2.5", "testdata/tokenizers/qwen2.5", "special_chars", false, false},
		{"named", "hf/chattemplate/testdata/models/named", "tool_call_roundtrip", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.conv, func(t *testing.T) {
			msgs, tools, expected, _ := goldenOutput(t, tc.model, tc.conv, tc.agp)
			if expected == nil {
				t.Fatal("golden case is an error case")
			}
			args := []string{"template", "--model", filepath.Join("..", "..", tc.dir), "--messages", writeTemp(t, "m.json", string(msgs))}
			if tc.agp {
				args = append(args, "--add-generation-prompt")
			}
			if tc.withTools {
				args = append(args, "--tools", writeTemp(t, "tools.json", string(tools)))
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			if stdout.String() != *expected {
				t.Fatalf("stdout differs from jinja2 golden:\n got %q\nwant %q", stdout.String(), *expected)
			}
		})
	}
}

func TestTemplateCommandNow(t *testing.T) {
	// Llama 3.2 prints strftime_now("%d %b %Y"); the goldens were rendered at 2024-12-05T13:07:09.
	msgs, _, expected, _ := goldenOutput(t, "llama3.2-jinja", "system_user", true)
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"testdata/tokenizers/llama3/tokenizer_config.json":               "tokenizer_config.json",
		"testdata/chat-templates/meta-llama-Llama-3.2-3B-Instruct.jinja": "chat_template.jinja",
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"template", "--model", dir, "--messages", writeTemp(t, "m.json", string(msgs)), "--add-generation-prompt", "--now", "2024-12-05T13:07:09"},
		strings.NewReader(""), &stdout, &stderr)
	if code != 0 || stdout.String() != *expected {
		t.Fatalf("exit %d stderr %q\n got %q\nwant %q", code, stderr.String(), stdout.String(), *expected)
	}
}

func TestTemplateCommandBadInput(t *testing.T) {
	invalid, _, _, wantErr := goldenOutput(t, "mistral", "invalid_order", false)
	if wantErr == nil {
		t.Fatal("golden invalid_order case for mistral should be an error")
	}
	good := `[{"role": "user", "content": "hi"}]`
	mistral := filepath.Join("..", "..", "testdata", "tokenizers", "mistral")
	tests := []struct {
		name    string
		args    func(t *testing.T) []string
		errPart string
	}{
		{"no flags", func(t *testing.T) []string { return nil }, "--model and --messages are required"},
		{"missing messages file", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", filepath.Join(t.TempDir(), "nope.json")}
		}, "read messages"},
		{"messages not an array", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", `{"role": "user"}`)}
		}, "must be a JSON array"},
		{"messages not JSON", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", `[{"role": `)}
		}, "decode JSON"},
		{"message not an object", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", `["hi"]`)}
		}, "message 0 is not a JSON object"},
		{"tools not an array", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", good), "--tools", writeTemp(t, "t.json", `{}`)}
		}, "tools must be a JSON array"},
		{"model without chat template", func(t *testing.T) []string {
			return []string{"--model", filepath.Join("..", "..", "testdata", "tokenizers", "gpt2"), "--messages", writeTemp(t, "m.json", good)}
		}, "has no chat template"},
		{"missing model dir", func(t *testing.T) []string {
			return []string{"--model", filepath.Join(t.TempDir(), "nope"), "--messages", writeTemp(t, "m.json", good)}
		}, "no such file"},
		{"template raises", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", string(invalid))}
		}, "chat template: " + *wantErr},
		{"template syntax error", func(t *testing.T) []string {
			return []string{"--model", writeTemp(t, "bad.jinja", "{% if %}"), "--messages", writeTemp(t, "m.json", good)}
		}, "syntax error"},
		{"bad --now", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", good), "--now", "yesterday"}
		}, "--now"},
		{"unknown template name", func(t *testing.T) []string {
			return []string{"--model", mistral, "--messages", writeTemp(t, "m.json", good), "--template-name", "tool_use"}
		}, "no template named"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"template"}, tc.args(t)...), strings.NewReader(""), &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.errPart) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.errPart)
			}
		})
	}
}
