package chattemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Template is a parsed chat template, possibly a set of named templates (the
// list form of tokenizer_config.json's chat_template, or chat_template.jinja
// plus additional_chat_templates/*.jinja), together with the special-token
// variables (bos_token, eos_token, ...) the tokenizer exposes to it.
type Template struct {
	named   map[string]*compiled // nil for a single template
	single  *compiled
	context map[string]any // special tokens
}

type compiled struct {
	source string
	body   []node
}

// RenderOptions are the arguments of transformers' apply_chat_template besides
// the conversation.
type RenderOptions struct {
	// AddGenerationPrompt sets add_generation_prompt.
	AddGenerationPrompt bool
	// Tools is the tools list (JSON schemas); nil passes tools=None. A non-nil
	// Tools also selects the "tool_use" template of a named set.
	Tools []any
	// Documents is the documents list; nil passes documents=None.
	Documents []any
	// Extra holds additional template variables (apply_chat_template's
	// **kwargs); they override special tokens of the same name.
	Extra map[string]any
	// TemplateName picks a named template explicitly; empty chooses like
	// transformers ("tool_use" when tools are given and it exists, else "default").
	TemplateName string
	// Now is the clock behind strftime_now; nil means time.Now.
	Now func() time.Time
	// Timeout bounds the wall time of one render (a watchdog for runaway
	// templates); zero means DefaultTimeout, negative means no limit.
	Timeout time.Duration
}

// Parse compiles one template. specialTokens become template variables
// (e.g. "bos_token": "<s>").
func Parse(source string, specialTokens map[string]string) (*Template, error) {
	c, err := compile(source)
	if err != nil {
		return nil, err
	}
	ctx := map[string]any{}
	for k, v := range specialTokens {
		ctx[k] = v
	}
	return &Template{single: c, context: ctx}, nil
}

// ParseNamed compiles a set of named templates, as transformers keeps them when
// tokenizer_config.json lists several.
func ParseNamed(templates map[string]string, specialTokens map[string]string) (*Template, error) {
	t, err := Parse("", specialTokens)
	if err != nil {
		return nil, err
	}
	t.single = nil
	t.named = map[string]*compiled{}
	for name, src := range templates {
		c, err := compile(src)
		if err != nil {
			return nil, fmt.Errorf("template %q: %w", name, err)
		}
		t.named[name] = c
	}
	return t, nil
}

func compile(source string) (c *compiled, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, &TemplateError{Message: fmt.Sprintf("internal error while parsing: %v", p)}
		}
	}()
	body, err := parse(source)
	if err != nil {
		return nil, err
	}
	return &compiled{source: source, body: body}, nil
}

