package chattemplate

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind int

const (
	tokData tokenKind = iota
	tokBlockBegin
	tokBlockEnd
	tokVarBegin
	tokVarEnd
	tokName
	tokString
	tokInt
	tokFloat
	tokOp
	tokEOF
)

type token struct {
	kind tokenKind
	val  string // data text, name, decoded string, operator
	num  any    // int64 or float64 for number tokens
	line int
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of template"
	case tokBlockEnd:
		return "end of statement block"
	case tokVarEnd:
		return "end of print statement"
	case tokBlockBegin:
		return "begin of statement block"
	case tokVarBegin:
		return "begin of print statement"
	case tokString:
		return "string"
	case tokInt:
		return "integer"
	case tokFloat:
		return "float"
	case tokData:
		return "template data"
	}
	return t.val
}

// lexer turns template source into tokens the way Jinja2's lexer does with
// trim_blocks=True and lstrip_blocks=True: whitespace control with '-' and '+',
// the first newline after a block or comment tag dropped, and spaces/tabs before
// a block or comment tag at the start of a line stripped.
type lexer struct {
	src          string
	pos          int
	line         int
	toks         []token
	lineStarting bool
	trimBlocks   bool
	lstripBlocks bool
}

// normalizeSource applies Jinja2's newline handling: \r\n and \r become \n and
// one trailing newline is dropped (keep_trailing_newline=False).
func normalizeSource(src string) string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	return strings.TrimSuffix(src, "\n")
}

func tokenize(src string) ([]token, error) {
	lx := &lexer{src: normalizeSource(src), line: 1, lineStarting: true, trimBlocks: true, lstripBlocks: true}
	if err := lx.run(); err != nil {
		return nil, err
	}
	return lx.toks, nil
}

func (lx *lexer) errorf(format string, args ...any) error {
	return &TemplateError{Message: fmt.Sprintf(format, args...), Line: lx.line, Syntax: true}
}

func (lx *lexer) emit(kind tokenKind, val string) {
	lx.toks = append(lx.toks, token{kind: kind, val: val, line: lx.line})
}

// advance moves pos to end, counting newlines.
func (lx *lexer) advance(end int) {
	lx.line += strings.Count(lx.src[lx.pos:end], "\n")
	lx.pos = end
}

func (lx *lexer) run() error {
	for lx.pos < len(lx.src) {
		rest := lx.src[lx.pos:]
		idx := -1
		for i := 0; i+1 < len(rest); i++ {
			if rest[i] == '{' && (rest[i+1] == '%' || rest[i+1] == '{' || rest[i+1] == '#') {
				idx = i
				break
			}
		}
		if idx < 0 {
			lx.emitData(rest)
			lx.advance(len(lx.src))
			break
		}
		kind := rest[idx+1]
		sign := byte(0)
		if idx+2 < len(rest) && (rest[idx+2] == '-' || rest[idx+2] == '+') {
			sign = rest[idx+2]
		}
		isRaw := false
		rawEnd := 0
		if kind == '%' {
			rawEnd, isRaw = matchRawBegin(rest[idx:])
		}
		text := rest[:idx]
		text = lx.stripText(text, sign, kind != '{')
		lx.emitData(text)
		lx.advance(lx.pos + idx)
		openLen := 2
		if sign != 0 {
			openLen = 3
		}
		switch {
		case isRaw:
			lx.advance(lx.pos + rawEnd)
			lx.lineStarting = strings.HasSuffix(lx.src[:lx.pos], "\n")
			if err := lx.lexRaw(); err != nil {
				return err
			}
		case kind == '#':
			lx.advance(lx.pos + openLen)
			if err := lx.lexComment(); err != nil {
				return err
			}
		case kind == '%':
			lx.emit(tokBlockBegin, "{%")
			lx.advance(lx.pos + openLen)
			if err := lx.lexTag(true); err != nil {
				return err
			}
		default:
			lx.emit(tokVarBegin, "{{")
			lx.advance(lx.pos + openLen)
			if err := lx.lexTag(false); err != nil {
				return err
			}
		}
	}
	lx.toks = append(lx.toks, token{kind: tokEOF, line: lx.line})
	return nil
}

