package data

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/preftune/preftune/hf/chattemplate"
)

// Tool calling (TRL dataset formats, "Tool calling"): a `tools` column (a list of JSON
// schemas, or that list as a JSON string) passed to the chat template as
// apply_chat_template(tools=...), and assistant messages with `tool_calls` instead of
// content, followed by `tool` messages. The chat template sees them as transformers
// passes them; dict key order is kept as in the file, since templates print the
// schemas and arguments with tojson.

// rawJSON is a JSON value kept as its text, so that its key order survives.
type rawJSON string

// keepToolOrder replaces, in a decoded JSON row, the values whose key order matters
// to chat templates by their raw text: the `tools` column and every message's
// `tool_calls`. encoding/json's maps forget the order; the raw text keeps it.
func keepToolOrder(b []byte, m map[string]any) {
	if !bytes.Contains(b, []byte(`"tools"`)) && !bytes.Contains(b, []byte(`"tool_calls"`)) {
		return
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		return
	}
	for k, rv := range raw {
		if k == "tools" {
			if t := bytes.TrimSpace(rv); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
				m[k] = rawJSON(t)
			}
			continue
		}
		var msgs []map[string]json.RawMessage
		list, ok := m[k].([]any)
		if !ok || json.Unmarshal(rv, &msgs) != nil || len(msgs) != len(list) {
			continue
		}
		for i, msg := range msgs {
			if tc, ok := msg["tool_calls"]; ok {
				if dm, ok := list[i].(map[string]any); ok && dm["tool_calls"] != nil {
					dm["tool_calls"] = rawJSON(bytes.TrimSpace(tc))
				}
			}
		}
	}
}

// toolCallsText returns a tool_calls value as JSON text (the file's, when kept).
func toolCallsText(field string, v any) (string, *RowError) {
	switch x := v.(type) {
	case rawJSON:
		return string(x), nil
	case []any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fieldErr(ErrInvalidValue, field, "%v", err)
		}
		return string(b), nil
	}
	return "", fieldErr(ErrWrongType, field, "expected a list of tool calls, got %s", describe(v))
}

// toolsText reads the `tools` column: a list (or its JSON string), as JSON text.
func toolsText(r *row) (string, *RowError) {
	v, ok := r.fields["tools"]
	if !ok || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case rawJSON:
		return string(x), nil
	case string:
		return x, nil
	case []any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fieldErr(ErrInvalidValue, r.col("tools"), "%v", err)
		}
		return string(b), nil
	}
	return "", fieldErr(ErrWrongType, r.col("tools"), "expected a list of tool schemas (or its JSON string), got %s", describe(v))
}

// decodeOrdered parses JSON text keeping object key order (chat-template values).
func decodeOrdered(s string) (any, error) {
	v, err := chattemplate.DecodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return v, nil
}