// Names lists the named templates (sorted); it is empty for a single template.
func (t *Template) Names() []string {
	names := make([]string, 0, len(t.named))
	for n := range t.named {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SpecialTokens returns the special-token variables the template sees.
func (t *Template) SpecialTokens() map[string]any {
	out := make(map[string]any, len(t.context))
	for k, v := range t.context {
		out[k] = v
	}
	return out
}

// Source returns the source of the template Render would use for opts.
func (t *Template) Source(opts RenderOptions) (string, error) {
	c, err := t.pick(opts)
	if err != nil {
		return "", err
	}
	return c.source, nil
}

// pick chooses the template like transformers' get_chat_template.
func (t *Template) pick(opts RenderOptions) (*compiled, error) {
	if t.named == nil {
		if opts.TemplateName != "" {
			return nil, fmt.Errorf("chat template: no template named %q (the model has a single template)", opts.TemplateName)
		}
		return t.single, nil
	}
	if opts.TemplateName != "" {
		if c, ok := t.named[opts.TemplateName]; ok {
			return c, nil
		}
		return nil, fmt.Errorf("chat template: no template named %q (available: %s)", opts.TemplateName, strings.Join(t.Names(), ", "))
	}
	if opts.Tools != nil {
		if c, ok := t.named["tool_use"]; ok {
			return c, nil
		}
	}
	if c, ok := t.named["default"]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("chat template: the model has multiple chat templates with no default specified; available template names are %s", strings.Join(t.Names(), ", "))
}

// Render renders a conversation given as Go maps. Go maps carry no key order, so
// their keys are visited sorted; use RenderValues with DecodeJSON values to keep a
// JSON document's key order (it matters for templates that print whole dicts).
func (t *Template) Render(messages []map[string]any, opts RenderOptions) (string, error) {
	vals := make([]any, len(messages))
	for i, m := range messages {
		vals[i] = m
	}
	return t.RenderValues(vals, opts)
}

// RenderValues renders a conversation whose messages may be *Dict (ordered),
// map[string]any or any JSON-marshalable value.
func (t *Template) RenderValues(messages []any, opts RenderOptions) (result string, err error) {
	defer func() {
		if p := recover(); p != nil {
			result, err = "", &TemplateError{Message: fmt.Sprintf("internal error while rendering: %v", p)}
		}
	}()
	c, err := t.pick(opts)
	if err != nil {
		return "", err
	}
	root := newScope(globals())
	for k, v := range t.context {
		root.set(k, v)
	}
	for k, v := range opts.Extra {
		switch k {
		case "messages", "tools", "documents", "add_generation_prompt":
			return "", fmt.Errorf("chat template: extra variable %q collides with an apply_chat_template argument", k)
		}
		cv, err := fromGo(v)
		if err != nil {
			return "", fmt.Errorf("chat template: variable %q: %w", k, err)
		}
		root.set(k, cv)
	}
	msgs, err := fromGo(messages)
	if err != nil {
		return "", fmt.Errorf("chat template: messages: %w", err)
	}
	if messages == nil {
		msgs = []any{}
	}
	root.set("messages", msgs)
	root.set("add_generation_prompt", opts.AddGenerationPrompt)
	root.set("tools", nil)
	if opts.Tools != nil {
		tools, err := fromGo(opts.Tools)
		if err != nil {
			return "", fmt.Errorf("chat template: tools: %w", err)
		}
		root.set("tools", tools)
	}
	root.set("documents", nil)
	if opts.Documents != nil {
		docs, err := fromGo(opts.Documents)
		if err != nil {
			return "", fmt.Errorf("chat template: documents: %w", err)
		}
		root.set("documents", docs)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var out strings.Builder
	r := &renderer{out: &out, now: now, timeout: opts.Timeout}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.timeout > 0 {
		r.deadline = watchdogClock().Add(r.timeout)
	}
	defer func() {
		if p := recover(); p != nil {
			lp, ok := p.(limitPanic)
			if !ok {
				panic(p)
			}
			result, err = "", &TemplateError{Message: lp.msg, Line: r.line}
		}
	}()
	if err := r.execBody(c.body, root); err != nil {
		if err == errBreak || err == errContinue {
			return "", &TemplateError{Message: "break/continue outside a loop"}
		}
		return "", err
	}
	return out.String(), nil
}

// ---- loading from a model directory ----

// Load reads a chat template from path: a model (tokenizer) directory, a
// tokenizer_config.json file, or a standalone .jinja file. In a directory,
// chat_template.jinja takes precedence over tokenizer_config.json's
// chat_template, and additional_chat_templates/<name>.jinja add named templates,
// as in transformers. Special tokens come from tokenizer_config.json and
// special_tokens_map.json.
func Load(path string) (*Template, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	if !info.IsDir() {
		if filepath.Base(path) == "tokenizer_config.json" {
			return Load(filepath.Dir(path))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("chat template: %w", err)
		}
		t, err := Parse(string(data), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return t, nil
	}
	special := map[string]any{}
	var single *string
	named := map[string]string{}
	isNamed := false

	cfgPath := filepath.Join(path, "tokenizer_config.json")
	if data, err := os.ReadFile(cfgPath); err == nil {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("chat template: parse %s: %w", cfgPath, err)
		}
		if err := readSpecialTokens(cfg, special); err != nil {
			return nil, fmt.Errorf("chat template: %s: %w", cfgPath, err)
		}
		if raw, ok := cfg["chat_template"]; ok && string(raw) != "null" {
			var s string
			var list []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			switch {
			case json.Unmarshal(raw, &s) == nil:
				single = &s
			case json.Unmarshal(raw, &list) == nil:
				isNamed = true
				for _, e := range list {
					named[e.Name] = e.Template
				}
			default:
				return nil, fmt.Errorf("chat template: %s: chat_template is neither a string nor a list of {name, template}", cfgPath)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	mapPath := filepath.Join(path, "special_tokens_map.json")
	if data, err := os.ReadFile(mapPath); err == nil {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("chat template: parse %s: %w", mapPath, err)
		}
		if err := readSpecialTokens(m, special); err != nil {
			return nil, fmt.Errorf("chat template: %s: %w", mapPath, err)
		}
	}
	jinjaPath := filepath.Join(path, "chat_template.jinja")
	if data, err := os.ReadFile(jinjaPath); err == nil {
		s := string(data)
		single, isNamed, named = &s, false, map[string]string{}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	extra, _ := filepath.Glob(filepath.Join(path, "additional_chat_templates", "*.jinja"))
	if len(extra) > 0 {
		if !isNamed {
			isNamed = true
			if single != nil {
				named["default"] = *single
			}
		}
		for _, f := range extra {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("chat template: %w", err)
			}
			named[strings.TrimSuffix(filepath.Base(f), ".jinja")] = string(data)
		}
	}
	var t *Template
	switch {
	case isNamed:
		t, err = ParseNamed(named, nil)
	case single != nil:
		t, err = Parse(*single, nil)
	default:
		return nil, fmt.Errorf("chat template: %s: %w: %s", path, ErrMissing, MissingHint)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.context = special
	return t, nil
}

var specialTokenKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// readSpecialTokens copies the special tokens of a tokenizer config into dst, as
// transformers' special_tokens_map: strings or AddedToken objects ({"content": ...});
// unset (null or empty) tokens are left out.
func readSpecialTokens(cfg map[string]json.RawMessage, dst map[string]any) error {
	for _, k := range specialTokenKeys {
		raw, ok := cfg[k]
		if !ok {
			continue
		}
		tok, err := tokenContent(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if tok == "" {
			delete(dst, k)
			continue
		}
		dst[k] = tok
	}
	if raw, ok := cfg["additional_special_tokens"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil && string(raw) != "null" {
			return fmt.Errorf("additional_special_tokens: %w", err)
		}
		var toks []any
		for _, e := range list {
			tok, err := tokenContent(e)
			if err != nil {
				return fmt.Errorf("additional_special_tokens: %w", err)
			}
			toks = append(toks, tok)
		}
		if len(toks) > 0 {
			dst["additional_special_tokens"] = toks
		} else {
			delete(dst, "additional_special_tokens")
		}
	}
	return nil
}

func tokenContent(raw json.RawMessage) (string, error) {
	if string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", fmt.Errorf("expected a string or an object with \"content\", got %s", string(raw))
	}
	return *obj.Content, nil
}

// ---- globals ----

const maxRange = 100000

func globals() *scope {
	g := newScope(nil)
	g.set("raise_exception", &builtin{name: "raise_exception", fn: func(_ *renderer, args []any, kw *kwargs) (any, error) {
		a, err := bind("raise_exception", []string{"message"}, args, kw, nil)
		if err != nil {
			return nil, err
		}
		if err := requireArgs("raise_exception", a, []string{"message"}); err != nil {
			return nil, err
		}
		return nil, &TemplateError{Message: pyStr(a[0]), Raised: true}
	}})
	g.set("strftime_now", &builtin{name: "strftime_now", fn: func(r *renderer, args []any, kw *kwargs) (any, error) {
		a, err := bind("strftime_now", []string{"format"}, args, kw, nil)
		if err != nil {
			return nil, err
		}
		if err := requireArgs("strftime_now", a, []string{"format"}); err != nil {
			return nil, err
		}
		f, err := argString("strftime_now", a[0])
		if err != nil {
			return nil, err
		}
		return strftime(r.now(), f), nil
	}})
	g.set("range", &builtin{name: "range", fn: func(_ *renderer, args []any, kw *kwargs) (any, error) {
		if kw.len() > 0 {
			return nil, errorf("range() takes no keyword arguments")
		}
		ints := make([]int64, len(args))
		for i, a := range args {
			n, _, isFloat, ok := asNumber(a)
			if !ok || isFloat {
				return nil, errorf("'%s' object cannot be interpreted as an integer", typeName(a))
			}
			ints[i] = n
		}
		var start, stop, step int64 = 0, 0, 1
		switch len(ints) {
		case 1:
			stop = ints[0]
		case 2:
			start, stop = ints[0], ints[1]
		case 3:
			start, stop, step = ints[0], ints[1], ints[2]
		default:
			return nil, errorf("range expected at most 3 arguments, got %d", len(ints))
		}
		if step == 0 {
			return nil, errorf("range() arg 3 must not be zero")
		}
		var out []any
		for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
			if len(out) >= maxRange {
				return nil, errorf("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)
			}
			out = append(out, i)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}})
	g.set("namespace", &builtin{name: "namespace", fn: func(_ *renderer, args []any, kw *kwargs) (any, error) {
		d, err := dictFromArgs(args, kw)
		if err != nil {
			return nil, err
		}
		return &namespace{attrs: d}, nil
	}})
	g.set("dict", &builtin{name: "dict", fn: func(_ *renderer, args []any, kw *kwargs) (any, error) {
		return dictFromArgs(args, kw)
	}})
	return g
}

func dictFromArgs(args []any, kw *kwargs) (*Dict, error) {
	d := NewDict()
	if len(args) > 1 {
		return nil, errorf("dict expected at most 1 argument, got %d", len(args))
	}
	if len(args) == 1 {
		switch src := args[0].(type) {
		case *Dict:
			d = src.copyDict()
		default:
			items, err := iterate(src)
			if err != nil {
				return nil, err
			}
			if err := checkLen(len(items)); err != nil { // the bound on a dict's size
				return nil, err
			}
			for _, it := range items {
				pair, err := iterate(it)
				if err != nil || len(pair) != 2 {
					return nil, errorf("dictionary update sequence element has wrong length")
				}
				if err := d.set(pair[0], pair[1]); err != nil {
					return nil, errorf("%v", err)
				}
			}
		}
	}
	if kw != nil {
		for i, n := range kw.names {
			d.Set(n, kw.vals[i])
		}
	}
	return d, nil
}
