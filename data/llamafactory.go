package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// This file reads LLaMA-Factory datasets: the dataset_info.json registry
// (llamafactory/data/parser.py) and the alpaca and sharegpt row converters
// (llamafactory/data/converter.py), followed by the pairwise/feedback processors'
// row filter ("Dropped invalid example").

const registryFile = "dataset_info.json"

// LFAttr is one dataset_info.json entry, with LLaMA-Factory's defaults applied. An
// empty column or tag name means None (not used).
type LFAttr struct {
	Name       string
	FileName   string // relative to the dataset directory; a file or a folder
	Formatting string // alpaca or sharegpt
	Ranking    bool
	// HubURL is hf_hub_url: a Hugging Face Hub dataset repo, read (split Split,
	// default train) through Options.Hub instead of FileName.
	HubURL, Split string

	// columns
	Prompt, Query, Response, History, Messages, System, Tools string
	Images, Videos, Audios, Chosen, Rejected, KTOTag          string
	// sharegpt tags
	RoleTag, ContentTag, UserTag, AssistantTag, ObservationTag, FunctionTag, SystemTag string
}

// defaultLFAttr returns DatasetAttr's defaults (parser.py).
func defaultLFAttr(name string) LFAttr {
	return LFAttr{
		Name: name, Formatting: "alpaca",
		Prompt: "instruction", Query: "input", Response: "output", Messages: "conversations",
		RoleTag: "from", ContentTag: "value", UserTag: "human", AssistantTag: "gpt",
		ObservationTag: "observation", FunctionTag: "function_call", SystemTag: "system",
	}
}

// Registry is a parsed dataset_info.json.
type Registry struct {
	Path    string
	Dir     string
	Entries map[string]json.RawMessage
}

