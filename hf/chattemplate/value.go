package chattemplate

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The interpreter models Python values with these Go types:
//
//	None      nil
//	bool      bool
//	int       int64
//	float     float64
//	str       string
//	list      []any
//	tuple     Tuple
//	dict      *Dict (insertion ordered, like a Python dict)
//	Undefined *undefined
//
// plus a few interpreter objects (namespace, macro, loop, builtin functions).

// Tuple is a Python tuple. It prints as (a, b) and is JSON-encoded as an array.
type Tuple []any

// Dict is an insertion-ordered mapping, the interpreter's model of a Python dict.
// Keys set through the exported methods are strings; templates may also build
// dicts with int, float, bool, None or tuple keys.
type Dict struct {
	keys  []any
	vals  []any
	index map[string]int
}

// NewDict returns an empty Dict.
func NewDict() *Dict { return &Dict{index: map[string]int{}} }

// Len reports the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Set inserts or replaces key. A replaced key keeps its original position, as in Python.
func (d *Dict) Set(key string, value any) { _ = d.set(key, value) }

// Get returns the value stored under key.
func (d *Dict) Get(key string) (any, bool) { return d.get(key) }

// Keys returns the keys in insertion order, each formatted with Python's str().
func (d *Dict) Keys() []string {
	out := make([]string, len(d.keys))
	for i, k := range d.keys {
		out[i] = pyStr(k)
	}
	return out
}

// MarshalJSON encodes the dict as a JSON object in insertion order.
func (d *Dict) MarshalJSON() (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			lp, ok := p.(limitPanic)
			if !ok {
				panic(p)
			}
			data, err = nil, &TemplateError{Message: lp.msg}
		}
	}()
	v, err := fromGo(d)
	if err != nil {
		return nil, err
	}
	s, err := jsonDumps(v, jsonOptions{itemSep: ",", keySep: ":"})
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func (d *Dict) set(key, value any) error {
	h, err := hashKey(key)
	if err != nil {
		return err
	}
	if d.index == nil {
		d.index = map[string]int{}
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = value
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, value)
	return nil
}

func (d *Dict) get(key any) (any, bool) {
	if d == nil {
		return nil, false
	}
	h, err := hashKey(key)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

func (d *Dict) items() []any {
	out := make([]any, len(d.keys))
	for i := range d.keys {
		out[i] = Tuple{d.keys[i], d.vals[i]}
	}
	return out
}

func (d *Dict) copyDict() *Dict {
	c := &Dict{keys: append([]any(nil), d.keys...), vals: append([]any(nil), d.vals...), index: make(map[string]int, len(d.index))}
	for k, v := range d.index {
		c.index[k] = v
	}
	return c
}

// hashKey maps a hashable Python value to a string such that equal values
// (1 == 1.0 == True) collide, as they do in a Python dict.
func hashKey(k any) (string, error) {
	switch v := k.(type) {
	case nil:
		return "n", nil
	case bool:
		if v {
			return "i1", nil
		}
		return "i0", nil
	case int64:
		return "i" + strconv.FormatInt(v, 10), nil
	case *big.Int:
		return "i" + v.String(), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e18 {
			return "i" + strconv.FormatInt(int64(v), 10), nil
		}
		if i, ok := floatIntKey(v); ok {
			return "i" + i.String(), nil
		}
		return "f" + strconv.FormatFloat(v, 'g', -1, 64), nil
	case string:
		return "s" + v, nil
	case Tuple:
		var b strings.Builder
		b.WriteString("t(")
		for _, e := range v {
			h, err := hashKey(e)
			if err != nil {
				return "", err
			}
			b.WriteString(strconv.Itoa(len(h)))
			b.WriteByte(':')
			b.WriteString(h)
		}
		b.WriteByte(')')
		return b.String(), nil
	}
	return "", fmt.Errorf("unhashable type: '%s'", typeName(k))
}

// undefined is Jinja2's default Undefined: it prints as "", is falsy, iterates as
// empty, has length 0, and raises on every other use.
type undefined struct {
	name   any
	obj    any
	hasObj bool
	hint   string
}

func (u *undefined) message() string {
	if u.hint != "" {
		return u.hint
	}
	if !u.hasObj {
		return fmt.Sprintf("%s is undefined", pyRepr(u.name))
	}
	if s, ok := u.name.(string); ok {
		return fmt.Sprintf("%s has no attribute %s", pyRepr(objectTypeRepr(u.obj)), pyRepr(s))
	}
	return fmt.Sprintf("%s has no element %s", objectTypeRepr(u.obj), pyRepr(u.name))
}

func (u *undefined) err() error { return &TemplateError{Message: u.message()} }

func objectTypeRepr(v any) string {
	if v == nil {
		return "None"
	}
	return typeName(v) + " object"
}

// namespace is the object returned by namespace(): its attributes can be assigned
// from inner scopes with {% set ns.attr = ... %}.
type namespace struct{ attrs *Dict }

// typeName is the Python type name of v, as used in Python error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *undefined:
		return "Undefined"
	case *namespace:
		return "Namespace"
	case *macro:
		return "Macro"
	case *loopContext:
		return "LoopContext"
	case *builtin:
		return "builtin_function_or_method"
	}
	return fmt.Sprintf("%T", v)
}