func (lx *lexer) emitData(text string) {
	if text != "" {
		lx.emit(tokData, text)
	}
}

// stripText applies '-' stripping or lstrip_blocks to the data before a tag.
func (lx *lexer) stripText(text string, sign byte, lstripAllowed bool) string {
	if sign == '-' {
		return strings.TrimRightFunc(text, isPySpace)
	}
	if sign != '+' && lx.lstripBlocks && lstripAllowed {
		lpos := strings.LastIndexByte(text, '\n') + 1
		if lpos > 0 || lx.lineStarting {
			if strings.Trim(text[lpos:], " \t") == "" {
				return text[:lpos]
			}
		}
	}
	return text
}

// matchRawBegin matches `{%[-+]?\s*raw\s*(-%}\s*|%})` at the start of s.
func matchRawBegin(s string) (int, bool) {
	i := 2
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], "raw") {
		return 0, false
	}
	i += 3
	j := skipSpace(s, i)
	if j == i && j < len(s) && isNameChar(rune(s[j])) {
		return 0, false
	}
	i = j
	if strings.HasPrefix(s[i:], "-%}") {
		return skipSpace(s, i+3), true
	}
	if strings.HasPrefix(s[i:], "%}") {
		return i + 2, true
	}
	return 0, false
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPySpace(r) {
			break
		}
		i += n
	}
	return i
}

// lexRaw scans the body of {% raw %} up to {% endraw %}.
func (lx *lexer) lexRaw() error {
	rest := lx.src[lx.pos:]
	for i := 0; i+1 < len(rest); i++ {
		if rest[i] != '{' || rest[i+1] != '%' {
			continue
		}
		j := 2
		sign := byte(0)
		if j < len(rest[i:]) && (rest[i+j] == '-' || rest[i+j] == '+') {
			sign = rest[i+j]
			j++
		}
		k := skipSpace(rest, i+j)
		if !strings.HasPrefix(rest[k:], "endraw") {
			continue
		}
		k = skipSpace(rest, k+6)
		end := -1
		switch {
		case strings.HasPrefix(rest[k:], "+%}"):
			end = k + 3
		case strings.HasPrefix(rest[k:], "-%}"):
			end = skipSpace(rest, k+3)
		case strings.HasPrefix(rest[k:], "%}"):
			end = k + 2
			if lx.trimBlocks && end < len(rest) && rest[end] == '\n' {
				end++
			}
		}
		if end < 0 {
			continue
		}
		lx.emitData(lx.stripText(rest[:i], sign, true))
		lx.advance(lx.pos + end)
		lx.lineStarting = strings.HasSuffix(rest[:end], "\n")
		return nil
	}
	return lx.errorf("Missing end of raw directive")
}

func (lx *lexer) lexComment() error {
	rest := lx.src[lx.pos:]
	for i := 0; i < len(rest); i++ {
		end := -1
		switch {
		case strings.HasPrefix(rest[i:], "+#}"):
			end = i + 3
		case strings.HasPrefix(rest[i:], "-#}"):
			end = skipSpace(rest, i+3)
		case strings.HasPrefix(rest[i:], "#}"):
			end = i + 2
			if lx.trimBlocks && end < len(rest) && rest[end] == '\n' {
				end++
			}
		}
		if end >= 0 {
			lx.advance(lx.pos + end)
			lx.lineStarting = strings.HasSuffix(rest[:end], "\n")
			return nil
		}
	}
	return lx.errorf("Missing end of comment tag")
}

var operators3 = []string{}
var operators2 = []string{"//", "**", "==", "!=", ">=", "<="}

const operators1 = "+-/*%~[](){}><=.:|,;"

