package chattemplate

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
)

type filterFunc func(r *renderer, v any, args []any, kw *kwargs) (any, error)

// filters holds Jinja2's built-in filters (those a chat template can use) plus
// transformers' tojson override.
var filters map[string]filterFunc

func init() {
	filters = map[string]filterFunc{
		"abs":         filterAbs,
		"attr":        filterAttr,
		"batch":       filterBatch,
		"capitalize":  strFilter(pyCapitalize),
		"center":      filterCenter,
		"count":       filterLength,
		"d":           filterDefault,
		"default":     filterDefault,
		"dictsort":    filterDictsort,
		"e":           filterEscape,
		"escape":      filterEscape,
		"first":       filterFirst,
		"float":       filterFloat,
		"forceescape": filterEscape,
		"format":      filterFormat,
		"indent":      filterIndent,
		"int":         filterInt,
		"items":       filterItems,
		"join":        filterJoin,
		"last":        filterLast,
		"length":      filterLength,
		"list":        filterList,
		"lower":       strFilter(strings.ToLower),
		"map":         filterMap,
		"max":         minMax(false),
		"min":         minMax(true),
		"reject":      selectFilter(false, false),
		"rejectattr":  selectFilter(false, true),
		"replace":     filterReplace,
		"reverse":     filterReverse,
		"round":       filterRound,
		"safe":        func(_ *renderer, v any, args []any, kw *kwargs) (any, error) { return pyStr(v), nil },
		"select":      selectFilter(true, false),
		"selectattr":  selectFilter(true, true),
		"sort":        filterSort,
		"string":      func(_ *renderer, v any, args []any, kw *kwargs) (any, error) { return pyStr(v), nil },
		"sum":         filterSum,
		"title":       strFilter(jinjaTitle),
		"tojson":      filterToJSON,
		"trim":        filterTrim,
		"truncate":    filterTruncate,
		"unique":      filterUnique,
		"upper":       strFilter(strings.ToUpper),
		"wordcount":   filterWordcount,
	}
}

func (r *renderer) callFilter(f *filterExpr, v any, sc *scope) (any, error) {
	fn, ok := filters[f.name]
	if !ok {
		return nil, errorf("No filter named '%s' found.", f.name)
	}
	args, kw, err := r.evalArgs(&f.callArgs, sc)
	if err != nil {
		return nil, err
	}
	return fn(r, v, args, kw)
}

func strFilter(f func(string) string) filterFunc {
	return func(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
		if len(args) > 0 || kw.len() > 0 {
			return nil, errorf("filter takes no arguments")
		}
		return f(pyStr(v)), nil
	}
}

var jinjaTitleSplit = func(r rune) bool {
	return r == '-' || isPySpace(r) || r == '(' || r == '{' || r == '[' || r == '<'
}

// jinjaTitle is Jinja2's title filter: each word (split at whitespace, '-',
// and opening brackets) gets its first character upper-cased and the rest lower.
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if jinjaTitleSplit(r) {
			b.WriteRune(r)
			start = true
			continue
		}
		if start {
			b.WriteString(strings.ToUpper(string(r)))
			start = false
		} else {
			b.WriteString(strings.ToLower(string(r)))
		}
	}
	return b.String()
}

func filterAbs(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case int64:
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case *big.Int:
		return normInt(new(big.Int).Abs(x)), nil
	case float64:
		return math.Abs(x), nil
	case *undefined:
		return nil, x.err()
	}
	return nil, errorf("bad operand type for abs(): '%s'", typeName(v))
}

func filterAttr(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("attr", []string{"name"}, args, kw, nil)
	if err != nil {
		return nil, err
	}
	if err := requireArgs("attr", a, []string{"name"}); err != nil {
		return nil, err
	}
	name := pyStr(a[0])
	switch x := v.(type) {
	case *namespace:
		if val, ok := x.attrs.get(name); ok {
			return val, nil
		}
	case *loopContext:
		return x.attr(name), nil
	case *undefined:
		return nil, x.err()
	default:
		if val, ok := pyAttr(v, name); ok {
			return val, nil
		}
	}
	return &undefined{obj: v, hasObj: true, name: name}, nil
}

