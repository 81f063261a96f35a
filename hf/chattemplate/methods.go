package chattemplate

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lookupMethod returns obj.name bound as a callable, for the Python methods of
// str, dict, list and tuple that chat templates use; nil if there is none.
func lookupMethod(obj any, name string) *builtin {
	var fn func(args []any, kw *kwargs) (any, error)
	switch x := obj.(type) {
	case string:
		fn = strMethod(x, name)
	case *Dict:
		fn = dictMethod(x, name)
	case []any:
		fn = seqMethod(x, name, false)
	case Tuple:
		fn = seqMethod([]any(x), name, true)
	}
	if fn == nil {
		return nil
	}
	return &builtin{name: typeName(obj) + "." + name, fn: func(_ *renderer, args []any, kw *kwargs) (any, error) {
		return fn(args, kw)
	}}
}

func argString(fname string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errorf("%s() argument must be str, not %s", fname, typeName(v))
	}
	return s, nil
}

func argInt(fname string, v any) (int, error) {
	if _, ok := v.(*big.Int); ok {
		return 0, errorf("%s(): cannot fit 'int' into an index-sized integer", fname)
	}
	i, _, isFloat, ok := asNumber(v)
	if !ok || isFloat {
		return 0, errorf("%s(): '%s' object cannot be interpreted as an integer", fname, typeName(v))
	}
	return int(i), nil
}

// stripChars returns the predicate for str.strip's chars argument.
func stripChars(fname string, v any) (func(rune) bool, error) {
	if v == missing || v == nil {
		return isPySpace, nil
	}
	s, err := argString(fname, v)
	if err != nil {
		return nil, err
	}
	return func(r rune) bool { return strings.ContainsRune(s, r) }, nil
}