// lexTag tokenizes the inside of a {% %} (block) or {{ }} (variable) tag.
func (lx *lexer) lexTag(block bool) error {
	var balance []byte
	for {
		if lx.pos >= len(lx.src) {
			return lx.errorf("unexpected end of template")
		}
		rest := lx.src[lx.pos:]
		if len(balance) == 0 {
			if block {
				end := -1
				switch {
				case strings.HasPrefix(rest, "+%}"):
					end = 3
				case strings.HasPrefix(rest, "-%}"):
					end = skipSpace(rest, 3)
				case strings.HasPrefix(rest, "%}"):
					end = 2
					if lx.trimBlocks && len(rest) > 2 && rest[2] == '\n' {
						end = 3
					}
				}
				if end >= 0 {
					lx.emit(tokBlockEnd, "%}")
					lx.advance(lx.pos + end)
					lx.lineStarting = strings.HasSuffix(rest[:end], "\n")
					return nil
				}
			} else {
				end := -1
				switch {
				case strings.HasPrefix(rest, "-}}"):
					end = skipSpace(rest, 3)
				case strings.HasPrefix(rest, "}}"):
					end = 2
				}
				if end >= 0 {
					lx.emit(tokVarEnd, "}}")
					lx.advance(lx.pos + end)
					lx.lineStarting = strings.HasSuffix(rest[:end], "\n")
					return nil
				}
			}
		}
		r, size := utf8.DecodeRuneInString(rest)
		switch {
		case isPySpace(r):
			lx.advance(skipSpace(lx.src, lx.pos))
			continue
		case r >= '0' && r <= '9':
			if err := lx.lexNumber(); err != nil {
				return err
			}
			continue
		case r == '_' || unicode.IsLetter(r):
			i := size
			for i < len(rest) {
				r2, n := utf8.DecodeRuneInString(rest[i:])
				if !isNameChar(r2) {
					break
				}
				i += n
			}
			lx.emit(tokName, rest[:i])
			lx.advance(lx.pos + i)
			continue
		case r == '\'' || r == '"':
			end, ok := scanString(rest)
			if !ok {
				return lx.errorf("unexpected char %s at %d", pyRepr(string(r)), lx.pos)
			}
			val := decodeStringLiteral(rest[1 : end-1])
			lx.emit(tokString, val)
			lx.advance(lx.pos + end)
			continue
		}
		op := ""
		for _, o := range operators2 {
			if strings.HasPrefix(rest, o) {
				op = o
				break
			}
		}
		if op == "" && strings.IndexByte(operators1, rest[0]) >= 0 {
			op = rest[:1]
		}
		if op == "" {
			return lx.errorf("unexpected char %s at %d", pyRepr(string(r)), lx.pos)
		}
		switch op {
		case "(", "[", "{":
			balance = append(balance, op[0])
		case ")", "]", "}":
			want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
			if len(balance) == 0 {
				return lx.errorf("unexpected '%s'", op)
			}
			if balance[len(balance)-1] != want {
				return lx.errorf("unexpected '%s', expected '%s'", op, map[byte]string{'(': ")", '[': "]", '{': "}"}[balance[len(balance)-1]])
			}
			balance = balance[:len(balance)-1]
		}
		lx.emit(tokOp, op)
		lx.advance(lx.pos + len(op))
	}
}

func isNameChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r)
}

