package chattemplate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenLookup returns a golden case and its conversation from goldens.json.
func goldenLookup(t *testing.T, model, conv string, agp bool) (goldenCase, *Dict) {
	t.Helper()
	var gf goldenFile
	readGoldenFile(t, "goldens.json", &gf)
	convs, err := DecodeJSON(gf.Conversations)
	if err != nil {
		t.Fatal(err)
	}
	cv, _ := convs.(*Dict).Get(conv)
	for _, c := range gf.Cases {
		if c.Model == model && c.Conversation == conv && c.AddGenerationPrompt == agp {
			return c, cv.(*Dict)
		}
	}
	t.Fatalf("no golden %s/%s/%v", model, conv, agp)
	return goldenCase{}, nil
}

// TestRenderGoMaps checks the map-based API against jinja2 goldens for
// conversations whose output does not depend on key order.
func TestRenderGoMaps(t *testing.T) {
	tests := []struct {
		model, dir, conv string
		agp              bool
		msgs             []map[string]any
	}{
		{"mistral", "testdata/tokenizers/mistral", "multi_turn", true, []map[string]any{
			{"role": "user", "content": "Hi there"},
			{"role": "assistant", "content": "Hello! How can I help?"},
			{"role": "user", "content": "Tell me a joke."},
		}},
		{"llama3", "testdata/tokenizers/llama3", "assistant_last", false, []map[string]any{
			{"role": "user", "content": "Say yes."},
			{"content": "Yes.", "role": "assistant"},
		}},
		{"qwen2.5", "testdata/tokenizers/qwen2.5", "system_user", true, []map[string]any{
			{"role": "system", "content": "You are a concise assistant."},
			{"role": "user", "content": "What is 2+2?"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.model+"/"+tc.conv, func(t *testing.T) {
			c, _ := goldenLookup(t, tc.model, tc.conv, tc.agp)
			tpl, err := Load(filepath.Join(repoRoot, tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpl.Render(tc.msgs, RenderOptions{AddGenerationPrompt: tc.agp})
			checkResult(t, got, err, c.Expected, c.Error)
		})
	}
}

func TestTemplateSelection(t *testing.T) {
	named, err := Load(filepath.Join("testdata", "models", "named"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(named.Names(), ","); got != "default,tool_use" {
		t.Fatalf("Names() = %q", got)
	}
	split, err := Load(filepath.Join("testdata", "models", "split"))
	if err != nil {
		t.Fatal(err)
	}
	splitDefault, err := os.ReadFile(filepath.Join("testdata", "models", "split", "chat_template.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	splitTool, err := os.ReadFile(filepath.Join("testdata", "models", "split", "additional_chat_templates", "tool_use.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tpl  *Template
		opts RenderOptions
		want string // template source expected, or an error substring with wantErr
		err  bool
	}{
		{"split default without tools", split, RenderOptions{}, string(splitDefault), false},
		{"split tool_use with tools", split, RenderOptions{Tools: []any{}}, string(splitTool), false},
		{"split explicit name", split, RenderOptions{TemplateName: "tool_use"}, string(splitTool), false},
		{"split unknown name", split, RenderOptions{TemplateName: "nope"}, "no template named \"nope\"", true},
		{"named tool_use with tools", named, RenderOptions{Tools: []any{map[string]any{}}}, "[TOOLS]", false},
		{"named default", named, RenderOptions{}, "m.content | trim", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := tc.tpl.Source(tc.opts)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(src, tc.want) {
				t.Fatalf("selected template %q does not contain %q", src, tc.want)
			}
		})
	}
}

func TestLoadSpecialTokensAndErrors(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tokens := `{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ unk_token is defined }}|{{ additional_special_tokens }}`
	tests := []struct {
		name    string
		files   map[string]string
		want    string
		wantErr string
	}{
		{"AddedToken objects and nulls", map[string]string{"tokenizer_config.json": `{"bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>", "pad_token": null, "unk_token": "", "additional_special_tokens": [{"content": "<a>"}, "<b>"], "chat_template": "` + tokens + `"}`},
			"<s>|</s>||False|['<a>', '<b>']", ""},
		{"special_tokens_map.json overrides", map[string]string{
			"tokenizer_config.json":   `{"bos_token": "<s>", "eos_token": "</s>", "chat_template": "` + tokens + `"}`,
			"special_tokens_map.json": `{"eos_token": {"content": "<|eot|>"}, "pad_token": "<pad>"}`},
			"<s>|<|eot|>|<pad>|False|", ""},
		{"chat_template.jinja wins over config", map[string]string{
			"tokenizer_config.json": `{"eos_token": "E", "chat_template": "from config"}`,
			"chat_template.jinja":   "from file {{ eos_token }}\n"},
			"from file E", ""},
		{"jinja file without config", map[string]string{"chat_template.jinja": "x{{ bos_token }}y"}, "xy", ""},
		{"no template", map[string]string{"tokenizer_config.json": `{"bos_token": "<s>"}`}, "", "has no chat template"},
		{"bad config JSON", map[string]string{"tokenizer_config.json": `{`}, "", "parse"},
		{"bad chat_template type", map[string]string{"tokenizer_config.json": `{"chat_template": 3}`}, "", "neither a string nor a list"},
		{"bad token type", map[string]string{"tokenizer_config.json": `{"bos_token": 3, "chat_template": "x"}`}, "", "bos_token"},
		{"syntax error in template", map[string]string{"chat_template.jinja": "{% for %}"}, "", "syntax error"},
		{"named without default", map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}]}`}, "", "no default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, tc.files)
			tpl, err := Load(dir)
			var out string
			if err == nil {
				out, err = tpl.Render(nil, RenderOptions{})
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out != tc.want {
				t.Fatalf("got %q, want %q", out, tc.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, src string
		opts      RenderOptions
		want      string
		raised    bool
	}{
		{"raise_exception message", `{{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}`, RenderOptions{},
			"chat template: Conversation roles must alternate user/assistant/user/assistant/...", true},
		{"undefined attribute has a line", "\n\n{{ nope.attr }}", RenderOptions{}, "chat template: line 3: 'nope' is undefined", false},
		{"extra collides with messages", "x", RenderOptions{Extra: map[string]any{"messages": 1}}, "collides", false},
		{"recursion limit", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", RenderOptions{}, "maximum recursion depth exceeded", false},
		{"range limit", "{{ range(200000) | length }}", RenderOptions{}, "Range too big", false},
		{"unconvertible extra", "x", RenderOptions{Extra: map[string]any{"f": func() {}}}, "variable \"f\"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Parse(tc.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tpl.Render(nil, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var te *TemplateError
			if tc.raised && (!errors.As(err, &te) || !te.Raised) {
				t.Fatalf("err %v is not a raised *TemplateError", err)
			}
		})
	}
}

func TestParseNestingLimit(t *testing.T) {
	src := "{{ " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + " }}"
	if _, err := Parse(src, nil); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("err = %v", err)
	}
	src = strings.Repeat("{% if true %}", 5000)
	if _, err := Parse(src, nil); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeJSONAndGoValues(t *testing.T) {
	// Python: json.loads keeps key order and the int/float distinction;
	// str() of the result is what the template prints.
	tests := []struct {
		name string
		in   any
		want string // Python's str() of the equivalent value
	}{
		{"json order and numbers", jsonValue(t, `{"z": 1, "a": 1.0, "m": [1e2, -0, 3.25, null, true, "é"]}`), "{'z': 1, 'a': 1.0, 'm': [100.0, 0, 3.25, None, True, 'é']}"},
		{"go map sorted", map[string]any{"b": 1, "a": "x"}, "{'a': 'x', 'b': 1}"},
		{"go ints and floats", []any{1, int64(2), uint8(3), 2.5, float32(0.5)}, "[1, 2, 3, 2.5, 0.5]"},
		{"go struct via json", struct {
			B string `json:"b"`
			A int    `json:"a"`
		}{"x", 2}, "{'b': 'x', 'a': 2}"},
		{"tuple", Tuple{1, "a"}, "(1, 'a')"},
		{"nil slice", []string(nil), "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := fromGo(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := pyStr(v); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := DecodeJSON([]byte(`[1] 2`)); err == nil {
		t.Fatal("trailing data accepted")
	}
	d := NewDict()
	d.Set("b", 1)
	d.Set("a", []any{"x"})
	d.Set("b", 2)
	js, err := d.MarshalJSON()
	if err != nil || string(js) != `{"b":2,"a":["x"]}` {
		t.Fatalf("MarshalJSON = %s, %v", js, err)
	}
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestClockDefault checks that without RenderOptions.Now, strftime_now uses the
// current date.
func TestClockDefault(t *testing.T) {
	tpl, err := Parse(`{{ strftime_now("%Y-%m-%d") }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Format("2006-01-02")
	got, err := tpl.Render(nil, RenderOptions{})
	after := time.Now().Format("2006-01-02")
	if err != nil || (got != before && got != after) {
		t.Fatalf("got %q, %v; want %s", got, err, before)
	}
}

// FuzzTemplate checks that no template source or variable makes the
// interpreter panic or hang.
func FuzzTemplate(f *testing.F) {
	var ff struct {
		Cases []featureCase `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "features.json"))
	if err != nil {
		f.Fatal(err)
	}
	if err := jsonUnmarshal(data, &ff); err != nil {
		f.Fatal(err)
	}
	for _, c := range ff.Cases {
		f.Add(c.Template, string(c.Vars))
	}
	for _, name := range []string{"integers.json"} {
		var more struct {
			Cases []featureCase `json:"cases"`
		}
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		if err := jsonUnmarshal(data, &more); err != nil {
			f.Fatal(err)
		}
		for _, c := range more.Cases {
			f.Add(c.Template, string(c.Vars))
		}
	}
	// issue 16's memory bombs and the integer wrap-arounds
	f.Add("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "{}")
	f.Add("{% set ns = namespace(s=['x']) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "{}")
	f.Add("{{ 9223372036854775807 + 1 }}{{ 2**64 }}", "{}")
	f.Add("{% set s = 'x' * 1000 %}{{ ([s] * 1000) | tojson(indent=s) }}", `{"x": [1, {"a": null}]}`)
	// Smaller bounds while fuzzing: the fuzzer explores the interpreter's
	// logic, and a bomb that stops at 1 MiB instead of 64 MiB keeps each
	// exec fast and the worker's memory small on a shared machine.
	savedOut, savedStr, savedSeq, savedBuilt := maxOutputLen, maxStrLen, maxSeqLen, maxBuilt
	maxOutputLen, maxStrLen, maxSeqLen, maxBuilt = 1<<20, 1<<20, 1<<17, 16<<20
	f.Cleanup(func() { maxOutputLen, maxStrLen, maxSeqLen, maxBuilt = savedOut, savedStr, savedSeq, savedBuilt })
	f.Fuzz(func(t *testing.T, src, vars string) {
		if len(src) > 1<<14 || len(vars) > 1<<14 {
			return
		}
		tpl, err := Parse(src, map[string]string{"bos_token": "<s>"})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Parse(%q): %v", src, err)
			}
			return
		}
		extra := map[string]any{}
		if v, err := DecodeJSON([]byte(vars)); err == nil {
			if d, ok := v.(*Dict); ok {
				extra = dictToMap(d)
				for k := range extra {
					switch k {
					case "messages", "tools", "documents", "add_generation_prompt":
						delete(extra, k)
					}
				}
			}
		}
		// the watchdog: a second of wall time at most (the step, size and
		// concatenation bounds stop everything else)
		out, err := tpl.Render([]map[string]any{{"role": "user", "content": "hi"}}, RenderOptions{Extra: extra, Timeout: time.Second})
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("Render(%q, %q): %v", src, vars, err)
		}
		if !(len(out) <= maxOutputLen+maxStrLen) {
			t.Fatalf("Render(%q) returned %d bytes", src, len(out))
		}
	})
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