func filterBatch(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("batch", []string{"linecount", "fill_with"}, args, kw, map[string]any{"fill_with": nil})
	if err != nil {
		return nil, err
	}
	if err := requireArgs("batch", a, []string{"linecount", "fill_with"}); err != nil {
		return nil, err
	}
	n, err := argInt("batch", a[0])
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var out []any
	var tmp []any
	for _, it := range items {
		if len(tmp) == n {
			out = append(out, tmp)
			tmp = nil
		}
		tmp = append(tmp, it)
	}
	if len(tmp) > 0 {
		if a[1] != nil {
			for len(tmp) < n {
				tmp = append(tmp, a[1])
			}
		}
		out = append(out, tmp)
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func filterCenter(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("center", []string{"width"}, args, kw, map[string]any{"width": int64(80)})
	if err != nil {
		return nil, err
	}
	w, err := argInt("center", a[0])
	if err != nil {
		return nil, err
	}
	if err := checkLen(w); err != nil {
		return nil, err
	}
	return pad(pyStr(v), w, " ", 'c'), nil
}

func filterLength(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	n, err := pyLen(v)
	return int64(n), err
}

func filterDefault(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("default", []string{"default_value", "boolean"}, args, kw, map[string]any{"default_value": "", "boolean": false})
	if err != nil {
		return nil, err
	}
	if _, isUndef := v.(*undefined); isUndef || (truthy(a[1]) && !truthy(v)) {
		return a[0], nil
	}
	return v, nil
}

func ignoreCase(v any) any {
	if s, ok := v.(string); ok {
		return strings.ToLower(s)
	}
	return v
}

func filterDictsort(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("dictsort", []string{"case_sensitive", "by", "reverse"}, args, kw,
		map[string]any{"case_sensitive": false, "by": "key", "reverse": false})
	if err != nil {
		return nil, err
	}
	d, ok := v.(*Dict)
	if !ok {
		if u, ok := v.(*undefined); ok {
			return nil, u.err()
		}
		return nil, errorf("'%s' object has no attribute 'items'", typeName(v))
	}
	pos := 0
	switch a[1] {
	case "key":
	case "value":
		pos = 1
	default:
		return nil, errorf(`You can only sort by either "key" or "value"`)
	}
	items := d.items()
	caseSensitive := truthy(a[0])
	err = sortValues(items, func(it any) any {
		k := it.(Tuple)[pos]
		if !caseSensitive {
			k = ignoreCase(k)
		}
		return k
	}, truthy(a[2]))
	return items, err
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func filterEscape(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	return htmlEscape(pyStr(v)), nil
}

func filterFirst(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No first item, sequence was empty."}, nil
	}
	return items[0], nil
}

func filterLast(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No last item, sequence was empty."}, nil
	}
	return items[len(items)-1], nil
}

// pyParseFloat is Python's float(str).
func pyParseFloat(s string) (float64, bool) {
	t := strings.TrimFunc(s, isPySpace)
	if t == "" || strings.Contains(t, "__") || strings.HasPrefix(t, "_") || strings.HasSuffix(t, "_") {
		return 0, false
	}
	lower := strings.ToLower(strings.TrimLeft(t, "+-"))
	switch lower {
	case "inf", "infinity", "nan":
	default:
		if strings.ContainsAny(lower, "xpn") || strings.Contains(lower, "in") {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func filterFloat(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("float", []string{"default"}, args, kw, map[string]any{"default": 0.0})
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		if f, ok := pyParseFloat(x); ok {
			return f, nil
		}
	case *big.Int:
		return bigToFloat(x)
	default:
		if _, f, _, ok := asNumber(v); ok {
			return f, nil
		}
	}
	return a[0], nil
}

func filterInt(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("int", []string{"default", "base"}, args, kw, map[string]any{"default": int64(0), "base": int64(10)})
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		base, err := argInt("int", a[1])
		if err != nil {
			return nil, err
		}
		if n, ok := pyParseInt(x, base); ok {
			return n, nil
		}
		if n, ok := pyParseBigInt(x, base); ok {
			return checkBig(n)
		}
		if f, ok := pyParseFloat(x); ok {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, errorf("cannot convert float %s to integer", pyFloatRepr(f))
			}
			if i, ok := floatIntKey(math.Trunc(f)); ok {
				return normInt(i), nil
			}
			return int64(f), nil
		}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, errorf("cannot convert float %s to integer", pyFloatRepr(x))
		}
		if i, ok := floatIntKey(math.Trunc(x)); ok {
			return normInt(i), nil
		}
		return int64(x), nil
	case *big.Int:
		return x, nil
	default:
		if i, _, _, ok := asNumber(v); ok {
			return i, nil
		}
	}
	return a[0], nil
}

