package tokenizer

import (
	"encoding/json"
	"fmt"
)

// template is what a post-processor adds around a single sequence when special
// tokens are requested: prefix + ids + suffix.
type template struct {
	prefix, suffix []int
}

// then wraps t in the template applied after it (a post-processor Sequence).
func (t template) then(outer template) template {
	return template{
		prefix: append(append([]int{}, outer.prefix...), t.prefix...),
		suffix: append(append([]int{}, t.suffix...), outer.suffix...),
	}
}

// parsePostProcessor reads the single-sequence behaviour of a post-processor.
func parsePostProcessor(raw json.RawMessage, field string) (template, error) {
	var c struct {
		Processors    []json.RawMessage          `json:"processors"`
		Single        []map[string]templatePiece `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
		Sep []any `json:"sep"`
		Cls []any `json:"cls"`
	}
	typ, err := decodeComponent(raw, field, &c)
	if err != nil {
		return template{}, err
	}
	switch typ {
	case "ByteLevel": // only trims offsets
		return template{}, nil
	case "Sequence":
		var t template
		for i, sub := range c.Processors {
			inner, err := parsePostProcessor(sub, fmt.Sprintf("%s.processors[%d]", field, i))
			if err != nil {
				return template{}, err
			}
			t = t.then(inner)
		}
		return t, nil
	case "TemplateProcessing":
		var t template
		seen := false
		for i, item := range c.Single {
			if seq, ok := item["Sequence"]; ok {
				if seen {
					return template{}, fmt.Errorf("%s.single[%d]: a second sequence in a single template", field, i)
				}
				if seq.ID != "A" {
					return template{}, fmt.Errorf("%s.single[%d]: sequence %q in a single template", field, i, seq.ID)
				}
				seen = true
				continue
			}
			sp, ok := item["SpecialToken"]
			if !ok {
				return template{}, fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", field, i)
			}
			tok, ok := c.SpecialTokens[sp.ID]
			if !ok {
				return template{}, fmt.Errorf("%s.single[%d]: special token %q missing from special_tokens", field, i, sp.ID)
			}
			if seen {
				t.suffix = append(t.suffix, tok.IDs...)
			} else {
				t.prefix = append(t.prefix, tok.IDs...)
			}
		}
		if !seen {
			return template{}, fmt.Errorf("%s.single: no sequence $A", field)
		}
		return t, nil
	case "RobertaProcessing", "BertProcessing":
		cls, err := tokenPairID(c.Cls, field+".cls")
		if err != nil {
			return template{}, err
		}
		sep, err := tokenPairID(c.Sep, field+".sep")
		if err != nil {
			return template{}, err
		}
		return template{prefix: []int{cls}, suffix: []int{sep}}, nil
	}
	return template{}, fmt.Errorf("%s: unsupported post-processor type %q", field, typ)
}

type templatePiece struct {
	ID string `json:"id"`
}

// tokenPairID reads the id of a ["<s>", 0] pair.
func tokenPairID(pair []any, field string) (int, error) {
	if len(pair) != 2 {
		return 0, fmt.Errorf("%s: want [token, id]", field)
	}
	id, ok := pair[1].(float64)
	if !ok || id < 0 || id != float64(int(id)) {
		return 0, fmt.Errorf("%s: id %v is not a token id", field, pair[1])
	}
	return int(id), nil
}