func strMethod(s, name string) func(args []any, kw *kwargs) (any, error) {
	switch name {
	case "strip", "lstrip", "rstrip":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"chars"}, args, kw, nil)
			if err != nil {
				return nil, err
			}
			pred, err := stripChars(name, a[0])
			if err != nil {
				return nil, err
			}
			switch name {
			case "strip":
				return strings.TrimFunc(s, pred), nil
			case "lstrip":
				return strings.TrimLeftFunc(s, pred), nil
			}
			return strings.TrimRightFunc(s, pred), nil
		}
	case "split", "rsplit":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"sep", "maxsplit"}, args, kw, map[string]any{"sep": nil, "maxsplit": int64(-1)})
			if err != nil {
				return nil, err
			}
			maxsplit, err := argInt(name, a[1])
			if err != nil {
				return nil, err
			}
			if a[0] == nil {
				return pySplitWhitespace(s, maxsplit, name == "rsplit"), nil
			}
			sep, err := argString(name, a[0])
			if err != nil {
				return nil, err
			}
			if sep == "" {
				return nil, errorf("empty separator")
			}
			var parts []string
			switch {
			case maxsplit < 0:
				parts = strings.Split(s, sep)
			case name == "split":
				parts = strings.SplitN(s, sep, maxsplit+1)
			default:
				parts = rsplitN(s, sep, maxsplit)
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		}
	case "splitlines":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"keepends"}, args, kw, map[string]any{"keepends": false})
			if err != nil {
				return nil, err
			}
			lines := pySplitlines(s, truthy(a[0]))
			out := make([]any, len(lines))
			for i, l := range lines {
				out[i] = l
			}
			return out, nil
		}
	case "startswith", "endswith":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"prefix", "start", "end"}, args, kw, map[string]any{"start": nil, "end": nil})
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"prefix", "start", "end"}); err != nil {
				return nil, err
			}
			sub, err := sliceStr(s, a[1], a[2])
			if err != nil {
				return nil, err
			}
			var cands []any
			switch p := a[0].(type) {
			case string:
				cands = []any{p}
			case Tuple:
				cands = p
			default:
				return nil, errorf("%s first arg must be str or a tuple of str, not %s", name, typeName(a[0]))
			}
			for _, c := range cands {
				cs, ok := c.(string)
				if !ok {
					return nil, errorf("tuple for %s must only contain str, not %s", name, typeName(c))
				}
				if (name == "startswith" && strings.HasPrefix(sub, cs)) || (name == "endswith" && strings.HasSuffix(sub, cs)) {
					return true, nil
				}
			}
			return false, nil
		}
	case "upper":
		return noArgs(name, func() any { return strings.ToUpper(s) })
	case "lower", "casefold":
		return noArgs(name, func() any { return strings.ToLower(s) })
	case "title":
		return noArgs(name, func() any { return pyTitle(s) })
	case "capitalize":
		return noArgs(name, func() any { return pyCapitalize(s) })
	case "swapcase":
		return noArgs(name, func() any {
			return strings.Map(func(r rune) rune {
				if unicode.IsUpper(r) {
					return unicode.ToLower(r)
				}
				if unicode.IsLower(r) {
					return unicode.ToUpper(r)
				}
				return r
			}, s)
		})
	case "replace":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"old", "new", "count"}, args, kw, map[string]any{"count": int64(-1)})
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"old", "new", "count"}); err != nil {
				return nil, err
			}
			old, err := argString(name, a[0])
			if err != nil {
				return nil, err
			}
			nw, err := argString(name, a[1])
			if err != nil {
				return nil, err
			}
			n, err := argInt(name, a[2])
			if err != nil {
				return nil, err
			}
			if err := checkReplace(s, old, nw, n); err != nil {
				return nil, err
			}
			return strings.Replace(s, old, nw, n), nil
		}
	case "find", "rfind", "index", "rindex", "count":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"sub", "start", "end"}, args, kw, map[string]any{"start": nil, "end": nil})
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"sub", "start", "end"}); err != nil {
				return nil, err
			}
			sub, err := argString(name, a[0])
			if err != nil {
				return nil, err
			}
			runes := []rune(s)
			lo, hi, _, err := sliceIndices(len(runes), a[1], a[2], nil)
			if err != nil {
				return nil, err
			}
			if hi < lo {
				hi = lo
			}
			hay := string(runes[lo:hi])
			if name == "count" {
				if sub == "" {
					return int64(utf8.RuneCountInString(hay) + 1), nil
				}
				return int64(strings.Count(hay, sub)), nil
			}
			var idx int
			if name == "find" || name == "index" {
				idx = strings.Index(hay, sub)
			} else {
				idx = strings.LastIndex(hay, sub)
			}
			if idx < 0 {
				if name == "index" || name == "rindex" {
					return nil, errorf("substring not found")
				}
				return int64(-1), nil
			}
			return int64(lo + utf8.RuneCountInString(hay[:idx])), nil
		}
	case "join":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"iterable"}, args, kw, nil)
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"iterable"}); err != nil {
				return nil, err
			}
			items, err := iterate(a[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				str, ok := it.(string)
				if !ok {
					return nil, errorf("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				parts[i] = str
			}
			if err := checkJoin(parts, s); err != nil {
				return nil, err
			}
			return strings.Join(parts, s), nil
		}
	case "format":
		return func(args []any, kw *kwargs) (any, error) { return strFormat(s, args, kw) }
	case "isalpha", "isdigit", "isnumeric", "isdecimal", "isalnum", "isspace":
		return noArgs(name, func() any {
			if s == "" {
				return false
			}
			for _, r := range s {
				var ok bool
				switch name {
				case "isalpha":
					ok = unicode.IsLetter(r)
				case "isdigit", "isdecimal":
					ok = unicode.IsDigit(r)
				case "isnumeric":
					ok = unicode.IsNumber(r)
				case "isalnum":
					ok = unicode.IsLetter(r) || unicode.IsNumber(r)
				default:
					ok = isPySpace(r)
				}
				if !ok {
					return false
				}
			}
			return true
		})
	case "islower", "isupper":
		return noArgs(name, func() any {
			cased := false
			for _, r := range s {
				if unicode.IsUpper(r) || unicode.IsTitle(r) {
					if name == "islower" {
						return false
					}
					cased = true
				} else if unicode.IsLower(r) {
					if name == "isupper" {
						return false
					}
					cased = true
				}
			}
			return cased
		})
	case "zfill":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"width"}, args, kw, nil)
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"width"}); err != nil {
				return nil, err
			}
			w, err := argInt(name, a[0])
			if err != nil {
				return nil, err
			}
			n := utf8.RuneCountInString(s)
			if n >= w {
				return s, nil
			}
			if err := checkLen(w); err != nil {
				return nil, err
			}
			pad := strings.Repeat("0", w-n)
			if s != "" && (s[0] == '+' || s[0] == '-') {
				return s[:1] + pad + s[1:], nil
			}
			return pad + s, nil
		}
	case "center", "ljust", "rjust":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"width", "fillchar"}, args, kw, map[string]any{"fillchar": " "})
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"width", "fillchar"}); err != nil {
				return nil, err
			}
			w, err := argInt(name, a[0])
			if err != nil {
				return nil, err
			}
			fill, err := argString(name, a[1])
			if err != nil || utf8.RuneCountInString(fill) != 1 {
				return nil, errorf("The fill character must be exactly one character long")
			}
			if err := checkLen(w); err != nil {
				return nil, err
			}
			return pad(s, w, fill, map[string]byte{"center": 'c', "ljust": '<', "rjust": '>'}[name]), nil
		}
	case "removeprefix", "removesuffix":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"affix"}, args, kw, nil)
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"affix"}); err != nil {
				return nil, err
			}
			x, err := argString(name, a[0])
			if err != nil {
				return nil, err
			}
			if name == "removeprefix" {
				return strings.TrimPrefix(s, x), nil
			}
			return strings.TrimSuffix(s, x), nil
		}
	case "partition", "rpartition":
		return func(args []any, kw *kwargs) (any, error) {
			a, err := bind(name, []string{"sep"}, args, kw, nil)
			if err != nil {
				return nil, err
			}
			if err := requireArgs(name, a, []string{"sep"}); err != nil {
				return nil, err
			}
			sep, err := argString(name, a[0])
			if err != nil {
				return nil, err
			}
			if sep == "" {
				return nil, errorf("empty separator")
			}
			var i int
			if name == "partition" {
				i = strings.Index(s, sep)
				if i < 0 {
					return Tuple{s, "", ""}, nil
				}
			} else {
				i = strings.LastIndex(s, sep)
				if i < 0 {
					return Tuple{"", "", s}, nil
				}
			}
			return Tuple{s[:i], sep, s[i+len(sep):]}, nil
		}
	}
	return nil
}