// LoadRegistry reads DIR/dataset_info.json.
func LoadRegistry(dir string) (*Registry, error) {
	path := filepath.Join(dir, registryFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset dir %s: %w", dir, err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	return &Registry{Path: path, Dir: dir, Entries: entries}, nil
}

// Names lists the registered dataset names, sorted.
func (g *Registry) Names() []string {
	ns := make([]string, 0, len(g.Entries))
	for n := range g.Entries {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Attr parses one entry as parser.py's DatasetAttr.join does: when "columns" (or
// "tags") is present, every column (tag) it does not name becomes None.
func (g *Registry) Attr(name string) (LFAttr, error) {
	raw, ok := g.Entries[name]
	if !ok {
		return LFAttr{}, fmt.Errorf("%s: no dataset named %q (registered: %s)", g.Path, name, strings.Join(g.Names(), ", "))
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		return LFAttr{}, fmt.Errorf("%s: dataset %q: expected an object: %w", g.Path, name, err)
	}
	a := defaultLFAttr(name)
	bad := func(field, want string, v any) error {
		return fmt.Errorf("%s: dataset %q: %s: expected %s, got %s", g.Path, name, field, want, describe(v))
	}
	if hub, err := lfHubAttr(e, &a, bad); err != nil {
		return LFAttr{}, err
	} else if !hub {
		for _, remote := range []string{"ms_hub_url", "om_hub_url", "script_url", "cloud_file_name"} {
			if v, ok := e[remote]; ok && v != nil {
				return LFAttr{}, fmt.Errorf("%s: dataset %q is remote (%s %v): preftune reads local files and Hugging Face Hub repos (hf_hub_url) only; download it and register it with file_name", g.Path, name, remote, v)
			}
		}
		fn, ok := e["file_name"].(string)
		if !ok || fn == "" {
			return LFAttr{}, bad("file_name", "a file or folder name", e["file_name"])
		}
		a.FileName = fn
	}
	if v, ok := e["formatting"]; ok && v != nil {
		s, ok := v.(string)
		if !ok || (s != "alpaca" && s != "sharegpt") {
			return LFAttr{}, bad("formatting", `"alpaca" or "sharegpt"`, v)
		}
		a.Formatting = s
	}
	if v, ok := e["ranking"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return LFAttr{}, bad("ranking", "a boolean", v)
		}
		a.Ranking = b
	}
	strMap := func(key string, dsts map[string]*string) error {
		v, ok := e[key]
		if !ok {
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return bad(key, "an object", v)
		}
		for k, dst := range dsts {
			switch x := m[k].(type) {
			case nil:
				*dst = "" // None
			case string:
				*dst = x
			default:
				return bad(key+"."+k, "a string", x)
			}
		}
		return nil
	}
	if err := strMap("columns", map[string]*string{
		"prompt": &a.Prompt, "query": &a.Query, "response": &a.Response, "history": &a.History,
		"messages": &a.Messages, "system": &a.System, "tools": &a.Tools, "images": &a.Images,
		"videos": &a.Videos, "audios": &a.Audios, "chosen": &a.Chosen, "rejected": &a.Rejected, "kto_tag": &a.KTOTag,
	}); err != nil {
		return LFAttr{}, err
	}
	if a.Formatting == "sharegpt" {
		if err := strMap("tags", map[string]*string{
			"role_tag": &a.RoleTag, "content_tag": &a.ContentTag, "user_tag": &a.UserTag, "assistant_tag": &a.AssistantTag,
			"observation_tag": &a.ObservationTag, "function_tag": &a.FunctionTag, "system_tag": &a.SystemTag,
		}); err != nil {
			return LFAttr{}, err
		}
	}
	return a, nil
}

// entryForFile finds the registry entry whose file_name is base, if any.
func (g *Registry) entryForFile(base string) (LFAttr, bool) {
	for _, n := range g.Names() {
		a, err := g.Attr(n)
		if err == nil && filepath.Clean(a.FileName) == base {
			return a, true
		}
	}
	return LFAttr{}, false
}

// guessLFAttr builds the attributes for a LLaMA-Factory file read without a registry
// entry, from the keys of its first row: LLaMA-Factory's defaults, plus the system,
// history and tools columns, and role/content tags when the first message has them.
func guessLFAttr(formatting string, fields map[string]any) LFAttr {
	a := defaultLFAttr("")
	a.Formatting = formatting
	_, hasC := fields["chosen"]
	_, hasR := fields["rejected"]
	a.Ranking = hasC && hasR
	if a.Ranking {
		a.Chosen, a.Rejected = "chosen", "rejected"
	}
	for _, k := range []string{"kto_tag", "label"} {
		if _, ok := fields[k]; ok && !a.Ranking {
			a.KTOTag = k
			break
		}
	}
	// Optional columns are looked up in every row (a missing one reads as None), since
	// the first row need not have them.
	a.System, a.Tools = "system", "tools"
	if formatting == "alpaca" {
		a.History = "history"
		return a
	}
	if _, ok := fields["conversations"]; !ok {
		if _, ok := fields["messages"]; ok {
			a.Messages = "messages"
		}
	}
	if l, ok := fields[a.Messages].([]any); ok && len(l) > 0 {
		if m, ok := l[0].(map[string]any); ok {
			if _, ok := m["role"]; ok {
				// The OpenAI-style tags of LLaMA-Factory's data/README.md.
				a.RoleTag, a.ContentTag, a.UserTag, a.AssistantTag, a.SystemTag = "role", "content", "user", "assistant", "system"
				a.ObservationTag, a.FunctionTag = "tool", "function_call"
			}
		}
	}
	return a
}

// lfRole is the role our messages use for a LLaMA-Factory role.
func lfRole(a *LFAttr, tag string) string {
	switch tag {
	case a.UserTag:
		return "user"
	case a.AssistantTag, a.FunctionTag: // a function call is an assistant turn
		return "assistant"
	case a.ObservationTag:
		return "tool"
	case a.SystemTag:
		return "system"
	}
	return ""
}

// lfString reads a column that LLaMA-Factory indexes directly: a missing column reads
// as None.
func lfValue(r *row, col string) any {
	if col == "" {
		return nil
	}
	return r.fields[col]
}

// lfTruthy is Python truthiness for a JSON value.
func lfTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case bool:
		return x
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	if f, ok := asFloat(v); ok {
		return f != 0
	}
	return true
}

// lfDrop records a row LLaMA-Factory would skip.
func lfDrop(is *issues, field, format string, args ...any) {
	is.add(Dropped, fieldErr(ErrDropped, field, "dropped (as LLaMA-Factory drops it): "+format, args...))
}

// lfCommon reads the system, tools and media columns shared by both converters.
func lfCommon(a *LFAttr, r *row, ex *Example, is *issues) (system string, ok bool) {
	if v := lfValue(r, a.System); v != nil {
		s, isStr := v.(string)
		if !isStr {
			is.add(Invalid, fieldErr(ErrWrongType, a.System, "expected a string, got %s", describe(v)))
			return "", false
		}
		system = s
	}
	if v := lfValue(r, a.Tools); v != nil {
		switch x := v.(type) {
		case string:
			ex.Tools = x
		case rawJSON: // the file's text, key order kept
			ex.Tools = string(x)
		default:
			b, _ := json.Marshal(x)
			ex.Tools = string(b)
		}
	}
	for _, c := range []string{a.Images, a.Videos, a.Audios} {
		if v := lfValue(r, c); lfTruthy(v) {
			is.add(Invalid, fieldErr(ErrInvalidValue, c, "multimodal rows are not supported"))
			return "", false
		}
	}
	return system, true
}

// convertAlpaca is AlpacaDatasetConverter followed by the pairwise/feedback filter.
func convertAlpaca(a *LFAttr, r *row, ex *Example, is *issues) {
	ex.Format, ex.Conversational = FormatAlpaca, true
	system, ok := lfCommon(a, r, ex, is)
	if !ok {
		return
	}
	var prompt []Message
	if system != "" {
		prompt = append(prompt, Message{Role: "system", Content: system})
	}
	if hv := lfValue(r, a.History); hv != nil {
		if hl, isList := hv.([]any); isList {
			for i, turn := range hl {
				at := fmt.Sprintf("%s[%d]", a.History, i)
				pair, isPair := turn.([]any)
				if !isPair || len(pair) != 2 {
					is.add(Invalid, fieldErr(ErrWrongType, at, "expected a [prompt, response] pair, got %s", describe(turn)))
					return
				}
				q, ok1 := pair[0].(string)
				ans, ok2 := pair[1].(string)
				if !ok1 || !ok2 {
					is.add(Invalid, fieldErr(ErrWrongType, at, "expected two strings"))
					return
				}
				prompt = append(prompt, Message{Role: "user", Content: q}, Message{Role: "assistant", Content: ans})
			}
		}
	}
	var query []string
	for _, c := range []string{a.Prompt, a.Query} {
		v := lfValue(r, c)
		if !lfTruthy(v) {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			is.add(Invalid, fieldErr(ErrWrongType, c, "expected a string, got %s", describe(v)))
			return
		}
		query = append(query, s)
	}
	prompt = append(prompt, Message{Role: "user", Content: strings.Join(query, "\n")}) // "prompt\nquery"
	ex.Prompt = Segment{Messages: prompt}

	if kv := lfValue(r, a.KTOTag); a.KTOTag != "" && isBool(kv) {
		resp, isStr := lfValue(r, a.Response).(string)
		if !isStr {
			is.add(Invalid, fieldErr(ErrWrongType, a.Response, "expected a string, got %s", describe(lfValue(r, a.Response))))
			return
		}
		ex.Kind, ex.Label = KindUnpaired, kv.(bool)
		ex.Completion = Segment{Messages: []Message{{Role: "assistant", Content: resp}}}
		if ex.Completion.IsEmpty() {
			is.add(Invalid, fieldErr(ErrEmpty, a.Response, "empty completion"))
		}
		return
	}
	if resp, isStr := lfValue(r, a.Response).(string); !a.Ranking && a.KTOTag == "" && isStr {
		// A supervised (SFT) row: instruction/input → output, for stage: sft.
		ex.Kind, ex.Label, ex.SFT = KindUnpaired, true, true
		ex.Completion = Segment{Messages: []Message{{Role: "assistant", Content: resp}}}
		if ex.Completion.IsEmpty() {
			is.add(Invalid, fieldErr(ErrEmpty, a.Response, "empty completion"))
		}
		return
	}
	c, cOK := lfValue(r, a.Chosen).(string)
	j, jOK := lfValue(r, a.Rejected).(string)
	if !a.Ranking || !cOK || !jOK {
		lfDrop(is, lfFirstNonString(a, r), "%s", lfNotPairReason(a, r))
		return
	}
	ex.Kind = KindPair
	ex.Chosen = Segment{Messages: []Message{{Role: "assistant", Content: c}}}
	ex.Rejected = Segment{Messages: []Message{{Role: "assistant", Content: j}}}
	finishPair(&row{fields: r.fields, source: map[string]string{"prompt": a.Prompt, "chosen": a.Chosen, "rejected": a.Rejected}}, ex, is)
}

func isBool(v any) bool { _, ok := v.(bool); return ok }

// lfNotPairReason explains why a row is not a pairwise example.
func lfNotPairReason(a *LFAttr, r *row) string {
	if !a.Ranking {
		if a.KTOTag != "" {
			return fmt.Sprintf("%s is %s, not a boolean", a.KTOTag, describe(lfValue(r, a.KTOTag)))
		}
		return "not a preference dataset (set \"ranking\": true, or a kto_tag column)"
	}
	for _, c := range []string{a.Chosen, a.Rejected} {
		if c == "" {
			return "the registry entry names no chosen/rejected columns"
		}
		if _, ok := lfValue(r, c).(string); !ok {
			return fmt.Sprintf("%s is %s, expected a string", c, describe(lfValue(r, c)))
		}
	}
	return "not a pairwise example"
}

func lfFirstNonString(a *LFAttr, r *row) string {
	if !a.Ranking {
		return a.KTOTag
	}
	for _, c := range []string{a.Chosen, a.Rejected} {
		if _, ok := lfValue(r, c).(string); !ok {
			return c
		}
	}
	return ""
}

// convertShareGPT is SharegptDatasetConverter followed by the pairwise/feedback filter.
func convertShareGPT(a *LFAttr, r *row, ex *Example, is *issues) {
	ex.Format, ex.Conversational = FormatShareGPT, true
	mv := lfValue(r, a.Messages)
	ml, isList := mv.([]any)
	if !isList {
		if mv == nil {
			is.add(Invalid, fieldErr(ErrMissingField, a.Messages, "missing field (row has: %s)", strings.Join(r.keys(), ", ")))
		} else {
			is.add(Invalid, fieldErr(ErrWrongType, a.Messages, "expected a list of messages, got %s", describe(mv)))
		}
		return
	}
	// Read every message's role and content first: LLaMA-Factory would crash on a
	// message without them, so they are invalid rather than dropped.
	type lfMsg struct{ role, content string }
	msgs := make([]lfMsg, len(ml))
	for i, e := range ml {
		at := fmt.Sprintf("%s[%d]", a.Messages, i)
		m, err := lfMessage(a, at, e, false)
		if err != nil {
			is.add(Invalid, err)
			return
		}
		msgs[i] = lfMsg{m[0], m[1]}
	}
	system := ""
	start := 0
	if a.SystemTag != "" && len(msgs) > 0 && msgs[0].role == a.SystemTag {
		system, start = msgs[0].content, 1
	} else if v := lfValue(r, a.System); v != nil {
		s, isStr := v.(string)
		if !isStr {
			is.add(Invalid, fieldErr(ErrWrongType, a.System, "expected a string, got %s", describe(v)))
			return
		}
		system = s
	}
	if _, ok := lfCommon(&LFAttr{Tools: a.Tools, Images: a.Images, Videos: a.Videos, Audios: a.Audios}, r, ex, is); !ok {
		return
	}
	odd := [2]string{a.UserTag, a.ObservationTag}
	even := [2]string{a.AssistantTag, a.FunctionTag}
	var aligned []Message
	for k, m := range msgs[start:] {
		accept := odd
		if k%2 == 1 {
			accept = even
		}
		if m.role == "" || (m.role != accept[0] && m.role != accept[1]) {
			lfDrop(is, fmt.Sprintf("%s[%d].%s", a.Messages, start+k, a.RoleTag),
				"invalid role tag %q at turn %d: %s must be %s", m.role, k+1, posName(k), tagList(accept))
			return
		}
		aligned = append(aligned, Message{Role: lfRole(a, m.role), Content: m.content, FunctionCall: m.role == a.FunctionTag})
	}
	if (!a.Ranking && len(aligned)%2 != 0) || (a.Ranking && len(aligned)%2 == 0) {
		want := "even (pairs of user/assistant turns)"
		if a.Ranking {
			want = "odd (the conversation must end with a user turn)"
		}
		lfDrop(is, a.Messages, "invalid message count %d: must be %s", len(aligned), want)
		return
	}
	var prompt []Message
	if system != "" {
		prompt = append(prompt, Message{Role: "system", Content: system})
	}
	if kv := lfValue(r, a.KTOTag); a.KTOTag != "" && isBool(kv) {
		if len(aligned) == 0 {
			lfDrop(is, a.Messages, "no messages")
			return
		}
		ex.Kind, ex.Label = KindUnpaired, kv.(bool)
		ex.Prompt = Segment{Messages: append(prompt, aligned[:len(aligned)-1]...)}
		ex.Completion = Segment{Messages: aligned[len(aligned)-1:]}
		if ex.Completion.IsEmpty() {
			is.add(Invalid, fieldErr(ErrEmpty, fmt.Sprintf("%s[%d]", a.Messages, len(msgs)-1), "empty completion"))
		}
		return
	}
	if !a.Ranking && a.KTOTag == "" && len(aligned) > 0 {
		// A supervised (SFT) conversation, for stage: sft: the last assistant turn is the
		// response (LLaMA-Factory's supervised processor also trains the earlier ones).
		ex.Kind, ex.Label, ex.SFT = KindUnpaired, true, true
		ex.Prompt = Segment{Messages: append(prompt, aligned[:len(aligned)-1]...)}
		ex.Completion = Segment{Messages: aligned[len(aligned)-1:]}
		if ex.Completion.IsEmpty() {
			is.add(Invalid, fieldErr(ErrEmpty, fmt.Sprintf("%s[%d]", a.Messages, len(msgs)-1), "empty completion"))
		}
		return
	}
	cm, cOK := lfValue(r, a.Chosen).(map[string]any)
	jm, jOK := lfValue(r, a.Rejected).(map[string]any)
	if !a.Ranking || !cOK || !jOK {
		field, reason := a.KTOTag, lfNotPairReason(a, r)
		if a.Ranking {
			for _, c := range []string{a.Chosen, a.Rejected} {
				if _, ok := lfValue(r, c).(map[string]any); !ok && c != "" {
					field, reason = c, fmt.Sprintf("%s is %s, expected a message object", c, describe(lfValue(r, c)))
					break
				}
			}
		}
		lfDrop(is, field, "%s", reason)
		return
	}
	ex.Kind = KindPair
	ex.Prompt = Segment{Messages: append(prompt, aligned...)}
	for _, side := range []struct {
		col string
		m   map[string]any
		dst *Segment
	}{{a.Chosen, cm, &ex.Chosen}, {a.Rejected, jm, &ex.Rejected}} {
		rc, err := lfMessage(a, side.col, side.m, true)
		if err != nil {
			is.add(Invalid, err)
			return
		}
		if rc[0] != even[0] && rc[0] != even[1] {
			is.add(Invalid, fieldErr(ErrBadRole, side.col+"."+a.RoleTag, "role %q: a response must be %s", rc[0], tagList(even)))
			return
		}
		*side.dst = Segment{Messages: []Message{{Role: lfRole(a, rc[0]), Content: rc[1], FunctionCall: rc[0] == a.FunctionTag}}}
	}
	finishPair(&row{fields: r.fields, source: map[string]string{"prompt": a.Messages, "chosen": a.Chosen, "rejected": a.Rejected}}, ex, is)
}

// lfMessage reads [role, content] from a sharegpt message object.
// With checkRole, a role outside the tags is an error (elsewhere the role-order check
// drops the row, as LLaMA-Factory does).
func lfMessage(a *LFAttr, at string, e any, checkRole bool) ([2]string, *RowError) {
	m, ok := e.(map[string]any)
	if !ok {
		return [2]string{}, fieldErr(ErrWrongType, at, "expected a message object {%s, %s}, got %s", a.RoleTag, a.ContentTag, describe(e))
	}
	var out [2]string
	for i, k := range []string{a.RoleTag, a.ContentTag} {
		v, present := m[k]
		if !present || v == nil {
			return out, fieldErr(ErrMissingField, at+"."+k, "missing field (message has: %s)", strings.Join(sortedKeys(m), ", "))
		}
		s, ok := v.(string)
		if !ok {
			return out, fieldErr(ErrWrongType, at+"."+k, "expected a string, got %s", describe(v))
		}
		out[i] = s
	}
	if checkRole && lfRole(a, out[0]) == "" {
		return out, fieldErr(ErrBadRole, at+"."+a.RoleTag, "unknown role %q (tags: user %q, assistant %q, observation %q, function %q, system %q)",
			out[0], a.UserTag, a.AssistantTag, a.ObservationTag, a.FunctionTag, a.SystemTag)
	}
	return out, nil
}

func posName(k int) string {
	if k%2 == 0 {
		return "odd positions"
	}
	return "even positions"
}

func tagList(tags [2]string) string {
	var ts []string
	for _, t := range tags {
		if t != "" {
			ts = append(ts, fmt.Sprintf("%q", t))
		}
	}
	return strings.Join(ts, " or ")
}
