package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites one piece of input text (the text between added tokens)
// before pre-tokenization, as HF's normalizers do.
type normalizer interface {
	normalize(s string) string
}

type sequenceNormalizer []normalizer

func (q sequenceNormalizer) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// unicodeNormalizer is NFC, NFD, NFKC or NFKD. norm.Form.String returns s itself
// when it is already normalized, so the common case allocates nothing.
type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(s string) string { return u.form.String(s) }

// lowercaseNormalizer lowercases rune by rune like Rust's char::to_lowercase: the
// simple mappings, plus U+0130 (İ) which lowercases to "i" + U+0307. No
// context-dependent final-sigma rule (HF maps characters one at a time).
type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(s string) string {
	if !strings.ContainsRune(s, '\u0130') {
		return strings.Map(unicode.ToLower, s)
	}
	var b strings.Builder
	for _, r := range s {
		if r == '\u0130' {
			b.WriteString("i\u0307")
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// stripNormalizer removes leading and/or trailing White_Space.
type stripNormalizer struct{ left, right bool }

func (st stripNormalizer) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// prependNormalizer adds a prefix to every non-empty piece (SentencePiece's "▁").
type prependNormalizer struct{ prefix string }

func (p prependNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

// replaceNormalizer replaces every match of a literal or regex with content.
type replaceNormalizer struct {
	m       matcher
	content string
}

func (r replaceNormalizer) normalize(s string) string {
	if lit, ok := r.m.(literalMatcher); ok {
		if lit.lit == "" {
			return s
		}
		return strings.ReplaceAll(s, lit.lit, r.content)
	}
	matches := r.m.findAll(nil, s)
	if len(matches) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, m := range matches {
		b.WriteString(s[prev:m.start])
		b.WriteString(r.content)
		prev = m.end
	}
	b.WriteString(s[prev:])
	return b.String()
}

// prependReplaceNormalizer is Sequence[Prepend(prefix), Replace(old -> new)] (the
// Llama-2/Mistral normalizer) done in one pass and one allocation. It is only
// built when it equals the two steps: old is one character that the prefix does
// not contain, so no match can involve the prefix.
type prependReplaceNormalizer struct {
	prefix, old, new string
}

func (n prependReplaceNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(n.prefix) + len(s) + strings.Count(s, n.old)*(len(n.new)-len(n.old)))
	b.WriteString(n.prefix)
	for {
		i := strings.Index(s, n.old)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(n.new)
		s = s[i+len(n.old):]
	}
	b.WriteString(s)
	return b.String()
}

// fuse returns the one-pass form of a Prepend+Replace sequence when it is exact.
func (q sequenceNormalizer) fuse() normalizer {
	if len(q) != 2 {
		return q
	}
	p, ok1 := q[0].(prependNormalizer)
	r, ok2 := q[1].(replaceNormalizer)
	if !ok1 || !ok2 {
		return q
	}
	lit, ok := r.m.(literalMatcher)
	if !ok || utf8.RuneCountInString(lit.lit) != 1 || strings.Contains(p.prefix, lit.lit) {
		return q
	}
	return prependReplaceNormalizer{p.prefix, lit.lit, r.content}
}