func noArgs(name string, f func() any) func(args []any, kw *kwargs) (any, error) {
	return func(args []any, kw *kwargs) (any, error) {
		if len(args) > 0 || kw.len() > 0 {
			return nil, errorf("%s() takes no arguments (%d given)", name, len(args)+kw.len())
		}
		return f(), nil
	}
}

func sliceStr(s string, start, end any) (string, error) {
	if start == nil && end == nil {
		return s, nil
	}
	runes := []rune(s)
	lo, hi, _, err := sliceIndices(len(runes), start, end, nil)
	if err != nil {
		return "", err
	}
	if hi < lo {
		return "", nil
	}
	return string(runes[lo:hi]), nil
}

// pySplitWhitespace is str.split()/str.rsplit() with no separator.
func pySplitWhitespace(s string, maxsplit int, fromRight bool) []any {
	runes := []rune(s)
	out := []any{}
	if !fromRight {
		i, n := 0, len(runes)
		for maxsplit != 0 {
			for i < n && isPySpace(runes[i]) {
				i++
			}
			if i >= n {
				return out
			}
			j := i
			for j < n && !isPySpace(runes[j]) {
				j++
			}
			out = append(out, string(runes[i:j]))
			i = j
			maxsplit--
		}
		for i < len(runes) && isPySpace(runes[i]) {
			i++
		}
		if i < len(runes) {
			out = append(out, string(runes[i:]))
		}
		return out
	}
	var rev []any
	j := len(runes)
	for maxsplit != 0 {
		for j > 0 && isPySpace(runes[j-1]) {
			j--
		}
		if j <= 0 {
			break
		}
		i := j
		for i > 0 && !isPySpace(runes[i-1]) {
			i--
		}
		rev = append(rev, string(runes[i:j]))
		j = i
		maxsplit--
	}
	if maxsplit == 0 {
		for j > 0 && isPySpace(runes[j-1]) {
			j--
		}
		if j > 0 {
			rev = append(rev, string(runes[:j]))
		}
	}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out
}