// pyStr is Python's str(v); Undefined prints as the empty string, as Jinja2 does.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *undefined:
		return ""
	}
	return pyRepr(v)
}

// pyRepr is Python's repr(v).
func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	checkBuilder(b, "printed value")
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(pyFloatRepr(x))
	case string:
		writeStrRepr(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *Dict:
		b.WriteByte('{')
		for i := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, x.keys[i])
			b.WriteString(": ")
			writeRepr(b, x.vals[i])
		}
		b.WriteByte('}')
	case *undefined:
		b.WriteString("Undefined")
	case *namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.attrs)
		b.WriteByte('>')
	case *macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.name)
	case *builtin:
		fmt.Fprintf(b, "<built-in function %s>", x.name)
	case *loopContext:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index+1, len(x.items))
	default:
		fmt.Fprintf(b, "<%T>", v)
	}
}

// writeStrRepr writes a Python string literal the way repr() does.
func writeStrRepr(b *strings.Builder, s string) {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	b.WriteRune(quote)
	for _, c := range s {
		switch {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < ' ' || c == 0x7f:
			fmt.Fprintf(b, `\x%02x`, c)
		case c < 0x7f:
			b.WriteRune(c)
		case unicode.IsPrint(c):
			b.WriteRune(c)
		case c <= 0xff:
			fmt.Fprintf(b, `\x%02x`, c)
		case c <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, c)
		default:
			fmt.Fprintf(b, `\U%08x`, c)
		}
	}
	b.WriteRune(quote)
}

// pyFloatRepr formats f like Python's float.__repr__: the shortest digits that
// round-trip, positional for exponents in [-4, 16), scientific otherwise.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	ePos := strings.IndexByte(s, 'e')
	mant, expStr := s[:ePos], s[ePos+1:]
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	var out string
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			out = "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			out = digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			out = digits[:decpt] + "." + digits[decpt:]
		}
	} else {
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		e := decpt - 1
		sign := "+"
		if e < 0 {
			sign = "-"
			e = -e
		}
		es := strconv.Itoa(e)
		if len(es) < 2 {
			es = "0" + es
		}
		out += "e" + sign + es
	}
	if neg {
		return "-" + out
	}
	return out
}

// truthy is Python's bool(v).
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case Tuple:
		return len(x) > 0
	case *Dict:
		return x.Len() > 0
	case *undefined:
		return false
	}
	return true
}

// asNumber reports v as a number (bool counts as int, as in Python).
func asNumber(v any) (i int64, f float64, isFloat, ok bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, 1, false, true
		}
		return 0, 0, false, true
	case int64:
		return x, float64(x), false, true
	case float64:
		return 0, x, true, true
	}
	return 0, 0, false, false
}