// pyParseInt is Python's int(s, base) for bases 0 and 2..36: surrounding
// whitespace, a sign, '_' between digits and (for bases 0, 2, 8, 16) a 0b/0o/0x
// prefix are accepted.
func pyParseInt(s string, base int) (int64, bool) {
	digits, base, neg, ok := pyIntDigits(s, base)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, base, 63)
	if err != nil {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// pyParseBigInt is pyParseInt for integers of any size.
func pyParseBigInt(s string, base int) (*big.Int, bool) {
	digits, base, neg, ok := pyIntDigits(s, base)
	if !ok || len(digits) > 4*maxIntDigits {
		return nil, false
	}
	for _, c := range digits { // SetString would also take a sign or a prefix
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return nil, false
		}
	}
	n, ok := new(big.Int).SetString(digits, base)
	if !ok {
		return nil, false
	}
	if neg {
		n.Neg(n)
	}
	return n, true
}

// pyIntDigits reduces a Python int literal string to its digits (lower case,
// no '_'), its base and its sign.
func pyIntDigits(s string, base int) (digits string, b int, neg, ok bool) {
	t := strings.ToLower(strings.TrimFunc(s, isPySpace))
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	prefixes := map[string]int{"0x": 16, "0o": 8, "0b": 2}
	if len(t) > 2 {
		if pb, ok := prefixes[t[:2]]; ok && (base == 0 || base == pb) {
			base = pb
			t = strings.TrimPrefix(t[2:], "_")
		}
	}
	if base == 0 {
		if len(t) > 1 && t[0] == '0' && strings.Trim(t, "0_") != "" {
			return "", 0, false, false
		}
		base = 10
	}
	if t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") || base < 2 || base > 36 {
		return "", 0, false, false
	}
	return strings.ReplaceAll(t, "_", ""), base, neg, true
}

func filterFormat(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	if len(args) > 0 && kw.len() > 0 {
		return nil, errorf("can't handle positional and keyword arguments at the same time")
	}
	if kw.len() > 0 {
		d := NewDict()
		for i, n := range kw.names {
			d.Set(n, kw.vals[i])
		}
		return percentFormat(pyStr(v), d)
	}
	return percentFormat(pyStr(v), Tuple(args))
}

func filterIndent(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("indent", []string{"width", "first", "blank"}, args, kw,
		map[string]any{"width": int64(4), "first": false, "blank": false})
	if err != nil {
		return nil, err
	}
	var indention string
	if s, ok := a[0].(string); ok {
		indention = s
	} else {
		w, err := argInt("indent", a[0])
		if err != nil {
			return nil, err
		}
		if err := checkLen(w); err != nil {
			return nil, err
		}
		indention = strings.Repeat(" ", max(w, 0))
	}
	s := pyStr(v) + "\n"
	lines := pySplitlines(s, false)
	if len(indention) > 0 && (len(lines)+1) > (maxStrLen-len(s))/len(indention) {
		return nil, errorf("string result too large (indent would exceed %d bytes)", maxStrLen)
	}
	var rv string
	if truthy(a[2]) {
		rv = strings.Join(lines, "\n"+indention)
	} else {
		rv = lines[0]
		if len(lines) > 1 {
			rest := make([]string, len(lines)-1)
			for i, l := range lines[1:] {
				if l != "" {
					l = indention + l
				}
				rest[i] = l
			}
			rv += "\n" + strings.Join(rest, "\n")
		}
	}
	if truthy(a[1]) {
		rv = indention + rv
	}
	return rv, nil
}

