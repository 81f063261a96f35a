package rowerr

import (
	"errors"
	"testing"
)

func TestErrorMessage(t *testing.T) {
	kind := errors.New("missing field")
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{Source: "a.jsonl", Row: 3, Field: "chosen", Msg: "empty"}, "a.jsonl:3:chosen: empty"},
		{Error{Source: "a.jsonl", Row: 3, Err: kind}, "a.jsonl:3: missing field"},
		{Error{Source: "a.jsonl", Field: "header", Msg: "bad"}, "a.jsonl:header: bad"},
		{Error{Row: 2, Msg: "empty prompt"}, "row 2: empty prompt"},
		{Error{Msg: "x"}, "x"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.e, got, c.want)
		}
	}
	e := &Error{Source: "f", Row: 1, Err: kind}
	if !errors.Is(e, kind) {
		t.Error("errors.Is does not see the wrapped kind")
	}
}
