package chattemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The goldens are produced by reference/chattemplate/render_goldens.py with
// Python's jinja2 configured like transformers; these tests only read them.

// repoRoot is the repository root relative to this package's directory.
var repoRoot = filepath.Join("..", "..")

type goldenModel struct {
	Dir    string `json:"dir"`
	Config string `json:"config"`
	Jinja  string `json:"jinja"`
}

type goldenCase struct {
	Model               string  `json:"model"`
	Conversation        string  `json:"conversation"`
	AddGenerationPrompt bool    `json:"add_generation_prompt"`
	Expected            *string `json:"expected"`
	Error               *string `json:"error"`
	ErrorType           string  `json:"error_type"`
}

type goldenFile struct {
	Now           string                 `json:"now"`
	Models        map[string]goldenModel `json:"models"`
	Conversations json.RawMessage        `json:"conversations"`
	Cases         []goldenCase           `json:"cases"`
}

func readGoldenFile(t *testing.T, name string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read goldens: %v (regenerate with python3 reference/chattemplate/render_goldens.py)", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return data
}

func fixedClock(t *testing.T, iso string) func() time.Time {
	t.Helper()
	now, err := time.Parse("2006-01-02T15:04:05", iso)
	if err != nil {
		t.Fatalf("golden clock %q: %v", iso, err)
	}
	return func() time.Time { return now }
}

// buildModelDir returns the model directory a golden model names: a committed
// directory, or a temporary one holding a tokenizer_config.json and a
// chat_template.jinja (the newer layout, where the .jinja file wins).
func buildModelDir(t *testing.T, m goldenModel) string {
	t.Helper()
	if m.Dir != "" {
		return filepath.Join(repoRoot, filepath.FromSlash(m.Dir))
	}
	dir := t.TempDir()
	for src, dst := range map[string]string{m.Config: "tokenizer_config.json", m.Jinja: "chat_template.jinja"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(src)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dictToMap turns an ordered dict of extra variables into RenderOptions.Extra.
func dictToMap(v any) map[string]any {
	d, ok := v.(*Dict)
	if !ok {
		return nil
	}
	out := map[string]any{}
	for i, k := range d.keys {
		out[k.(string)] = d.vals[i]
	}
	return out
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-40, 0)
	return fmt.Sprintf("first difference at byte %d:\n got: %q\nwant: %q", i, got[lo:min(i+60, len(got))], want[lo:min(i+60, len(want))])
}

func checkResult(t *testing.T, got string, err error, expected, wantErr *string) {
	t.Helper()
	switch {
	case wantErr != nil:
		if err == nil {
			t.Fatalf("rendered %q, want error containing %q", got, *wantErr)
		}
		if !strings.Contains(err.Error(), *wantErr) {
			t.Fatalf("error %q does not contain the reference message %q", err, *wantErr)
		}
	case err != nil:
		t.Fatalf("unexpected error: %v", err)
	case expected == nil:
		t.Fatalf("golden case has neither expected output nor error")
	case got != *expected:
		t.Fatalf("output differs from jinja2:\n%s", firstDiff(got, *expected))
	}
}

func TestGoldenModels(t *testing.T) {
	var gf goldenFile
	readGoldenFile(t, "goldens.json", &gf)
	convs, err := DecodeJSON(gf.Conversations)
	if err != nil {
		t.Fatal(err)
	}
	convDict := convs.(*Dict)
	clock := fixedClock(t, gf.Now)
	if len(gf.Cases) < 100 {
		t.Fatalf("only %d golden cases", len(gf.Cases))
	}
	templates := map[string]*Template{}
	for name, m := range gf.Models {
		tpl, err := Load(buildModelDir(t, m))
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		templates[name] = tpl
	}
	for _, c := range gf.Cases {
		t.Run(fmt.Sprintf("%s/%s/agp=%v", c.Model, c.Conversation, c.AddGenerationPrompt), func(t *testing.T) {
			tpl := templates[c.Model]
			if tpl == nil {
				t.Fatalf("unknown model %q", c.Model)
			}
			cv, ok := convDict.Get(c.Conversation)
			if !ok {
				t.Fatalf("unknown conversation %q", c.Conversation)
			}
			conv := cv.(*Dict)
			msgs, _ := conv.Get("messages")
			opts := RenderOptions{AddGenerationPrompt: c.AddGenerationPrompt, Now: clock}
			if tools, ok := conv.Get("tools"); ok {
				opts.Tools = tools.([]any)
			}
			if docs, ok := conv.Get("documents"); ok {
				opts.Documents = docs.([]any)
			}
			if extra, ok := conv.Get("extra"); ok {
				opts.Extra = dictToMap(extra)
			}
			got, err := tpl.RenderValues(msgs.([]any), opts)
			checkResult(t, got, err, c.Expected, c.Error)
		})
	}
}

type featureCase struct {
	Name      string          `json:"name"`
	Template  string          `json:"template"`
	Vars      json.RawMessage `json:"vars"`
	Expected  *string         `json:"expected"`
	Error     *string         `json:"error"`
	ErrorType string          `json:"error_type"`
}

// TestFeatures checks the Jinja feature table (filters, tests, loop controls,
// whitespace control, Python value printing, errors) against jinja2's output.
func TestFeatures(t *testing.T) {
	var ff struct {
		Now   string        `json:"now"`
		Cases []featureCase `json:"cases"`
	}
	readGoldenFile(t, "features.json", &ff)
	clock := fixedClock(t, ff.Now)
	for _, c := range ff.Cases {
		t.Run(c.Name, func(t *testing.T) {
			vars, err := DecodeJSON(c.Vars)
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := Parse(c.Template, nil)
			if err != nil {
				checkResult(t, "", err, c.Expected, c.Error)
				return
			}
			got, err := tpl.RenderValues(nil, RenderOptions{Extra: dictToMap(vars), Now: clock})
			checkResult(t, got, err, c.Expected, c.Error)
		})
	}
}