func filterItems(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	switch x := v.(type) {
	case *undefined:
		return []any{}, nil
	case *Dict:
		return x.items(), nil
	}
	return nil, errorf("Can only get item pairs from a mapping.")
}

// attrGetter is Jinja2's make_attrgetter: a dotted path of item lookups
// ("a.b", "0.name"); with a default, Undefined results become the default.
func attrGetter(attribute any, def any, post func(any) any) func(any) (any, error) {
	var parts []any
	switch a := attribute.(type) {
	case nil:
	case string:
		for _, p := range strings.Split(a, ".") {
			if n, err := strconv.ParseInt(p, 10, 64); err == nil && p != "" && (p[0] >= '0' && p[0] <= '9') {
				parts = append(parts, n)
			} else {
				parts = append(parts, p)
			}
		}
	default:
		parts = []any{a}
	}
	return func(item any) (any, error) {
		for _, p := range parts {
			var err error
			if item, err = getitem(item, p); err != nil {
				return nil, err
			}
			if _, isUndef := item.(*undefined); isUndef && def != nil {
				item = def
			}
		}
		if post != nil {
			item = post(item)
		}
		return item, nil
	}
}

func filterJoin(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("join", []string{"d", "attribute"}, args, kw, map[string]any{"d": "", "attribute": nil})
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get := attrGetter(a[1], nil, nil)
	parts := make([]string, len(items))
	for i, it := range items {
		if a[1] != nil {
			if it, err = get(it); err != nil {
				return nil, err
			}
		}
		parts[i] = pyStr(it)
	}
	sep := pyStr(a[0])
	if err := checkJoin(parts, sep); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

func filterList(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return append([]any{}, items...), nil
}

func filterMap(r *renderer, v any, args []any, kw *kwargs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var fn func(any) (any, error)
	if len(args) == 0 {
		attr, ok := kw.pop("attribute")
		if !ok {
			return nil, errorf("map requires a filter argument")
		}
		def, _ := kw.pop("default")
		if kw.len() > 0 {
			return nil, errorf("Unexpected keyword argument '%s'", kw.names[0])
		}
		fn = attrGetter(attr, def, nil)
	} else {
		name, ok := args[0].(string)
		f, known := filters[name]
		if !ok || !known {
			return nil, errorf("No filter named '%s'.", pyStr(args[0]))
		}
		rest := args[1:]
		fn = func(it any) (any, error) { return f(r, it, rest, kw) }
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		m, err := fn(it)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func minMax(isMin bool) filterFunc {
	return func(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
		a, err := bind("min/max", []string{"case_sensitive", "attribute"}, args, kw, map[string]any{"case_sensitive": false, "attribute": nil})
		if err != nil {
			return nil, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return &undefined{hint: "No aggregated item, sequence was empty."}, nil
		}
		var post func(any) any
		if !truthy(a[0]) {
			post = ignoreCase
		}
		get := attrGetter(a[1], nil, post)
		best := items[0]
		bestKey, err := get(best)
		if err != nil {
			return nil, err
		}
		for _, it := range items[1:] {
			k, err := get(it)
			if err != nil {
				return nil, err
			}
			var c int
			if isMin {
				c, err = pyCompare(k, bestKey, "<")
			} else {
				c, err = pyCompare(bestKey, k, "<")
			}
			if err != nil {
				return nil, err
			}
			if c < 0 {
				best, bestKey = it, k
			}
		}
		return best, nil
	}
}

func selectFilter(keep, byAttr bool) filterFunc {
	return func(r *renderer, v any, args []any, kw *kwargs) (any, error) {
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		trans := func(x any) (any, error) { return x, nil }
		off := 0
		if byAttr {
			if len(args) == 0 {
				return nil, errorf("Missing parameter for attribute name")
			}
			trans = attrGetter(args[0], nil, nil)
			off = 1
		}
		check := func(x any) (bool, error) { return truthy(x), nil }
		if len(args) > off {
			name, _ := args[off].(string)
			t, ok := tests[name]
			if !ok {
				return nil, errorf("No test named '%s' found.", pyStr(args[off]))
			}
			rest := args[off+1:]
			check = func(x any) (bool, error) {
				res, err := t(r, x, rest, kw)
				return truthy(res), err
			}
		}
		out := []any{}
		for _, it := range items {
			x, err := trans(it)
			if err != nil {
				return nil, err
			}
			ok, err := check(x)
			if err != nil {
				return nil, err
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func filterReplace(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("replace", []string{"old", "new", "count"}, args, kw, map[string]any{"count": nil})
	if err != nil {
		return nil, err
	}
	if err := requireArgs("replace", a, []string{"old", "new", "count"}); err != nil {
		return nil, err
	}
	n := -1
	if a[2] != nil {
		if n, err = argInt("replace", a[2]); err != nil {
			return nil, err
		}
	}
	s, old, nw := pyStr(v), pyStr(a[0]), pyStr(a[1])
	if err := checkReplace(s, old, nw, n); err != nil {
		return nil, err
	}
	return strings.Replace(s, old, nw, n), nil
}

func filterReverse(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	if s, ok := v.(string); ok {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, errorf("argument must be iterable")
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

// pyRound is Python's round(x, ndigits) for floats: correctly rounded, ties to even.
func pyRound(x float64, ndigits int) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	if ndigits >= 0 {
		f, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', ndigits, 64), 64)
		return f
	}
	p := math.Pow(10, float64(-ndigits))
	return math.RoundToEven(x/p) * p
}

func filterRound(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("round", []string{"precision", "method"}, args, kw, map[string]any{"precision": int64(0), "method": "common"})
	if err != nil {
		return nil, err
	}
	prec, err := argInt("round", a[0])
	if err != nil {
		return nil, err
	}
	if b, isBig := v.(*big.Int); isBig {
		switch {
		case a[1] != "common":
			f, err := bigToFloat(b)
			if err != nil {
				return nil, err
			}
			v = f
		case prec >= 0:
			return b, nil
		default:
			p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(min(-prec, maxIntDigits+1))), nil)
			q, r := new(big.Int).QuoRem(b, p, new(big.Int))
			// round half to even on the quotient
			twice := new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2))
			if c := twice.Cmp(p); c > 0 || (c == 0 && q.Bit(0) == 1) {
				q.Add(q, big.NewInt(int64(b.Sign())))
			}
			return normInt(q.Mul(q, p)), nil
		}
	}
	i, f, isFloat, ok := asNumber(v)
	if !ok {
		if u, isU := v.(*undefined); isU {
			return nil, u.err()
		}
		return nil, errorf("type %s doesn't define __round__ method", typeName(v))
	}
	switch a[1] {
	case "common":
		if !isFloat {
			if prec >= 0 {
				return i, nil
			}
			return int64(pyRound(float64(i), prec)), nil
		}
		return pyRound(f, prec), nil
	case "ceil", "floor":
		p := math.Pow(10, float64(prec))
		if a[1] == "ceil" {
			return math.Ceil(f*p) / p, nil
		}
		return math.Floor(f*p) / p, nil
	}
	return nil, errorf("method must be common, ceil or floor")
}

func filterSort(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("sort", []string{"reverse", "case_sensitive", "attribute"}, args, kw,
		map[string]any{"reverse": false, "case_sensitive": false, "attribute": nil})
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	items = append([]any{}, items...)
	var post func(any) any
	if !truthy(a[1]) {
		post = ignoreCase
	}
	var getters []func(any) (any, error)
	if s, ok := a[2].(string); ok {
		for _, part := range strings.Split(s, ",") {
			getters = append(getters, attrGetter(part, nil, post))
		}
	} else {
		getters = append(getters, attrGetter(a[2], nil, post))
	}
	type keyed struct {
		key  any
		item any
	}
	ks := make([]any, len(items))
	for i, it := range items {
		k := make([]any, len(getters))
		for j, g := range getters {
			if k[j], err = g(it); err != nil {
				return nil, err
			}
		}
		ks[i] = &keyed{key: k, item: it}
	}
	if err := sortValues(ks, func(x any) any { return x.(*keyed).key }, truthy(a[0])); err != nil {
		return nil, err
	}
	out := make([]any, len(ks))
	for i, k := range ks {
		out[i] = k.(*keyed).item
	}
	return out, nil
}

func filterSum(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("sum", []string{"attribute", "start"}, args, kw, map[string]any{"attribute": nil, "start": int64(0)})
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get := attrGetter(a[0], nil, nil)
	total := a[1]
	for _, it := range items {
		if a[0] != nil {
			if it, err = get(it); err != nil {
				return nil, err
			}
		}
		if total, err = arith("+", total, it); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func filterToJSON(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("tojson", []string{"ensure_ascii", "indent", "separators", "sort_keys"}, args, kw,
		map[string]any{"ensure_ascii": false, "indent": nil, "separators": nil, "sort_keys": false})
	if err != nil {
		return nil, err
	}
	opts := jsonOptions{ensureASCII: truthy(a[0]), sortKeys: truthy(a[3]), itemSep: ", ", keySep: ": "}
	switch ind := a[1].(type) {
	case nil:
	case string:
		opts.indent, opts.hasIndent = ind, true
	default:
		n, err := argInt("tojson", ind)
		if err != nil {
			return nil, err
		}
		if err := checkLen(n); err != nil {
			return nil, err
		}
		opts.indent, opts.hasIndent = strings.Repeat(" ", max(n, 0)), true
		opts.itemSep = ","
	}
	if opts.hasIndent {
		opts.itemSep = ","
	}
	if a[2] != nil {
		seps, err := iterate(a[2])
		if err != nil || len(seps) != 2 {
			return nil, errorf("separators must be a (item_separator, key_separator) pair")
		}
		opts.itemSep, opts.keySep = pyStr(seps[0]), pyStr(seps[1])
	}
	return jsonDumps(v, opts)
}

func filterTrim(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("trim", []string{"chars"}, args, kw, map[string]any{"chars": nil})
	if err != nil {
		return nil, err
	}
	pred, err := stripChars("trim", a[0])
	if err != nil {
		return nil, err
	}
	return strings.TrimFunc(pyStr(v), pred), nil
}

func filterTruncate(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("truncate", []string{"length", "killwords", "end", "leeway"}, args, kw,
		map[string]any{"length": int64(255), "killwords": false, "end": "...", "leeway": int64(5)})
	if err != nil {
		return nil, err
	}
	s := []rune(pyStr(v))
	length, err := argInt("truncate", a[0])
	if err != nil {
		return nil, err
	}
	end := []rune(pyStr(a[2]))
	leeway, err := argInt("truncate", a[3])
	if err != nil {
		return nil, err
	}
	if length < len(end) {
		return nil, errorf("expected length >= %d, got %d", len(end), length)
	}
	if leeway < 0 {
		return nil, errorf("expected leeway >= 0, got %d", leeway)
	}
	if len(s) <= length+leeway {
		return string(s), nil
	}
	head := string(s[:length-len(end)])
	if truthy(a[1]) {
		return head + string(end), nil
	}
	if i := strings.LastIndex(head, " "); i >= 0 {
		head = head[:i]
	}
	return head + string(end), nil
}

func filterUnique(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	a, err := bind("unique", []string{"case_sensitive", "attribute"}, args, kw, map[string]any{"case_sensitive": false, "attribute": nil})
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var post func(any) any
	if !truthy(a[0]) {
		post = ignoreCase
	}
	get := attrGetter(a[1], nil, post)
	seen := map[string]bool{}
	out := []any{}
	for _, it := range items {
		k, err := get(it)
		if err != nil {
			return nil, err
		}
		h, err := hashKey(k)
		if err != nil {
			return nil, errorf("%v", err)
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, it)
		}
	}
	return out, nil
}

func filterWordcount(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
	n := 0
	in := false
	for _, r := range pyStr(v) {
		w := r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
		if w && !in {
			n++
		}
		in = w
	}
	return int64(n), nil
}

// ---- tests ----

type testFunc func(r *renderer, v any, args []any, kw *kwargs) (any, error)

var tests map[string]testFunc

func oneArgTest(name string, f func(v, other any) (bool, error)) testFunc {
	return func(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
		a, err := bind(name, []string{"other"}, args, kw, nil)
		if err != nil {
			return nil, err
		}
		if err := requireArgs(name, a, []string{"other"}); err != nil {
			return nil, err
		}
		return f(v, a[0])
	}
}

func plainTest(f func(v any) bool) testFunc {
	return func(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
		if len(args) > 0 || kw.len() > 0 {
			return nil, errorf("test takes no arguments")
		}
		return f(v), nil
	}
}

func cmpTest(op string) func(v, other any) (bool, error) {
	return func(v, other any) (bool, error) { return compare(op, v, other) }
}

func init() {
	isInt := func(v any) bool {
		switch v.(type) {
		case int64, *big.Int:
			return true
		}
		return false
	}
	tests = map[string]testFunc{
		"defined":   plainTest(func(v any) bool { _, u := v.(*undefined); return !u }),
		"undefined": plainTest(func(v any) bool { _, u := v.(*undefined); return u }),
		"none":      plainTest(func(v any) bool { return v == nil }),
		"boolean":   plainTest(func(v any) bool { _, ok := v.(bool); return ok }),
		"true":      plainTest(func(v any) bool { b, ok := v.(bool); return ok && b }),
		"false":     plainTest(func(v any) bool { b, ok := v.(bool); return ok && !b }),
		"integer":   plainTest(isInt),
		"float":     plainTest(func(v any) bool { _, ok := v.(float64); return ok }),
		"number":    plainTest(func(v any) bool { _, _, _, ok := numValue(v); return ok }),
		"string":    plainTest(func(v any) bool { _, ok := v.(string); return ok }),
		"mapping":   plainTest(func(v any) bool { _, ok := v.(*Dict); return ok }),
		"iterable": plainTest(func(v any) bool {
			switch v.(type) {
			case string, []any, Tuple, *Dict, *undefined:
				return true
			}
			return false
		}),
		"sequence": plainTest(func(v any) bool {
			switch v.(type) {
			case string, []any, Tuple, *Dict, *undefined:
				return true
			}
			return false
		}),
		"callable": plainTest(func(v any) bool {
			switch v.(type) {
			case *builtin, *macro, *undefined:
				return true
			}
			return false
		}),
		"escaped": plainTest(func(v any) bool { return false }),
		"lower": plainTest(func(v any) bool {
			res, _ := strMethod(pyStr(v), "islower")(nil, nil)
			return res.(bool)
		}),
		"upper": plainTest(func(v any) bool {
			res, _ := strMethod(pyStr(v), "isupper")(nil, nil)
			return res.(bool)
		}),
		"odd": func(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
			m, err := arith("%", v, int64(2))
			return err == nil && pyEq(m, int64(1)), err
		},
		"even": func(_ *renderer, v any, args []any, kw *kwargs) (any, error) {
			m, err := arith("%", v, int64(2))
			return err == nil && pyEq(m, int64(0)), err
		},
		"divisibleby": oneArgTest("divisibleby", func(v, n any) (bool, error) {
			m, err := arith("%", v, n)
			return err == nil && pyEq(m, int64(0)), err
		}),
		"sameas": oneArgTest("sameas", func(v, other any) (bool, error) {
			switch x := v.(type) {
			case nil, bool:
				return v == other, nil
			case int64:
				y, ok := other.(int64)
				return ok && x == y && x >= -5 && x <= 256, nil
			case string:
				y, ok := other.(string)
				return ok && x == y, nil
			case *Dict, *namespace, *macro, *undefined:
				return v == other, nil
			case []any:
				y, ok := other.([]any)
				return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0]), nil
			}
			return false, nil
		}),
		"in": oneArgTest("in", func(v, seq any) (bool, error) { return contains(seq, v) }),
		"filter": plainTest(func(v any) bool {
			s, ok := v.(string)
			_, known := filters[s]
			return ok && known
		}),
	}
	tests["test"] = plainTest(func(v any) bool {
		s, ok := v.(string)
		_, known := tests[s]
		return ok && known
	})
	for _, names := range [][]string{{"==", "eq", "equalto"}, {"!=", "ne"}, {">", "gt", "greaterthan"}, {">=", "ge"}, {"<", "lt", "lessthan"}, {"<=", "le"}} {
		for _, n := range names {
			tests[n] = oneArgTest(n, cmpTest(names[0]))
		}
	}
}
