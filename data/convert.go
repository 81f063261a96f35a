package data

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/preftune/preftune/atomicfile"
)

// Output formats of [Convert].
const (
	OutTRL               = "trl"                // {prompt, chosen, rejected} strings (JSON Lines)
	OutTRLConversational = "trl-conversational" // the same with message lists (JSON Lines)
	OutAlpaca            = "alpaca"             // LLaMA-Factory alpaca ranking/KTO rows (JSON array)
	OutShareGPT          = "sharegpt"           // LLaMA-Factory sharegpt ranking/KTO rows (JSON array)
	OutTokenized         = "jsonl-tokenized"    // {prompt,chosen,rejected}_input_ids (JSON Lines)
)

// OutFormats lists the output formats.
func OutFormats() []string {
	return []string{OutTRL, OutTRLConversational, OutAlpaca, OutShareGPT, OutTokenized}
}

// ConvertFile writes examples to path in the given format, atomically (a temporary
// file in the same directory, renamed over path once complete). tok is needed for
// jsonl-tokenized only.
func ConvertFile(path string, exs []Example, to string, tok *Tokenizer) (err error) {
	return WriteFileAtomic(path, func(w io.Writer) error { return Convert(w, exs, to, tok) })
}

// WriteFileAtomic writes path through fn atomically (package atomicfile: a temporary
// file in the same directory, synced and renamed over path once fn succeeded). When fn
// (or any step) fails, nothing is left behind and path keeps its old content.
func WriteFileAtomic(path string, fn func(w io.Writer) error) error {
	return atomicfile.Write(path, 0o644, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := fn(w); err != nil {
			return err
		}
		return w.Flush()
	})
}