func rsplitN(s, sep string, maxsplit int) []string {
	var rev []string
	for maxsplit > 0 {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		rev = append(rev, s[i+len(sep):])
		s = s[:i]
		maxsplit--
	}
	out := []string{s}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out
}

func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// pySplitlines is str.splitlines.
func pySplitlines(s string, keepends bool) []string {
	var out []string
	runes := []rune(s)
	start := 0
	for i := 0; i < len(runes); i++ {
		if !isLineBreak(runes[i]) {
			continue
		}
		end := i + 1
		if runes[i] == '\r' && i+1 < len(runes) && runes[i+1] == '\n' {
			end++
		}
		if keepends {
			out = append(out, string(runes[start:end]))
		} else {
			out = append(out, string(runes[start:i]))
		}
		start = end
		i = end - 1
	}
	if start < len(runes) {
		out = append(out, string(runes[start:]))
	}
	return out
}

// pyTitle is str.title.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToTitle(r))
		}
		prevCased = isCased(r)
	}
	return b.String()
}

// pyCapitalize is str.capitalize (Python 3.8+: first character title-cased).
func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}

// pad aligns s in width columns: '<' left, '>' right, '^' centre as format()
// does (extra column right), 'c' centre as str.center does (extra column left
// when both the padding and the width are odd).
// Callers bound width with checkLen.
func pad(s string, width int, fill string, align byte) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	total := width - n
	switch align {
	case '<':
		return s + strings.Repeat(fill, total)
	case '>':
		return strings.Repeat(fill, total) + s
	}
	left := total / 2
	if align == 'c' {
		left += total & width & 1
	}
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, total-left)
}

