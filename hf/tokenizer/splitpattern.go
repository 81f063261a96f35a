package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// span is a byte range [start, end) of a string.
type span struct{ start, end int }

// matcher finds the successive non-overlapping matches of a Split pattern, leftmost
// first, the way onig's find_iter (HF's regex engine) does.
type matcher interface {
	findAll(dst []span, s string) []span
}

// The split regexes of the byte-level tokenizers this package runs by hand. They are
// compared verbatim with the pattern read from tokenizer.json.
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// newRegexMatcher returns the hand-written matcher for a known pattern, else a
// regexp2 (backtracking, with lookaround) matcher.
func newRegexMatcher(pattern string) (matcher, error) {
	switch pattern {
	case gpt2Pattern:
		return wordMatcher{next: gpt2Next}, nil
	case llama3Pattern:
		return wordMatcher{next: func(s string, i int) int { return llamaNext(s, i, 3) }}, nil
	case qwen2Pattern:
		return wordMatcher{next: func(s string, i int) int { return llamaNext(s, i, 1) }}, nil
	}
	re, err := regexp2.Compile(pattern, regexp2.Unicode)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	return regexp2Matcher{re}, nil
}

// Character classes of the split regexes: \p{L}, \p{N}, \s, and [\r\n].
const (
	clsL uint8 = 1 << iota
	clsN
	clsS
	clsNL
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		asciiClass[r] = runeClassSlow(r)
	}
}

// runeClassSlow classifies r. Go's unicode.IsSpace is exactly Unicode White_Space,
// which is what onig's \s matches.
func runeClassSlow(r rune) uint8 {
	var c uint8
	switch {
	case unicode.IsLetter(r):
		c = clsL
	case unicode.IsNumber(r):
		c = clsN
	case unicode.IsSpace(r):
		c = clsS
	}
	if r == '\r' || r == '\n' {
		c |= clsNL
	}
	return c
}

// classAt returns the class of the rune starting at s[i] and its byte length.
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	return classAtSlow(s, i) // out of line, so classAt inlines
}

func classAtSlow(s string, i int) (uint8, int) {
	r, n := utf8.DecodeRuneInString(s[i:])
	return runeClassSlow(r), n
}

// scanClass returns the end of the run of runes from i whose class has a bit in want.
func scanClass(s string, i int, want uint8) int {
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf { // ASCII fast path
			if asciiClass[b]&want == 0 {
				break
			}
			i++
			continue
		}
		c, n := classAtSlow(s, i)
		if c&want == 0 {
			break
		}
		i += n
	}
	return i
}

// scanOther returns the end of the run of [^\s\p{L}\p{N}] runes from i.
func scanOther(s string, i int) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c&(clsL|clsN|clsS) != 0 {
			break
		}
		i += n
	}
	return i
}

// scanNewlines returns the end of the run of '\r'/'\n' bytes from i.
func scanNewlines(s string, i int) int {
	for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// wordMatcher runs a pattern that matches at every position (the alternatives
// cover every character), so its matches tile the string; next returns the end of
// the match that starts at i.
type wordMatcher struct {
	next func(s string, i int) int
}

func (m wordMatcher) findAll(dst []span, s string) []span {
	for i := 0; i < len(s); {
		e := m.next(s, i)
		dst = append(dst, span{i, e})
		i = e
	}
	return dst
}

// whitespaceTail implements `\s+(?!\S)|\s+` at i, where s[i] is whitespace: the run
// minus its last character when a non-space follows (that character then starts
// the next match), else the whole run.
func whitespaceTail(s string, i int) int {
	k := scanClass(s, i, clsS)
	if k == len(s) {
		return k
	}
	_, last := utf8.DecodeLastRuneInString(s[i:k])
	if k-last > i {
		return k - last
	}
	return k
}

// gpt2Next is gpt2Pattern at i:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func gpt2Next(s string, i int) int {
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	c, _ := classAt(s, i)
	start := i
	if s[i] == ' ' && i+1 < len(s) { // the optional space joins a following non-space
		if c2, _ := classAt(s, i+1); c2&clsS == 0 {
			c, start = c2, i+1
		}
	}
	switch {
	case c&clsL != 0:
		return scanClass(s, start, clsL)
	case c&clsN != 0:
		return scanClass(s, start, clsN)
	case c&clsS == 0:
		return scanOther(s, start)
	}
	return whitespaceTail(s, i)
}