// Convert writes examples in the given format. A row that cannot be expressed in it
// (a conversation in plain TRL, a listwise row in alpaca) is an error naming the row.
func Convert(w io.Writer, exs []Example, to string, tok *Tokenizer) error {
	array := to == OutAlpaca || to == OutShareGPT
	switch to {
	case OutTRL, OutTRLConversational, OutAlpaca, OutShareGPT:
	case OutTokenized:
		if tok == nil {
			return fmt.Errorf("--to %s needs a tokenizer", to)
		}
	default:
		return fmt.Errorf("unknown output format %q (expected %s)", to, strings.Join(OutFormats(), ", "))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if array {
		if _, err := io.WriteString(w, "[\n"); err != nil {
			return err
		}
	}
	for i := range exs {
		ex := &exs[i]
		var rec any
		var err error
		switch to {
		case OutTRL:
			rec, err = toTRL(ex, false)
		case OutTRLConversational:
			rec, err = toTRL(ex, true)
		case OutAlpaca:
			rec, err = toAlpaca(ex)
		case OutShareGPT:
			rec, err = toShareGPT(ex)
		case OutTokenized:
			rec, err = toTokenized(ex, tok)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ex.Where(), err)
		}
		if array && i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	if array {
		if _, err := io.WriteString(w, "]\n"); err != nil {
			return err
		}
	}
	return nil
}

// ordered keeps the JSON keys in a readable order.
type ordered []struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoHTML(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func marshalNoHTML(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}

func kv(pairs ...any) ordered {
	var o ordered
	for i := 0; i+1 < len(pairs); i += 2 {
		o = append(o, struct {
			k string
			v any
		}{pairs[i].(string), pairs[i+1]})
	}
	return o
}

// segOut renders a segment for TRL output: text, or messages (a text segment becomes
// one message with the given role when conversational output is asked for).
func segOut(ex *Example, s Segment, conv bool, role string) (any, error) {
	if !ex.Conversational {
		if conv {
			return []Message{{Role: role, Content: s.Text}}, nil
		}
		return s.Text, nil
	}
	if !conv {
		return nil, fmt.Errorf("conversational row: use --to trl-conversational")
	}
	if s.Messages == nil {
		return []Message{}, nil
	}
	return s.Messages, nil
}

func toTRL(ex *Example, conv bool) (any, error) {
	if ex.Kind == KindPretokenized {
		return kv("prompt_input_ids", ex.PromptIDs, "chosen_input_ids", ex.ChosenIDs, "rejected_input_ids", ex.RejectedIDs), nil
	}
	p, err := segOut(ex, ex.Prompt, conv, "user")
	if err != nil {
		return nil, err
	}
	switch ex.Kind {
	case KindPair:
		c, err := segOut(ex, ex.Chosen, conv, "assistant")
		if err != nil {
			return nil, err
		}
		r, _ := segOut(ex, ex.Rejected, conv, "assistant")
		return kv("prompt", p, "chosen", c, "rejected", r), nil
	case KindUnpaired:
		c, err := segOut(ex, ex.Completion, conv, "assistant")
		if err != nil {
			return nil, err
		}
		return kv("prompt", p, "completion", c, "label", ex.Label), nil
	default:
		var rs []any
		for _, s := range ex.Responses {
			r, err := segOut(ex, s, conv, "assistant")
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
		return kv("prompt", p, "responses", rs, "scores", ex.Scores), nil
	}
}

// lfParts splits a prompt into system, history pairs and the final user query, for
// alpaca output.
func lfParts(ex *Example) (system string, history [][2]string, query string, err error) {
	if !ex.Conversational {
		return "", nil, ex.Prompt.Text, nil
	}
	ms := ex.Prompt.Messages
	if len(ms) > 0 && ms[0].Role == "system" {
		system, ms = ms[0].Content, ms[1:]
	}
	if len(ms)%2 != 1 {
		return "", nil, "", fmt.Errorf("prompt must be user/assistant turns ending with a user turn for alpaca")
	}
	for i := 0; i+1 < len(ms); i += 2 {
		if ms[i].Role != "user" || ms[i+1].Role != "assistant" {
			return "", nil, "", fmt.Errorf("prompt turn %d: alpaca history holds only user/assistant pairs", i+1)
		}
		history = append(history, [2]string{ms[i].Content, ms[i+1].Content})
	}
	if ms[len(ms)-1].Role != "user" {
		return "", nil, "", fmt.Errorf("prompt must end with a user turn for alpaca")
	}
	return system, history, ms[len(ms)-1].Content, nil
}

// oneTurn returns the single assistant message of a completion.
func oneTurn(ex *Example, s Segment) (string, error) {
	if !ex.Conversational {
		return s.Text, nil
	}
	if len(s.Messages) != 1 || s.Messages[0].Role != "assistant" {
		return "", fmt.Errorf("LLaMA-Factory rows need a single assistant message as completion, got %d messages", len(s.Messages))
	}
	return s.Messages[0].Content, nil
}

func toAlpaca(ex *Example) (any, error) {
	system, history, query, err := lfParts(ex)
	if err != nil {
		return nil, err
	}
	o := kv("instruction", query, "input", "")
	switch ex.Kind {
	case KindPair:
		c, err := oneTurn(ex, ex.Chosen)
		if err != nil {
			return nil, err
		}
		r, err := oneTurn(ex, ex.Rejected)
		if err != nil {
			return nil, err
		}
		o = append(o, kv("chosen", c, "rejected", r)...)
	case KindUnpaired:
		c, err := oneTurn(ex, ex.Completion)
		if err != nil {
			return nil, err
		}
		o = append(o, kv("output", c, "kto_tag", ex.Label)...)
	default:
		return nil, fmt.Errorf("%s rows have no alpaca form", ex.Kind)
	}
	if system != "" {
		o = append(o, kv("system", system)...)
	}
	if len(history) > 0 {
		o = append(o, kv("history", history)...)
	}
	return o, nil
}

var shareGPTTag = map[string]string{"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}

func shareGPTMsg(m Message) ordered { return kv("from", shareGPTTag[m.Role], "value", m.Content) }

func toShareGPT(ex *Example) (any, error) {
	var conv []ordered
	if ex.Conversational {
		for _, m := range ex.Prompt.Messages {
			conv = append(conv, shareGPTMsg(m))
		}
	} else {
		conv = append(conv, shareGPTMsg(Message{Role: "user", Content: ex.Prompt.Text}))
	}
	if conv == nil {
		conv = []ordered{}
	}
	switch ex.Kind {
	case KindPair:
		c, err := oneTurn(ex, ex.Chosen)
		if err != nil {
			return nil, err
		}
		r, err := oneTurn(ex, ex.Rejected)
		if err != nil {
			return nil, err
		}
		return kv("conversations", conv, "chosen", shareGPTMsg(Message{Role: "assistant", Content: c}),
			"rejected", shareGPTMsg(Message{Role: "assistant", Content: r})), nil
	case KindUnpaired:
		c, err := oneTurn(ex, ex.Completion)
		if err != nil {
			return nil, err
		}
		conv = append(conv, shareGPTMsg(Message{Role: "assistant", Content: c}))
		return kv("conversations", conv, "kto_tag", ex.Label), nil
	}
	return nil, fmt.Errorf("%s rows have no sharegpt form", ex.Kind)
}

func toTokenized(ex *Example, tok *Tokenizer) (any, error) {
	if ex.Kind != KindPair && ex.Kind != KindPretokenized {
		return nil, fmt.Errorf("%s rows: jsonl-tokenized holds pairs only", ex.Kind)
	}
	tk, err := tok.Tokenize(ex)
	if err != nil {
		return nil, err
	}
	if drop, _, _ := tok.truncate(&tk); drop != "" {
		return nil, fmt.Errorf("%s", drop)
	}
	p := tk.Pair()
	return kv("prompt_input_ids", p.PromptIDs, "chosen_input_ids", p.ChosenIDs, "rejected_input_ids", p.RejectedIDs), nil
}
