package judge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
	"io"
	"os"
	"strings"
)

// Generation is one row of a generation file.
type Generation struct {
	Prompt     string
	Completion string
	Ref        string // "reference" or "answer" field, "" if absent
	HasRef     bool
	File       string
	Row        int // line number
}

// ReadGenerationsFile reads a JSONL generation file.
func ReadGenerationsFile(path string) ([]Generation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadGenerations(f, path)
}

// ReadGenerations reads JSONL rows {"prompt": P, "completion": C} (or "output" for
// "completion"), with an optional "reference"/"answer" string. The prompt may be any JSON
// value (a chat message list, say); a non-string prompt is keyed and judged by its compact
// JSON text. A completion may also be a list of messages, whose "content" strings are
// concatenated. Other fields are ignored.
func ReadGenerations(r io.Reader, name string) ([]Generation, error) {
	var out []Generation
	err := eachObject(r, name, func(line int, obj map[string]json.RawMessage) error {
		g := Generation{File: name, Row: line}
		bad := func(field string, err error) error {
			return &rowerr.Error{Source: name, Row: line, Field: field, Err: err}
		}
		p, ok := obj["prompt"]
		if !ok || string(p) == "null" {
			return bad("prompt", errors.New("missing"))
		}
		g.Prompt = textOf(p)
		cField := "completion"
		c, hasC := obj["completion"]
		o, hasO := obj["output"]
		switch {
		case hasC && hasO:
			return bad("output", errors.New(`row has both "completion" and "output"; keep one`))
		case hasO:
			c, cField = o, "output"
		case !hasC:
			return bad("completion", errors.New(`missing (want "completion" or "output")`))
		}
		text, err := completionText(c)
		if err != nil {
			return bad(cField, err)
		}
		g.Completion = text
		ref, has, field, err := refOf(obj)
		if err != nil {
			return bad(field, err)
		}
		g.Ref, g.HasRef = ref, has
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no generations", name)
	}
	return out, nil
}

// ReadRefsFile reads a reference file: JSONL rows {"prompt": P, "reference"|"answer": R}.
// It returns prompt → reference; a prompt listed twice with different references is an error.
func ReadRefsFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadRefs(f, path)
}