// numCompare orders two numbers exactly, as Python does (ints of any size,
// floats); ok is false when either is not a number, or a float is NaN.
func numCompare(a, b any) (c int, ok bool) {
	ai, af, aFloat, aOK := numValue(a)
	bi, bf, bFloat, bOK := numValue(b)
	switch {
	case !aOK || !bOK:
		return 0, false
	case aFloat && bFloat:
		if math.IsNaN(af) || math.IsNaN(bf) {
			return 0, false
		}
		return cmpFloat(af, bf), true
	case aFloat:
		c, ok := cmpIntFloat(bi, af)
		return -c, ok
	case bFloat:
		return cmpIntFloat(ai, bf)
	}
	return ai.Cmp(bi), true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pyEq is Python's ==.
func pyEq(a, b any) bool {
	if _, ok := a.(*big.Int); ok {
		c, ok := numCompare(a, b)
		return ok && c == 0
	}
	if _, ok := b.(*big.Int); ok {
		c, ok := numCompare(a, b)
		return ok && c == 0
	}
	if ai, af, aFloat, ok := asNumber(a); ok {
		bi, bf, bFloat, ok := asNumber(b)
		switch {
		case !ok:
			return false
		case aFloat && bFloat:
			return af == bf
		case aFloat || bFloat:
			c, ok := numCompare(a, b) // exact, like Python (2**53 + 1 != 2.0**53)
			return ok && c == 0
		}
		return ai == bi
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && seqEq(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && seqEq(x, y)
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			yv, ok := y.get(k)
			if !ok || !pyEq(x.vals[i], yv) {
				return false
			}
		}
		return true
	case *undefined:
		_, ok := b.(*undefined)
		return ok
	}
	return a == b
}

func seqEq(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !pyEq(a[i], b[i]) {
			return false
		}
	}
	return true
}

// pyCompare is Python's ordering for <, <=, >, >=: it returns -1, 0 or 1.
func pyCompare(a, b any, op string) (int, error) {
	if ua, ok := a.(*undefined); ok {
		return 0, ua.err()
	}
	if ub, ok := b.(*undefined); ok {
		return 0, ub.err()
	}
	_, aBig := a.(*big.Int)
	_, bBig := b.(*big.Int)
	if aBig || bBig {
		if c, ok := numCompare(a, b); ok {
			return c, nil
		}
		if _, _, _, aNum := numValue(a); aNum {
			if _, _, _, bNum := numValue(b); bNum {
				return 0, nil // NaN: as for floats below
			}
		}
	}
	if ai, af, aFloat, ok := asNumber(a); ok {
		if bi, bf, bFloat, ok := asNumber(b); ok {
			if aFloat || bFloat {
				switch {
				case af < bf:
					return -1, nil
				case af > bf:
					return 1, nil
				}
				return 0, nil
			}
			switch {
			case ai < bi:
				return -1, nil
			case ai > bi:
				return 1, nil
			}
			return 0, nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			return seqCompare(x, y, op)
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return seqCompare(x, y, op)
		}
	}
	return 0, &TemplateError{Message: fmt.Sprintf("'%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))}
}

func seqCompare(a, b []any, op string) (int, error) {
	for i := 0; i < len(a) && i < len(b); i++ {
		if pyEq(a[i], b[i]) {
			continue
		}
		return pyCompare(a[i], b[i], op)
	}
	switch {
	case len(a) < len(b):
		return -1, nil
	case len(a) > len(b):
		return 1, nil
	}
	return 0, nil
}

// sortValues sorts vals in place with Python's ordering (stable), using key to
// extract the compared value. The first comparison error is returned.
func sortValues(vals []any, key func(any) any, reverse bool) error {
	var firstErr error
	sort.SliceStable(vals, func(i, j int) bool {
		a, b := key(vals[i]), key(vals[j])
		if reverse {
			a, b = b, a
		}
		c, err := pyCompare(a, b, "<")
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return c < 0
	})
	return firstErr
}

// pyLen is Python's len(v); Undefined has length 0.
func pyLen(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case []any:
		return len(x), nil
	case Tuple:
		return len(x), nil
	case *Dict:
		return x.Len(), nil
	case *undefined:
		return 0, nil
	case *namespace:
		return 0, &TemplateError{Message: "object of type 'Namespace' has no len()"}
	}
	return 0, &TemplateError{Message: fmt.Sprintf("object of type '%s' has no len()", typeName(v))}
}

// iterate is Python's list(iter(v)): strings yield characters, dicts their keys,
// Undefined nothing.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case Tuple:
		return []any(x), nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case *Dict:
		return append([]any(nil), x.keys...), nil
	case *undefined:
		return nil, nil
	}
	return nil, &TemplateError{Message: fmt.Sprintf("'%s' object is not iterable", typeName(v))}
}

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func isCased(r rune) bool { return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) }