// lexNumber scans an integer or float literal (Jinja2 allows '_' separators).
func (lx *lexer) lexNumber() error {
	rest := lx.src[lx.pos:]
	digits := func(s string, i int) int {
		// (\d+_)*\d+
		j := i
		for j < len(s) {
			if s[j] >= '0' && s[j] <= '9' {
				j++
				continue
			}
			if s[j] == '_' && j > i && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
				j++
				continue
			}
			break
		}
		return j
	}
	prevDot := lx.pos > 0 && lx.src[lx.pos-1] == '.'
	// float: digits ((.digits)? e[+-]?digits | .digits)
	if !prevDot {
		i := digits(rest, 0)
		j := i
		frac := false
		if j < len(rest) && rest[j] == '.' {
			k := digits(rest, j+1)
			if k > j+1 {
				j = k
				frac = true
			}
		}
		expEnd := -1
		if j < len(rest) && (rest[j] == 'e' || rest[j] == 'E') {
			k := j + 1
			if k < len(rest) && (rest[k] == '+' || rest[k] == '-') {
				k++
			}
			if m := digits(rest, k); m > k {
				expEnd = m
			}
		}
		if expEnd > 0 || frac {
			end := j
			if expEnd > 0 {
				end = expEnd
			}
			text := strings.ReplaceAll(rest[:end], "_", "")
			f, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return lx.errorf("invalid float literal %s", text)
			}
			lx.toks = append(lx.toks, token{kind: tokFloat, val: text, num: f, line: lx.line})
			lx.advance(lx.pos + end)
			return nil
		}
	}
	// integer: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*
	end := 0
	base := 10
	if len(rest) > 2 && rest[0] == '0' && strings.ContainsRune("bBoOxX", rune(rest[1])) {
		var valid func(byte) bool
		switch rest[1] {
		case 'b', 'B':
			base, valid = 2, func(c byte) bool { return c == '0' || c == '1' }
		case 'o', 'O':
			base, valid = 8, func(c byte) bool { return c >= '0' && c <= '7' }
		default:
			base, valid = 16, func(c byte) bool {
				return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
			}
		}
		k := 2
		for k < len(rest) {
			if valid(rest[k]) {
				k++
			} else if rest[k] == '_' && k+1 < len(rest) && valid(rest[k+1]) {
				k++
			} else {
				break
			}
		}
		if k > 2 {
			end = k
		} else {
			base = 10
		}
	}
	if end == 0 {
		if rest[0] == '0' {
			k := 1
			for k < len(rest) && (rest[k] == '0' || (rest[k] == '_' && k+1 < len(rest) && rest[k+1] == '0')) {
				k++
			}
			end = k
		} else {
			end = digits(rest, 0)
		}
	}
	text := strings.ReplaceAll(rest[:end], "_", "")
	if base != 10 {
		text = text[2:]
	}
	var num any
	if n, err := strconv.ParseInt(text, base, 64); err == nil {
		num = n
	} else {
		b, ok := new(big.Int).SetString(text, base)
		if !ok {
			return lx.errorf("invalid integer literal %s", rest[:end])
		}
		v, err := checkBig(b)
		if err != nil {
			return lx.errorf("integer literal %s: %v", rest[:end], err.(*TemplateError).Message)
		}
		num = v
	}
	lx.toks = append(lx.toks, token{kind: tokInt, val: rest[:end], num: num, line: lx.line})
	lx.advance(lx.pos + end)
	return nil
}

// scanString finds the end (exclusive) of a quoted string literal at s[0].
func scanString(s string) (int, bool) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i + 1, true
		}
	}
	return 0, false
}

// decodeStringLiteral applies Python's unicode-escape decoding to the body of
// a Jinja2 string literal; unknown escapes keep their backslash.
func decodeStringLiteral(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case '\n':
			// line continuation
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(s[i:j], 8, 32)
			b.WriteRune(rune(n))
			i = j - 1
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+width < len(s)+0 && i+1+width <= len(s) {
				if n, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32); err == nil && n <= unicode.MaxRune {
					b.WriteRune(rune(n))
					i += width
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		case 'N':
			if i+1 < len(s) && s[i+1] == '{' {
				if end := strings.IndexByte(s[i:], '}'); end > 0 {
					if r, ok := unicodeNames[strings.ToUpper(s[i+2:i+end])]; ok {
						b.WriteRune(r)
						i += end
						continue
					}
				}
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String()
}

// unicodeNames covers the \N{...} escapes that appear in chat templates; Go's
// standard library has no Unicode name table.
var unicodeNames = map[string]rune{
	"BULLET": '•', "NO-BREAK SPACE": '\u00a0', "EM DASH": '—', "EN DASH": '–',
	"HORIZONTAL ELLIPSIS": '…', "ZERO WIDTH SPACE": '\u200b', "LINE FEED": '\n', "SPACE": ' ',
}
