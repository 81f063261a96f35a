package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// decoder is one of HF's decoders: it rewrites the list of token strings
// (decode_chain); Decode concatenates what the last one returns.
type decoder interface {
	decodeChain(tokens []string) []string
}

type sequenceDecoder []decoder

func (q sequenceDecoder) decodeChain(tokens []string) []string {
	for _, d := range q {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}

// byteLevelDecoder maps byte-level characters back to bytes across all tokens and
// reads the result as UTF-8, invalid sequences becoming U+FFFD.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(tokens []string) []string {
	var raw []byte
	for _, t := range tokens {
		raw = byteLevelDecodeToken(raw, t)
	}
	if utf8.Valid(raw) {
		return []string{string(raw)}
	}
	return []string{string(appendLossyUTF8(nil, raw))}
}

// replaceDecoder replaces a literal or regex in each token.
type replaceDecoder struct{ r replaceNormalizer }

func (d replaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = d.r.normalize(t)
	}
	return out
}

// byteFallbackDecoder turns runs of "<0xNN>" tokens into the string their bytes
// spell, or one U+FFFD per byte when those bytes are not valid UTF-8.
type byteFallbackDecoder struct{}

func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	lo, ok := hexVal(t[4])
	if t[3] == '+' { // Rust's u8::from_str_radix accepts a sign: "<0x+A>" is byte 10
		return lo, ok
	}
	hi, okHi := hexVal(t[3])
	return hi<<4 | lo, ok && okHi
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (byteFallbackDecoder) decodeChain(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDecoder joins all tokens into one.
type fuseDecoder struct{}

func (fuseDecoder) decodeChain(tokens []string) []string {
	return []string{strings.Join(tokens, "")}
}

// stripDecoder removes up to start leading and stop trailing copies of content
// from each token.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (d stripDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		chars := []rune(t)
		startCut := 0
		for j := 0; j < d.start && j < len(chars) && chars[j] == d.content; j++ {
			startCut = j + 1
		}
		stopCut := len(chars)
		for j := 0; j < d.stop && j < len(chars) && chars[len(chars)-j-1] == d.content; j++ {
			stopCut = len(chars) - j - 1
		}
		if stopCut < startCut {
			stopCut = startCut
		}
		out[i] = string(chars[startCut:stopCut])
	}
	return out
}

// metaspaceDecoder turns the replacement character back into spaces; in the first
// token (unless prepend_scheme is "never") it is dropped instead.
type metaspaceDecoder struct {
	replacement rune
	prepend     prependScheme
}

func (d metaspaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		var b strings.Builder
		for _, r := range t {
			switch {
			case r != d.replacement:
				b.WriteRune(r)
			case i == 0 && d.prepend != prependNever:
			default:
				b.WriteByte(' ')
			}
		}
		out[i] = b.String()
	}
	return out
}
