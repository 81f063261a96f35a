package data

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// row is one record's fields during conversion. Fields are looked up by their
// canonical name; errors name them as the file does (after a column mapping).
type row struct {
	fields map[string]any
	source map[string]string // canonical name → column name in the file
}

// col returns the name of a field as the file spells it.
func (r *row) col(name string) string {
	if s, ok := r.source[name]; ok {
		return s
	}
	return name
}

// has reports whether the field is present and not null.
func (r *row) has(name string) bool {
	v, ok := r.fields[name]
	return ok && v != nil
}

// keys returns the row's field names as the file spells them, sorted.
func (r *row) keys() []string {
	ks := make([]string, 0, len(r.fields))
	for k := range r.fields {
		ks = append(ks, r.col(k))
	}
	sort.Strings(ks)
	return ks
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// required returns a present, non-null field or a missing-field error.
func (r *row) required(name string) (any, *RowError) {
	v, ok := r.fields[name]
	if !ok {
		return nil, fieldErr(ErrMissingField, r.col(name), "missing field (row has: %s)", strings.Join(r.keys(), ", "))
	}
	if v == nil {
		return nil, fieldErr(ErrMissingField, r.col(name), "field is null")
	}
	return v, nil
}

// str returns a required string field.
func (r *row) str(name string) (string, *RowError) {
	v, err := r.required(name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fieldErr(ErrWrongType, r.col(name), "expected a string, got %s", describe(v))
	}
	return s, nil
}

// describe names a JSON value's type, with a short excerpt.
func describe(v any) string {
	t := jsonTypeName(v)
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", excerpt(x, 40))
	case json.Number, bool, float64, int64:
		return fmt.Sprintf("%s %v", t, x)
	case []any:
		return fmt.Sprintf("array of %d", len(x))
	case map[string]any:
		return fmt.Sprintf("object with keys {%s}", strings.Join(sortedKeys(x), ", "))
	}
	return t
}

func excerpt(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// asInt converts a JSON or Parquet integer value.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case float32:
		f := float64(x)
		if f == math.Trunc(f) && math.Abs(f) < 1<<24 {
			return int64(f), true
		}
	}
	return 0, false
}

// asFloat converts a JSON or Parquet number.
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		f := float64(x)
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// isMessageList reports whether v looks like a conversation: a non-empty list whose
// first element is an object (TRL's is_conversational test).
func isMessageList(v any) bool {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return false
	}
	_, ok = l[0].(map[string]any)
	return ok
}