// ReadRefs is ReadRefsFile on a reader; name is used in errors.
func ReadRefs(r io.Reader, name string) (map[string]string, error) {
	refs := map[string]string{}
	first := map[string]int{}
	err := eachObject(r, name, func(line int, obj map[string]json.RawMessage) error {
		p, ok := obj["prompt"]
		if !ok || string(p) == "null" {
			return &rowerr.Error{Source: name, Row: line, Field: "prompt", Err: errors.New("missing")}
		}
		ref, has, field, err := refOf(obj)
		if err != nil {
			return &rowerr.Error{Source: name, Row: line, Field: field, Err: err}
		}
		if !has {
			return &rowerr.Error{Source: name, Row: line, Field: "reference", Err: errors.New(`missing (want "reference" or "answer")`)}
		}
		key := textOf(p)
		if old, dup := refs[key]; dup && old != ref {
			return &rowerr.Error{Source: name, Row: line, Field: field, Err: fmt.Errorf("prompt already has a different reference at line %d", first[key])}
		}
		refs[key] = ref
		if _, seen := first[key]; !seen {
			first[key] = line
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%s: no references", name)
	}
	return refs, nil
}

func eachObject(r io.Reader, name string, fn func(line int, obj map[string]json.RawMessage) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 256<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		if len(text) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil || obj == nil {
			msg := "not a JSON object"
			if err != nil {
				msg += ": " + err.Error()
			}
			return &rowerr.Error{Source: name, Row: line, Err: errors.New(msg)}
		}
		if err := fn(line, obj); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// textOf is a JSON string's value, or the compact JSON text of any other value.
func textOf(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

func completionText(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var msgs []struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &msgs); err == nil && len(msgs) > 0 {
		var b strings.Builder
		for k, m := range msgs {
			if m.Content == nil {
				return "", fmt.Errorf("message %d has no string \"content\"", k)
			}
			b.WriteString(*m.Content)
		}
		return b.String(), nil
	}
	return "", errors.New("must be a string or a list of {\"content\": ...} messages")
}

// refOf returns the row's "reference" or "answer" field (strings, or numbers by their text).
func refOf(obj map[string]json.RawMessage) (ref string, has bool, field string, err error) {
	r1, ok1 := obj["reference"]
	r2, ok2 := obj["answer"]
	ok1 = ok1 && string(r1) != "null"
	ok2 = ok2 && string(r2) != "null"
	if ok1 && ok2 {
		return "", false, "answer", errors.New(`row has both "reference" and "answer"; keep one`)
	}
	raw, field := r1, "reference"
	if ok2 {
		raw, field = r2, "answer"
	}
	if !ok1 && !ok2 {
		return "", false, "reference", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true, field, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true, field, nil
	}
	return "", false, field, errors.New("must be a string or a number")
}

// Pair is one prompt with both completions and its reference.
type Pair struct {
	Prompt string
	A, B   Generation
	Ref    string
	HasRef bool
}

// Align pairs the k-th occurrence of each prompt in a with the k-th occurrence in b, in a's
// order. Every row must find a partner. refs (may be nil) overrides the rows' own references;
// otherwise A's reference is used, then B's, and A and B disagreeing is an error.
func Align(a, b []Generation, refs map[string]string) ([]Pair, error) {
	byPrompt := map[string][]int{} // prompt → indexes into b, in order
	for k, g := range b {
		byPrompt[g.Prompt] = append(byPrompt[g.Prompt], k)
	}
	used := make([]bool, len(b))
	pairs := make([]Pair, 0, len(a))
	for _, ga := range a {
		queue := byPrompt[ga.Prompt]
		if len(queue) == 0 {
			what := "is not in"
			if countPrompt(a, ga.Prompt) > 1 {
				what = "occurs more often than in"
			}
			return nil, &rowerr.Error{Source: ga.File, Row: ga.Row, Field: "prompt", Err: fmt.Errorf("prompt %s %s %s", quoteShort(ga.Prompt), what, fileOf(b))}
		}
		gb := b[queue[0]]
		used[queue[0]] = true
		byPrompt[ga.Prompt] = queue[1:]
		p := Pair{Prompt: ga.Prompt, A: ga, B: gb}
		switch ref, ok := refs[ga.Prompt]; {
		case ok:
			p.Ref, p.HasRef = ref, true
		case ga.HasRef && gb.HasRef && ga.Ref != gb.Ref:
			return nil, &rowerr.Error{Source: gb.File, Row: gb.Row, Field: "reference", Err: fmt.Errorf("differs from the reference at %s:%d (%s vs %s)", ga.File, ga.Row, quoteShort(gb.Ref), quoteShort(ga.Ref))}
		case ga.HasRef:
			p.Ref, p.HasRef = ga.Ref, true
		case gb.HasRef:
			p.Ref, p.HasRef = gb.Ref, true
		}
		pairs = append(pairs, p)
	}
	for k, gb := range b {
		if !used[k] {
			what := "is not in"
			if countPrompt(a, gb.Prompt) > 0 {
				what = "occurs more often than in"
			}
			return nil, &rowerr.Error{Source: gb.File, Row: gb.Row, Field: "prompt", Err: fmt.Errorf("prompt %s %s %s", quoteShort(gb.Prompt), what, fileOf(a))}
		}
	}
	return pairs, nil
}

func countPrompt(gs []Generation, prompt string) int {
	n := 0
	for _, g := range gs {
		if g.Prompt == prompt {
			n++
		}
	}
	return n
}

func fileOf(gs []Generation) string {
	if len(gs) == 0 {
		return "the other file"
	}
	return gs[0].File
}

func quoteShort(s string) string {
	r := []rune(s)
	if len(r) > 60 {
		return fmt.Sprintf("%q…", string(r[:57]))
	}
	return fmt.Sprintf("%q", s)
}
