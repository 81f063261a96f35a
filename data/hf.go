package data

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/preftune/preftune/hf/chattemplate"
	"github.com/preftune/preftune/hf/tokenizer"
)

// LoadTokenizer reads a model directory's tokenizer.json and, when the directory has
// one, its chat template (chat_template.jinja or tokenizer_config.json's
// chat_template), and returns a Tokenizer using them.
func LoadTokenizer(dir string, opts TokenizeOptions) (*Tokenizer, error) {
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{Enc: tok, Opts: opts}
	if hasChatTemplate(dir) {
		tmpl, err := chattemplate.Load(dir)
		if err != nil {
			return nil, err
		}
		t.Chat = TemplateRenderer(tmpl)
	}
	return t, nil
}

// TemplateRenderer adapts a parsed chat template to ChatRenderer.
func TemplateRenderer(tmpl *chattemplate.Template) ChatRenderer {
	return ChatRendererFunc(func(m []map[string]any, gen bool, tools []any) (string, error) {
		return tmpl.Render(m, chattemplate.RenderOptions{AddGenerationPrompt: gen, Tools: tools})
	})
}

// hasChatTemplate reports whether a model directory carries a chat template.
func hasChatTemplate(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "chat_template.jinja")); err == nil {
		return true
	}
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return false
	}
	var cfg map[string]json.RawMessage
	if json.Unmarshal(b, &cfg) != nil {
		return false
	}
	v, ok := cfg["chat_template"]
	return ok && string(v) != "null"
}
