package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the byte-level checks of the readers: the row size limit, invalid
// UTF-8, and finding which field of a row a byte offset falls in, so that both
// problems can be reported as file:row:field.

// DefaultMaxRowBytes is the default limit on the size of one row (one JSON Lines
// line, one element of a JSON array, one string of a Parquet row). 16 MiB of text is
// about four million tokens, far beyond any context length a preference pair is
// trained at, so a larger row is a broken file (a missing newline, a binary blob)
// rather than data. A row over the limit is reported invalid, naming the field being
// read when the limit was crossed, and skipped without being held in memory: reading
// keeps at most the limit of one row in memory.
const DefaultMaxRowBytes = 16 << 20

// ErrTooLarge marks a row over the size limit.
var ErrTooLarge = errors.New("row too large")

// ErrInvalidUTF8 marks text that is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("invalid UTF-8")

// ReadOptions control [ReadRecordsWith].
type ReadOptions struct {
	// MaxRowBytes limits the size of one row; 0 means DefaultMaxRowBytes, a negative
	// value means no limit.
	MaxRowBytes int
}

func (o ReadOptions) limit() int {
	switch {
	case o.MaxRowBytes == 0:
		return DefaultMaxRowBytes
	case o.MaxRowBytes < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxRowBytes
}

// readLine reads one line (with its '\n', if any) keeping at most limit bytes of it;
// the rest of an over-long line is read and discarded. n is the line's full length.
func readLine(br *bufio.Reader, buf []byte, limit int) (line []byte, n int, err error) {
	line = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		line = appendCapped(line, chunk, limit)
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, n, err
	}
}

// appendCapped appends as much of src to dst as fits in limit bytes, growing dst by
// doubling (append grows large slices by only 1.25×, which allocates several times
// the final size on the way to a big row).
func appendCapped(dst, src []byte, limit int) []byte {
	n := min(len(src), limit-len(dst))
	if n <= 0 {
		return dst
	}
	if need := len(dst) + n; need > cap(dst) {
		c := min(max(1<<bits.Len(uint(need-1)), 4096), limit) // the power of two ≥ need

		nb := make([]byte, len(dst), c)
		copy(nb, dst)
		dst = nb
	}
	return append(dst, src[:n]...)
}

// tooLarge builds the error for a row of n (or more) bytes over the limit; prefix is
// the row's first bytes, used to name the field the limit was crossed in.
func tooLarge(prefix []byte, n, limit int, complete bool) *RowError {
	size := strconv.Itoa(n) + " bytes"
	if !complete {
		size = "more than " + size
	}
	return &RowError{Err: ErrTooLarge, Field: fieldAt(prefix, len(prefix)),
		Msg: fmt.Sprintf("row too large: %s, over the %s limit (--max-row-bytes)", size, byteSize(limit))}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkUTF8 reports the first invalid UTF-8 byte of a row's JSON text, naming the
// field it is in.
// inLine says b is a whole line (offsets are columns) rather than an array element.
func checkUTF8(b []byte, inLine bool) *RowError {
	if utf8.Valid(b) {
		return nil
	}
	off := 0
	for off < len(b) {
		r, size := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		off += size
	}
	at := fmt.Sprintf("column %d", off+1)
	if !inLine {
		at = fmt.Sprintf("byte %d of the row", off+1)
	}
	return &RowError{Err: ErrInvalidUTF8, Field: fieldAt(b, off),
		Msg: fmt.Sprintf("invalid UTF-8: byte 0x%02x at %s (the file must be UTF-8 encoded)", b[off], at)}
}

// fieldAt returns the path (chosen, conversations[2].value) of the innermost value of
// the JSON object text b that contains byte offset off; when b ends (or breaks) before
// off, the path of the value being read there. It returns "" for offsets outside any
// field. It scans the bytes without decoding values, so a huge string costs no memory.
func fieldAt(b []byte, off int) string {
	type frame struct {
		obj     bool
		key     string
		idx     int
		wantKey bool
	}
	var stack []frame
	path := func() string {
		var p []byte
		for i, f := range stack {
			if f.obj {
				if f.wantKey {
					break
				}
				if i > 0 {
					p = append(p, '.')
				}
				p = append(p, f.key...)
			} else {
				p = append(p, '[')
				p = strconv.AppendInt(p, int64(f.idx), 10)
				p = append(p, ']')
			}
		}
		return string(p)
	}
	done := func() { // a value ended
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.obj {
			top.wantKey = true
		} else {
			top.idx++
		}
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch c {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		case '{', '[':
			if i >= off {
				return path()
			}
			stack = append(stack, frame{obj: c == '{', wantKey: c == '{'})
			i++
			continue
		case '}', ']':
			if i >= off || len(stack) == 0 {
				return path()
			}
			stack = stack[:len(stack)-1]
			done()
			i++
			continue
		}
		// A string or a literal: find its end.
		j := i + 1
		if c == '"' {
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			j++ // past the closing quote
		} else {
			for j < len(b) && !strings.ContainsRune(" \t\r\n,:]}", rune(b[j])) {
				j++
			}
		}
		if n := len(stack); c == '"' && n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			if j > len(b) { // the text ends inside the key: the object is the innermost field
				return path()
			}
			key := string(b[i+1 : min(j-1, len(b))])
			if strings.IndexByte(key, '\\') >= 0 {
				var k string
				if json.Unmarshal(b[i:min(j, len(b))], &k) == nil {
					key = k
				}
			}
			stack[n-1].key, stack[n-1].wantKey = strings.ToValidUTF8(key, "\uFFFD"), false
			if j > off {
				return path()
			}
			i = j
			continue
		}
		// A value ending right before off owns off too: a syntax error just after a
		// value (a bad delimiter) is reported in that value's field.
		if j >= off || j > len(b) {
			return path()
		}
		done()
		i = j
	}
	return path()
}

