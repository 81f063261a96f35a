package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A tokenizer.json is mostly its model's vocab (up to ~150k entries) and merges
// (up to ~300k). encoding/json validates the document once per Unmarshal and
// allocates a string per entry; this scanner streams those two fields instead, so
// loading Llama-3's 9 MB file stays well under a second. Everything else is
// handed to encoding/json as raw bytes.

// jsonScanner reads JSON values from data, strictly: malformed input is an error
// naming the byte offset.
type jsonScanner struct {
	data []byte
	pos  int
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte (0 at the end).
func (s *jsonScanner) peek() byte {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

func (s *jsonScanner) expect(c byte) error {
	if s.peek() != c {
		if s.pos >= len(s.data) {
			return s.errorf("unexpected end, want %q", c)
		}
		return s.errorf("want %q, got %q", c, s.data[s.pos])
	}
	s.pos++
	return nil
}

// readString reads a JSON string and appends its unescaped bytes to dst.
func (s *jsonScanner) readString(dst []byte) ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return dst, err
	}
	start := s.pos
	for {
		if s.pos >= len(s.data) {
			return dst, s.errorf("unterminated string")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			seg := s.data[start:s.pos]
			s.pos++
			if !utf8.Valid(seg) {
				return dst, s.errorf("invalid UTF-8 in string")
			}
			return append(dst, seg...), nil
		case c == '\\':
			if !utf8.Valid(s.data[start:s.pos]) {
				return dst, s.errorf("invalid UTF-8 in string")
			}
			dst = append(dst, s.data[start:s.pos]...)
			var err error
			if dst, err = s.readEscape(dst); err != nil {
				return dst, err
			}
			start = s.pos
		case c < 0x20:
			return dst, s.errorf("control character in string")
		default:
			s.pos++
		}
	}
}

// readEscape reads one backslash escape (s.pos at the backslash).
func (s *jsonScanner) readEscape(dst []byte) ([]byte, error) {
	if s.pos+1 >= len(s.data) {
		return dst, s.errorf("unterminated escape")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(dst, c), nil
	case 'b':
		return append(dst, '\b'), nil
	case 'f':
		return append(dst, '\f'), nil
	case 'n':
		return append(dst, '\n'), nil
	case 'r':
		return append(dst, '\r'), nil
	case 't':
		return append(dst, '\t'), nil
	case 'u':
		r, err := s.readHex4()
		if err != nil {
			return dst, err
		}
		if utf16.IsSurrogate(r) {
			if r >= 0xDC00 || s.pos+1 >= len(s.data) || s.data[s.pos] != '\\' || s.data[s.pos+1] != 'u' {
				return dst, s.errorf("lone surrogate \\u%04X", r)
			}
			s.pos += 2
			r2, err := s.readHex4()
			if err != nil {
				return dst, err
			}
			r = utf16.DecodeRune(r, r2)
			if r == utf8.RuneError {
				return dst, s.errorf("invalid surrogate pair")
			}
		}
		return utf8.AppendRune(dst, r), nil
	}
	return dst, s.errorf("invalid escape \\%c", c)
}

func (s *jsonScanner) readHex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		return 0, s.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 16)
	if err != nil {
		return 0, s.errorf("bad \\u escape %q", s.data[s.pos:s.pos+4])
	}
	s.pos += 4
	return rune(v), nil
}

// readID reads a non-negative integer that fits a token id.
func (s *jsonScanner) readID() (int32, error) {
	s.skipSpace()
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	v, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, 32)
	if err != nil || s.pos == start {
		return 0, s.errorf("want a token id (a non-negative integer)")
	}
	return int32(v), nil
}

// skipValue skips one JSON value and returns its bytes, which encoding/json then
// decodes (and validates).
func (s *jsonScanner) skipValue() (json.RawMessage, error) {
	s.skipSpace()
	start := s.pos
	if s.pos >= len(s.data) {
		return nil, s.errorf("unexpected end, want a value")
	}
	switch s.data[s.pos] {
	case '"':
		if _, err := s.readString(nil); err != nil {
			return nil, err
		}
		return s.data[start:s.pos], nil
	case '{', '[':
		depth := 0
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case '"':
				if _, err := s.readString(nil); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.pos++
					return s.data[start:s.pos], nil
				}
			}
			s.pos++
		}
		return nil, s.errorf("unexpected end inside a value")
	}
	for s.pos < len(s.data) { // a literal: number, true, false, null
		switch s.data[s.pos] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.data[start:s.pos], nil
		}
		s.pos++
	}
	return s.data[start:s.pos], nil
}

// object reads an object, calling field for each key with the scanner positioned
// at the value, which field must consume.
func (s *jsonScanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	var keyBuf []byte
	for {
		var err error
		if keyBuf, err = s.readString(keyBuf[:0]); err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(keyBuf); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or '}' in object")
		}
	}
}

// array reads an array, calling elem with the scanner positioned at each element.
func (s *jsonScanner) array(elem func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or ']' in array")
		}
	}
}

// end checks that only whitespace follows.
func (s *jsonScanner) end() error {
	if s.peek() != 0 {
		return s.errorf("trailing data after the top-level value")
	}
	return nil
}