// llamaNext is llama3Pattern (maxDigits 3) or qwen2Pattern (maxDigits 1) at i:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func llamaNext(s string, i int, maxDigits int) int {
	if s[i] == '\'' {
		if n := contractionFold(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	c, n := classAt(s, i)
	if c&clsL != 0 {
		return scanClass(s, i, clsL)
	}
	if c&(clsNL|clsN) == 0 && i+n < len(s) { // one optional non-letter, non-digit, non-newline
		if c2, _ := classAt(s, i+n); c2&clsL != 0 {
			return scanClass(s, i+n, clsL)
		}
	}
	if c&clsN != 0 {
		j := i
		for k := 0; k < maxDigits && j < len(s); k++ {
			cj, nj := classAt(s, j)
			if cj&clsN == 0 {
				break
			}
			j += nj
		}
		return j
	}
	if s[i] == ' ' && i+1 < len(s) {
		if c2, _ := classAt(s, i+1); c2&(clsL|clsN|clsS) == 0 {
			return scanNewlines(s, scanOther(s, i+1))
		}
	}
	if c&(clsL|clsN|clsS) == 0 {
		return scanNewlines(s, scanOther(s, i))
	}
	// s[i] is whitespace. \s*[\r\n]+ ends just after the run's last newline.
	k := scanClass(s, i, clsS)
	if nl := strings.LastIndexAny(s[i:k], "\r\n"); nl >= 0 {
		return i + nl + 1
	}
	return whitespaceTail(s, i)
}

// contractionFold matches (?i:s|t|re|ve|m|ll|d) at the start of s (the text after an
// apostrophe) and returns its byte length, or 0. Case-insensitive matching uses
// Unicode simple case folding, under which U+017F LATIN SMALL LETTER LONG S is s.
func contractionFold(s string) int {
	if len(s) == 0 {
		return 0
	}
	lower := func(b byte) byte { return b | 0x20 } // ASCII letters only; callers compare with letters
	switch lower(s[0]) {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(s) > 1 && lower(s[1]) == 'e' {
			return 2
		}
	case 'l':
		if len(s) > 1 && lower(s[1]) == 'l' {
			return 2
		}
	}
	if strings.HasPrefix(s, "\u017f") {
		return len("\u017f")
	}
	return 0
}

// regexp2Matcher runs a pattern this package has no hand-written matcher for.
type regexp2Matcher struct{ re *regexp2.Regexp }

func (m regexp2Matcher) findAll(dst []span, s string) []span {
	runes := []rune(s)
	offs := make([]int, len(runes)+1) // rune index -> byte offset
	b := 0
	for i, r := range runes {
		offs[i] = b
		b += utf8.RuneLen(r)
	}
	offs[len(runes)] = b
	match, err := m.re.FindRunesMatch(runes)
	for err == nil && match != nil {
		dst = append(dst, span{offs[match.Index], offs[match.Index+match.Length]})
		match, err = m.re.FindNextMatch(match)
	}
	return dst
}

// literalMatcher finds a fixed string (Split's {"String": ...} pattern).
type literalMatcher struct{ lit string }

func (m literalMatcher) findAll(dst []span, s string) []span {
	if m.lit == "" {
		return dst
	}
	for i := 0; ; {
		j := strings.Index(s[i:], m.lit)
		if j < 0 {
			return dst
		}
		dst = append(dst, span{i + j, i + j + len(m.lit)})
		i += j + len(m.lit)
	}
}