// checkStrings walks a decoded row (Parquet) for strings that are not valid UTF-8 or
// longer than limit, and reports the first with its path.
func checkStrings(v any, path string, limit int) *RowError {
	switch x := v.(type) {
	case string:
		if len(x) > limit {
			return &RowError{Err: ErrTooLarge, Field: path, Msg: fmt.Sprintf("row too large: a %d-byte string, over the %s limit (--max-row-bytes)", len(x), byteSize(limit))}
		}
		if !utf8.ValidString(x) {
			off := 0
			for off < len(x) {
				r, size := utf8.DecodeRuneInString(x[off:])
				if r == utf8.RuneError && size == 1 {
					break
				}
				off += size
			}
			return &RowError{Err: ErrInvalidUTF8, Field: path, Msg: fmt.Sprintf("invalid UTF-8: byte 0x%02x at offset %d of the string", x[off], off)}
		}
	case []byte:
		return checkStrings(string(x), path, limit)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if e := checkStrings(x[k], p, limit); e != nil {
				return e
			}
		}
	case []any:
		for i, e := range x {
			if re := checkStrings(e, path+"["+strconv.Itoa(i)+"]", limit); re != nil {
				return re
			}
		}
	}
	return nil
}

// arrayScanner splits a JSON array into its elements without decoding them, so that
// an element that is not valid JSON, not UTF-8 or too large is reported and skipped
// and the next one still read, and an element is never held past the size limit.
type arrayScanner struct {
	br    *bufio.Reader
	line  int // current 1-based line
	limit int
	buf   []byte
}

// errArrayEnd is returned by next at the closing bracket.
var errArrayEnd = errors.New("end of array")

// element is one scanned array element.
type element struct {
	text     []byte // at most limit bytes
	size     int    // full size
	line     int    // line it starts on
	complete bool   // the element ended (false: the file ended inside it)
}

func (s *arrayScanner) readByte() (byte, error) {
	c, err := s.br.ReadByte()
	if err == nil && c == '\n' {
		s.line++
	}
	return c, err
}

func (s *arrayScanner) skipSpace() (byte, error) {
	for {
		c, err := s.readByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, nil
		}
	}
}

// next returns the next element. first says whether it is the first one (no comma
// expected before it). It scans the reader's buffer in place, a chunk at a time.
func (s *arrayScanner) next(first bool) (element, error) {
	c, err := s.skipSpace()
	if err != nil {
		return element{}, s.eof(err)
	}
	if c == ']' {
		return element{}, errArrayEnd
	}
	if !first {
		if c != ',' {
			return element{}, fmt.Errorf("invalid JSON on line %d: expected ',' or ']' after an array element, found %q", s.line, c)
		}
		if c, err = s.skipSpace(); err != nil {
			return element{}, s.eof(err)
		}
	}
	if err := s.br.UnreadByte(); err != nil {
		return element{}, err
	}
	el := element{line: s.line}
	s.buf = s.buf[:0]
	depth, inStr, esc := 0, false, false
	scalar := c != '{' && c != '[' && c != '"'
	for !el.complete {
		if _, err := s.br.Peek(1); err != nil {
			if err == io.EOF {
				el.complete = scalar // a literal may end the file; anything else is cut off
				break
			}
			return el, err
		}
		chunk, _ := s.br.Peek(s.br.Buffered())
		i := 0
	scan:
		for ; i < len(chunk); i++ {
			c := chunk[i]
			switch {
			case scalar:
				if c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
					el.complete = true
					break scan
				}
			case inStr:
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
					if depth == 0 {
						el.complete = true
						i++
						break scan
					}
				}
			case c == '"':
				inStr = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth <= 0 {
					el.complete = true
					i++
					break scan
				}
			}
		}
		s.line += bytes.Count(chunk[:i], []byte{'\n'})
		el.size += i
		s.buf = appendCapped(s.buf, chunk[:i], s.limit)
		if _, err := s.br.Discard(i); err != nil {
			return el, err
		}
	}
	el.text = s.buf
	return el, nil
}

func (s *arrayScanner) eof(err error) error {
	if err == io.EOF {
		return fmt.Errorf("invalid JSON: the file ends inside the top-level array (no closing ']')")
	}
	return err
}