func dictMethod(d *Dict, name string) func(args []any, kw *kwargs) (any, error) {
	switch name {
	case "get":
		return func(args []any, kw *kwargs) (any, error) {
			if kw.len() > 0 {
				return nil, errorf("get() takes no keyword arguments")
			}
			if len(args) < 1 || len(args) > 2 {
				return nil, errorf("get expected at most 2 arguments, got %d", len(args))
			}
			if _, err := hashKey(args[0]); err != nil {
				return nil, errorf("%v", err)
			}
			if v, ok := d.get(args[0]); ok {
				return v, nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, nil
		}
	case "items":
		return noArgs(name, func() any { return d.items() })
	case "keys":
		return noArgs(name, func() any { return append([]any(nil), d.keys...) })
	case "values":
		return noArgs(name, func() any { return append([]any(nil), d.vals...) })
	case "copy":
		return noArgs(name, func() any { return d.copyDict() })
	}
	return nil
}

func seqMethod(items []any, name string, tuple bool) func(args []any, kw *kwargs) (any, error) {
	switch name {
	case "index":
		return func(args []any, kw *kwargs) (any, error) {
			if len(args) < 1 {
				return nil, errorf("index expected at least 1 argument, got 0")
			}
			for i, it := range items {
				if pyEq(it, args[0]) {
					return int64(i), nil
				}
			}
			if tuple {
				return nil, errorf("tuple.index(x): x not in tuple")
			}
			return nil, errorf("%s is not in list", pyRepr(args[0]))
		}
	case "count":
		return func(args []any, kw *kwargs) (any, error) {
			if len(args) != 1 {
				return nil, errorf("count() takes exactly one argument (%d given)", len(args))
			}
			n := int64(0)
			for _, it := range items {
				if pyEq(it, args[0]) {
					n++
				}
			}
			return n, nil
		}
	case "copy":
		if tuple {
			return nil
		}
		return noArgs(name, func() any { return append([]any(nil), items...) })
	}
	return nil
}

// ---- printf-style formatting (str % args) ----

func percentFormat(format string, arg any) (any, error) {
	var args []any
	var mapping *Dict
	switch a := arg.(type) {
	case Tuple:
		args = a
	case *Dict:
		mapping = a
		args = []any{a}
	default:
		args = []any{a}
	}
	argi := 0
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if b.Len() > maxStrLen {
			return nil, checkStrLen(b.Len())
		}
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, errorf("incomplete format")
		}
		var val any
		haveVal := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 || mapping == nil {
				return nil, errorf("format requires a mapping")
			}
			key := format[i+1 : i+end]
			v, ok := mapping.get(key)
			if !ok {
				return nil, errorf("KeyError: %s", pyRepr(key))
			}
			val, haveVal = v, true
			i += end + 1
		}
		flags := ""
		for i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0 {
			flags += string(format[i])
			i++
		}
		width := ""
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			width += string(format[i])
			i++
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			p := ""
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				p += string(format[i])
				i++
			}
			prec, _ = strconv.Atoi(p)
			if err := checkLen(prec); err != nil {
				return nil, err
			}
		}
		if i >= len(format) {
			return nil, errorf("incomplete format")
		}
		conv := format[i]
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveVal {
			if argi >= len(args) {
				return nil, errorf("not enough arguments for format string")
			}
			val = args[argi]
			argi++
		}
		var s string
		switch conv {
		case 's':
			s = pyStr(val)
			if prec >= 0 {
				s = truncRunes(s, prec)
			}
		case 'r', 'a':
			s = pyRepr(val)
			if prec >= 0 {
				s = truncRunes(s, prec)
			}
		case 'd', 'i', 'u':
			if f, isF := val.(float64); isF && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) >= 1<<63 {
				val, _ = floatIntKey(math.Trunc(f)) // %d of a float beyond int64: its exact integer
			}
			if b, isBig := val.(*big.Int); isBig {
				s = b.String()
				if b.Sign() > 0 && strings.Contains(flags, "+") {
					s = "+" + s
				} else if b.Sign() > 0 && strings.Contains(flags, " ") {
					s = " " + s
				}
				break
			}
			iv, fv, isF, ok := asNumber(val)
			if !ok {
				return nil, errorf("%%%c format: a real number is required, not %s", conv, typeName(val))
			}
			if isF {
				iv = int64(math.Trunc(fv))
			}
			s = strconv.FormatInt(iv, 10)
			if strings.Contains(flags, "+") && iv >= 0 {
				s = "+" + s
			} else if strings.Contains(flags, " ") && iv >= 0 {
				s = " " + s
			}
		case 'f', 'F', 'e', 'E', 'g', 'G':
			if b, isBig := val.(*big.Int); isBig {
				f, err := bigToFloat(b)
				if err != nil {
					return nil, err
				}
				val = f
			}
			_, fv, _, ok := asNumber(val)
			if !ok {
				return nil, errorf("must be real number, not %s", typeName(val))
			}
			if prec < 0 {
				prec = 6
			}
			s = strconv.FormatFloat(fv, conv|0x20, prec, 64)
			if conv == 'E' || conv == 'G' || conv == 'F' {
				s = strings.ToUpper(s)
			}
			if strings.Contains(flags, "+") && fv >= 0 {
				s = "+" + s
			}
		case 'x', 'X', 'o':
			if b, isBig := val.(*big.Int); isBig {
				base := 16
				if conv == 'o' {
					base = 8
				}
				s = b.Text(base)
				if conv == 'X' {
					s = strings.ToUpper(s)
				}
				break
			}
			iv, _, isF, ok := asNumber(val)
			if !ok || isF {
				return nil, errorf("%%%c format: an integer is required, not %s", conv, typeName(val))
			}
			base := 16
			if conv == 'o' {
				base = 8
			}
			s = strconv.FormatInt(iv, base)
			if conv == 'X' {
				s = strings.ToUpper(s)
			}
		case 'c':
			switch v := val.(type) {
			case string:
				s = v
			case int64:
				s = string(rune(v))
			}
		default:
			return nil, errorf("unsupported format character '%c'", conv)
		}
		if w, _ := strconv.Atoi(width); w > 0 {
			if err := checkLen(w); err != nil {
				return nil, err
			}
			switch {
			case strings.Contains(flags, "-"):
				s = pad(s, w, " ", '<')
			case strings.Contains(flags, "0") && conv != 's' && conv != 'r':
				neg := strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+")
				if neg {
					s = s[:1] + pad(s[1:], w-1, "0", '>')
				} else {
					s = pad(s, w, "0", '>')
				}
			default:
				s = pad(s, w, " ", '>')
			}
		}
		b.WriteString(s)
	}
	if mapping == nil && argi < len(args) {
		return nil, errorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// ---- str.format ----

func strFormat(format string, args []any, kw *kwargs) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(format); i++ {
		if b.Len() > maxStrLen {
			return nil, checkStrLen(b.Len())
		}
		c := format[i]
		if c == '}' {
			if i+1 < len(format) && format[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return nil, errorf("Single '}' encountered in format string")
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(format[i:], '}')
		if end < 0 {
			return nil, errorf("Single '{' encountered in format string")
		}
		field := format[i+1 : i+end]
		i += end
		spec := ""
		if j := strings.IndexByte(field, ':'); j >= 0 {
			field, spec = field[:j], field[j+1:]
		}
		conv := byte(0)
		if j := strings.IndexByte(field, '!'); j >= 0 && j+1 < len(field) {
			conv = field[j+1]
			field = field[:j]
		}
		// first part: name or index, then .attr / [key] chains
		head := field
		rest := ""
		if j := strings.IndexAny(field, ".["); j >= 0 {
			head, rest = field[:j], field[j:]
		}
		var val any
		switch {
		case head == "":
			if auto >= len(args) {
				return nil, errorf("Replacement index %d out of range for positional args tuple", auto)
			}
			val = args[auto]
			auto++
		case head[0] >= '0' && head[0] <= '9':
			n, err := strconv.Atoi(head)
			if err != nil || n >= len(args) {
				return nil, errorf("Replacement index %s out of range for positional args tuple", head)
			}
			val = args[n]
		default:
			found := false
			if kw != nil {
				for k, name := range kw.names {
					if name == head {
						val, found = kw.vals[k], true
					}
				}
			}
			if !found {
				return nil, errorf("KeyError: %s", pyRepr(head))
			}
		}
		for rest != "" {
			var err error
			if rest[0] == '.' {
				j := strings.IndexAny(rest[1:], ".[")
				name := rest[1:]
				if j >= 0 {
					name, rest = rest[1:j+1], rest[j+1:]
				} else {
					rest = ""
				}
				if val, err = getattr(val, name); err != nil {
					return nil, err
				}
			} else {
				j := strings.IndexByte(rest, ']')
				if j < 0 {
					return nil, errorf("Missing ']' in format string")
				}
				key := rest[1:j]
				rest = rest[j+1:]
				var k any = key
				if n, err := strconv.Atoi(key); err == nil {
					k = int64(n)
				}
				if val, err = getitem(val, k); err != nil {
					return nil, err
				}
			}
		}
		switch conv {
		case 'r', 'a':
			val = pyRepr(val)
		case 's':
			val = pyStr(val)
		}
		s, err := formatSpec(val, spec)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// formatSpec implements the common part of Python's format-spec mini-language:
// [[fill]align][sign][0][width][,][.precision][type].
func formatSpec(val any, spec string) (string, error) {
	if spec == "" {
		return pyStr(val), nil
	}
	rs := []rune(spec)
	i := 0
	fill, align := " ", byte(0)
	isAlign := func(r rune) bool { return r == '<' || r == '>' || r == '^' || r == '=' }
	if len(rs) >= 2 && isAlign(rs[1]) {
		fill, align = string(rs[0]), byte(rs[1])
		i = 2
	} else if len(rs) >= 1 && isAlign(rs[0]) {
		align = byte(rs[0])
		i = 1
	}
	sign := byte('-')
	if i < len(rs) && (rs[i] == '+' || rs[i] == '-' || rs[i] == ' ') {
		sign = byte(rs[i])
		i++
	}
	if i < len(rs) && rs[i] == '0' {
		if align == 0 {
			fill, align = "0", '='
		}
		i++
	}
	w := 0
	for i < len(rs) && rs[i] >= '0' && rs[i] <= '9' {
		w = w*10 + int(rs[i]-'0')
		i++
	}
	prec := -1
	if i < len(rs) && rs[i] == '.' {
		i++
		prec = 0
		for i < len(rs) && rs[i] >= '0' && rs[i] <= '9' {
			prec = prec*10 + int(rs[i]-'0')
			i++
		}
	}
	if err := checkLen(w); err != nil {
		return "", err
	}
	if prec != -1 {
		if err := checkLen(prec); err != nil {
			return "", err
		}
	}
	typ := byte(0)
	if i < len(rs) {
		typ = byte(rs[i])
		i++
	}
	if i != len(rs) {
		return "", errorf("Invalid format specifier '%s'", spec)
	}
	if b, ok := val.(*big.Int); ok {
		switch typ {
		case 'f', 'F', 'e', 'E', 'g', 'G', '%': // int beyond int64 in a float format: as float(int)
			f, err := bigToFloat(b)
			if err != nil {
				return "", err
			}
			val = f
		}
	}
	var s string
	numeric := false
	switch v := val.(type) {
	case *big.Int:
		numeric = true
		switch typ {
		case 0, 'd':
			s = v.String()
		case 'x', 'X', 'o', 'b':
			s = v.Text(map[byte]int{'x': 16, 'X': 16, 'o': 8, 'b': 2}[typ])
			if typ == 'X' {
				s = strings.ToUpper(s)
			}
		default:
			return "", errorf("Unknown format code '%c' for object of type 'int'", typ)
		}
		if sign != '-' && v.Sign() >= 0 {
			s = string(sign) + s
		}
		if align == 0 {
			align = '>'
		}
	case string:
		if typ != 0 && typ != 's' {
			return "", errorf("Unknown format code '%c' for object of type 'str'", typ)
		}
		s = v
		if prec >= 0 {
			s = truncRunes(s, prec)
		}
		if align == 0 {
			align = '<'
		}
	default:
		iv, fv, isF, ok := asNumber(val)
		if !ok {
			s = pyStr(val)
			if align == 0 {
				align = '<'
			}
			break
		}
		numeric = true
		switch {
		case typ == 'd' && !isF:
			s = strconv.FormatInt(iv, 10)
		case typ == 0 && !isF:
			s = strconv.FormatInt(iv, 10)
		case typ == 0 && prec < 0:
			s = pyFloatRepr(fv)
		case typ == 'f' || typ == 'F' || typ == 'e' || typ == 'E' || typ == 'g' || typ == 'G' || typ == '%' || typ == 0:
			if prec < 0 {
				prec = 6
			}
			f := typ | 0x20
			if typ == '%' {
				fv *= 100
				f = 'f'
			}
			if typ == 0 {
				f = 'g'
			}
			s = strconv.FormatFloat(fv, f, prec, 64)
			if typ == '%' {
				s += "%"
			}
		case typ == 'x' || typ == 'X' || typ == 'o' || typ == 'b':
			s = strconv.FormatInt(iv, map[byte]int{'x': 16, 'X': 16, 'o': 8, 'b': 2}[typ])
			if typ == 'X' {
				s = strings.ToUpper(s)
			}
		default:
			return "", errorf("Unknown format code '%c' for object of type '%s'", typ, typeName(val))
		}
		if sign != '-' && !strings.HasPrefix(s, "-") {
			s = string(sign) + s
		}
		if align == 0 {
			align = '>'
		}
	}
	if align == '=' && numeric {
		signPart := ""
		if s != "" && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
			signPart, s = s[:1], s[1:]
		}
		return signPart + pad(s, w-len(signPart), fill, '>'), nil
	}
	if align == '=' {
		align = '>'
	}
	return pad(s, w, fill, align), nil
}
