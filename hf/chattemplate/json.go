package chattemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

type jsonOptions struct {
	ensureASCII bool
	sortKeys    bool
	hasIndent   bool
	indent      string
	itemSep     string
	keySep      string
}

// jsonDumps is Python's json.dumps(v, ensure_ascii=..., indent=..., separators=...,
// sort_keys=...), the function transformers installs as the tojson filter.
func jsonDumps(v any, opts jsonOptions) (string, error) {
	var b strings.Builder
	if err := writeJSON(&b, v, opts, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v any, o jsonOptions, level int) error {
	if b.Len() > maxStrLen || (o.hasIndent && len(o.indent)*(level+1) > maxStrLen) {
		return errorf("JSON output exceeds %d bytes", maxStrLen)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(jsonFloat(x))
	case string:
		writeJSONString(b, x, o.ensureASCII)
	case []any:
		return writeJSONArray(b, x, o, level)
	case Tuple:
		return writeJSONArray(b, x, o, level)
	case *Dict:
		if x.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		type kv struct {
			key string
			val any
		}
		entries := make([]kv, 0, x.Len())
		for i, k := range x.keys {
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case nil:
				ks = "null"
			case bool:
				ks = map[bool]string{true: "true", false: "false"}[kk]
			case int64:
				ks = strconv.FormatInt(kk, 10)
			case *big.Int:
				ks = kk.String()
			case float64:
				ks = jsonFloat(kk)
			default:
				return errorf("keys must be str, int, float, bool or None, not %s", typeName(k))
			}
			entries = append(entries, kv{ks, x.vals[i]})
		}
		if o.sortKeys {
			sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
		}
		b.WriteByte('{')
		nl := ""
		if o.hasIndent {
			nl = "\n" + strings.Repeat(o.indent, level+1)
			b.WriteString(nl)
		}
		for i, e := range entries {
			if i > 0 {
				b.WriteString(o.itemSep)
				b.WriteString(nl)
			}
			writeJSONString(b, e.key, o.ensureASCII)
			b.WriteString(o.keySep)
			if err := writeJSON(b, e.val, o, level+1); err != nil {
				return err
			}
		}
		if o.hasIndent {
			b.WriteString("\n" + strings.Repeat(o.indent, level))
		}
		b.WriteByte('}')
	default:
		return errorf("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func writeJSONArray(b *strings.Builder, items []any, o jsonOptions, level int) error {
	if len(items) == 0 {
		b.WriteString("[]")
		return nil
	}
	b.WriteByte('[')
	nl := ""
	if o.hasIndent {
		nl = "\n" + strings.Repeat(o.indent, level+1)
		b.WriteString(nl)
	}
	for i, it := range items {
		if i > 0 {
			b.WriteString(o.itemSep)
			b.WriteString(nl)
		}
		if err := writeJSON(b, it, o, level+1); err != nil {
			return err
		}
	}
	if o.hasIndent {
		b.WriteString("\n" + strings.Repeat(o.indent, level))
	}
	b.WriteByte(']')
	return nil
}

func jsonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloatRepr(f)
}

// writeJSONString quotes s as Python's json module does.
func writeJSONString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				fmt.Fprintf(b, `\u%04x`, r)
			case !ensureASCII || r < 0x7f:
				b.WriteRune(r)
			case r > 0xffff:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}

// DecodeJSON parses JSON into the values templates see, as Python's json.loads
// would: objects become *Dict with their key order kept, numbers with a
// fraction or exponent become float64 and the others int (int64, or a
// math/big integer beyond int64, up to Python's 4300 digits), arrays []any.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode JSON: unexpected data after the top-level value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("decode JSON: %w", err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("decode JSON: object key is %T", kt)
				}
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				d.Set(key, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("decode JSON: %w", err)
			}
			return d, nil
		case '[':
			out := []any{}
			for dec.More() {
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("decode JSON: %w", err)
			}
			return out, nil
		}
		return nil, fmt.Errorf("decode JSON: unexpected %v", t)
	case json.Number:
		return parseJSONNumber(t)
	default:
		return t, nil // string, bool, nil
	}
}

func parseJSONNumber(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if len(s) <= maxIntDigits+1 { // Python's json.loads refuses longer ints
			if b, ok := new(big.Int).SetString(s, 10); ok {
				return normInt(b), nil
			}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil
		}
		return nil, fmt.Errorf("decode JSON: bad number %q", s)
	}
	return f, nil
}

// fromGo converts a caller's Go value into the interpreter's value model.
// Go maps are visited in sorted key order (Go maps have no order); *Dict keeps
// its order. Structs and other types go through encoding/json.
func fromGo(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint:
		return uintValue(uint64(x)), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return uintValue(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		return parseJSONNumber(x)
	case json.RawMessage:
		return DecodeJSON(x)
	case *Dict:
		if x == nil {
			return nil, nil
		}
		d := NewDict()
		for i, k := range x.keys {
			val, err := fromGo(x.vals[i])
			if err != nil {
				return nil, err
			}
			if err := d.set(k, val); err != nil {
				return nil, err
			}
		}
		return d, nil
	case Tuple:
		out := make(Tuple, len(x))
		for i, e := range x {
			val, err := fromGo(e)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	case []any:
		return convertSlice(len(x), func(i int) any { return x[i] })
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := NewDict()
		for _, k := range keys {
			val, err := fromGo(x[k])
			if err != nil {
				return nil, err
			}
			d.Set(k, val)
		}
		return d, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		return convertSlice(rv.Len(), func(i int) any { return rv.Index(i).Interface() })
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			iter := rv.MapRange()
			for iter.Next() {
				m[iter.Key().String()] = iter.Value().Interface()
			}
			return fromGo(m)
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() != reflect.Struct {
			return fromGo(rv.Elem().Interface())
		}
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("convert %T for the template: %w", v, err)
	}
	return DecodeJSON(data)
}

func uintValue(u uint64) any {
	if u > math.MaxInt64 {
		return float64(u)
	}
	return int64(u)
}

func convertSlice(n int, at func(int) any) (any, error) {
	out := make([]any, n)
	for i := 0; i < n; i++ {
		val, err := fromGo(at(i))
		if err != nil {
			return nil, err
		}
		out[i] = val
	}
	return out, nil
}
