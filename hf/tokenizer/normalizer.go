package tokenizer

import (
	"strings"
	"unicode"

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
