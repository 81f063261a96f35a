package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Record is one raw row of a dataset file, before format conversion.
type Record struct {
	Source string
	Row    int            // 1-based; the line number for JSON Lines
	Fields map[string]any // nil when Err is set
	// Err is set when the row could not be parsed (invalid JSON, not an object). The
	// reader goes on with the next row where the file format allows it (JSON Lines).
	Err *RowError
}

// fileKind is the container format of a dataset file.
type fileKind int

const (
	kindUnknown fileKind = iota
	kindJSON             // a JSON array of objects (or JSON Lines in a .json file)
	kindJSONL
	kindParquet
)

// fileKindOf classifies a path by its extension; a trailing .gz is looked through.
func fileKindOf(path string) (kind fileKind, gz bool) {
	name := strings.ToLower(filepath.Base(path))
	if strings.HasSuffix(name, ".gz") {
		gz = true
		name = strings.TrimSuffix(name, ".gz")
	}
	switch filepath.Ext(name) {
	case ".json":
		return kindJSON, gz
	case ".jsonl", ".ndjson":
		return kindJSONL, gz
	case ".parquet":
		return kindParquet, gz
	}
	return kindUnknown, gz
}

// supportedExts is what error messages list.
const supportedExts = ".json, .jsonl, .ndjson, .parquet (optionally .gz)"

// ReadRecords streams the rows of one dataset file (JSON array, JSON Lines or Parquet,
// optionally gzip-compressed) to fn. A row that cannot be parsed is passed with
// Record.Err set; an error that makes the rest of the file unreadable is returned.
// An error returned by fn stops the reading and is returned as is.
func ReadRecords(path string, fn func(*Record) error) error {
	return ReadRecordsWith(path, ReadOptions{}, fn)
}

// ReadRecordsWith is [ReadRecords] with options. Besides unparsable rows, a row over
// the size limit and a row whose text is not valid UTF-8 are passed with Record.Err
// set (ErrTooLarge, ErrInvalidUTF8), naming the field concerned.
func ReadRecordsWith(path string, o ReadOptions, fn func(*Record) error) error {
	if kind, _ := fileKindOf(path); kind == kindUnknown {
		return fmt.Errorf("dataset %s: unsupported file type (supported: %s)", path, supportedExts)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", path, err)
	}
	defer f.Close()
	return readRecordsFrom(path, f, o, fn)
}

// readRecordsFrom is [ReadRecordsWith] on the content of a file already open (or
// held in memory): name, the file's path, gives the format by its extension and is
// the source every record and error names. Parquet needs random access: src is read
// in place when it is an io.ReaderAt with a size (*os.File, *bytes.Reader), into
// memory otherwise.
func readRecordsFrom(name string, src io.Reader, o ReadOptions, fn func(*Record) error) error {
	limit := o.limit()
	kind, gz := fileKindOf(name)
	if kind == kindUnknown {
		return fmt.Errorf("dataset %s: unsupported file type (supported: %s)", name, supportedExts)
	}
	r := src
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return fmt.Errorf("dataset %s: gzip: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	switch kind {
	case kindJSONL:
		return readJSONL(name, r, 0, limit, fn)
	case kindJSON:
		return readJSON(name, r, limit, fn)
	}
	var ra io.ReaderAt
	var size int64
	sized, isSized := src.(interface {
		io.ReaderAt
		Size() int64
	})
	switch f, isFile := src.(*os.File); {
	case gz:
		b, err := io.ReadAll(r) // Parquet needs random access: decompress into memory.
		if err != nil {
			return fmt.Errorf("dataset %s: gzip: %w", name, err)
		}
		ra, size = bytes.NewReader(b), int64(len(b))
	case isFile:
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("dataset %s: %w", name, err)
		}
		ra, size = f, st.Size()
	case isSized:
		ra, size = sized, sized.Size()
	default:
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", name, err)
		}
		ra, size = bytes.NewReader(b), int64(len(b))
	}
	return readParquet(name, ra, size, limit, fn)
}

// readBufferSize is the buffer the JSON readers read a file through.
const readBufferSize = 1 << 16

// readerPool keeps the readers' buffers for the next file: a load of many small
// files (and the fuzzer, which reads thousands a second) would otherwise allocate
// and clear 64 KiB for each.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// linePool keeps readJSONL's line buffers for the next file, as readerPool the
// read buffers. Records hold no part of a line: they are decoded from it.
var linePool = sync.Pool{New: func() any { return new([]byte) }}

// bufferedReader returns r read through a pooled buffer, or r itself when it is one
// already (readJSON hands its reader to readJSONL), and the function that gives the
// buffer back. Nothing read may alias the buffer after release: the readers copy
// what they keep (appendCapped).
func bufferedReader(r io.Reader) (*bufio.Reader, func()) {
	if br, ok := r.(*bufio.Reader); ok && br.Size() >= readBufferSize {
		return br, func() {}
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br, func() { br.Reset(nil); readerPool.Put(br) }
}

// readJSONL reads one JSON object per line; blank lines are skipped. firstLine is the
// number of lines already consumed by the caller.
func readJSONL(path string, r io.Reader, firstLine, limit int, fn func(*Record) error) error {
	br, release := bufferedReader(r)
	defer release()
	line := firstLine
	bp := linePool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= readBufferSize { // a huge row's buffer is not kept
			*bp = buf[:0]
			linePool.Put(bp)
		}
	}()
	for {
		b, n, err := readLine(br, buf, limit)
		buf = b[:0]
		if n > 0 {
			line++
			if line == 1 {
				b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
			}
			size := n
			if err == nil {
				size-- // the newline
			}
			// only the first limit bytes of a line are kept: a longer line is a row (too
			// large) even when those bytes are blank, since its tail is not seen
			if size > limit || len(bytes.TrimSpace(b)) > 0 {
				rec := &Record{Source: path, Row: line}
				if size > limit {
					rec.Err = tooLarge(b, size, limit, true)
				} else {
					rec.Fields, rec.Err = decodeObject(b, true)
				}
				if rec.Err != nil {
					rec.Err.Source, rec.Err.Row = path, line
					rec.Fields = nil
				}
				if ferr := fn(rec); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dataset %s line %d: %w", path, line+1, err)
		}
	}
}

// decodeObject parses one JSON value that must be an object. Syntax errors give the
// column when b is a whole line (inLine).
func decodeObject(b []byte, inLine bool) (map[string]any, *RowError) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		e := jsonError(err, inLine)
		// Name the field the error is in: where the syntax breaks, or the one being
		// read when the text ends.
		off := len(b)
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 {
			off = int(se.Offset) - 1
		}
		e.Field = fieldAt(b, off)
		return nil, e
	}
	if dec.More() {
		off := dec.InputOffset()
		return nil, &RowError{Err: ErrInvalidJSON, Msg: fmt.Sprintf("invalid JSON: unexpected data after the row's object at column %d", off+1)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &RowError{Err: ErrWrongType, Msg: fmt.Sprintf("row is a JSON %s, expected an object", jsonTypeName(v))}
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD: refuse it instead.
	if e := checkUTF8(b, inLine); e != nil {
		return nil, e
	}
	keepToolOrder(b, m) // tools/tool_calls keep their key order for the chat template
	return m, nil
}

// jsonError turns a decoding error into a row error with a column number.
func jsonError(err error, inLine bool) *RowError {
	var se *json.SyntaxError
	if errors.As(err, &se) && inLine {
		return &RowError{Err: ErrInvalidJSON, Msg: fmt.Sprintf("invalid JSON at column %d: %v", se.Offset, se.Error())}
	}
	if (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && !inLine {
		return &RowError{Err: ErrInvalidJSON, Msg: "invalid JSON: the row ends too early"}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &RowError{Err: ErrInvalidJSON, Msg: "invalid JSON: unexpected end of line (is the object split over several lines? JSON Lines needs one row per line)"}
	}
	return &RowError{Err: ErrInvalidJSON, Msg: "invalid JSON: " + err.Error()}
}

// readJSON reads a .json file: a top-level array of row objects is streamed element
// by element; a file starting with '{' is read as JSON Lines, as Hugging Face datasets
// does.
func readJSON(path string, r io.Reader, limit int, fn func(*Record) error) error {
	br, release := bufferedReader(r)
	defer release()
	// Peek at the first non-space byte, counting the lines it skips.
	lines := 0
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil // empty file: no rows
		}
		if err != nil {
			return fmt.Errorf("dataset %s: %w", path, err)
		}
		if c == 0xef { // UTF-8 byte order mark
			if rest, _ := br.Peek(2); bytes.Equal(rest, []byte{0xbb, 0xbf}) {
				br.Discard(2)
				continue
			}
		}
		if c == '\n' {
			lines++
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if err := br.UnreadByte(); err != nil {
			return fmt.Errorf("dataset %s: %w", path, err)
		}
		switch c {
		case '[':
			return readJSONArray(path, br, lines+1, limit, fn)
		case '{':
			return readJSONL(path, br, lines, limit, fn)
		default:
			return &RowError{Source: path, Err: ErrInvalidJSON, Msg: fmt.Sprintf("invalid JSON: file starts with %q; expected an array of rows ('[') or JSON Lines ('{')", c)}
		}
	}
}

// readJSONArray streams the elements of a top-level JSON array; line is the line of
// the opening bracket. An element that is not valid JSON is reported and the next one
// read: elements are delimited by bracket depth, so an error inside one does not lose
// the others. Only a broken array structure (no comma between elements, no closing
// bracket) stops reading.
func readJSONArray(path string, br *bufio.Reader, line, limit int, fn func(*Record) error) error {
	if _, err := br.ReadByte(); err != nil { // '['
		return &RowError{Source: path, Err: ErrInvalidJSON, Msg: "invalid JSON: " + err.Error()}
	}
	s := &arrayScanner{br: br, line: line, limit: limit}
	for row := 1; ; row++ {
		el, err := s.next(row == 1)
		if err == errArrayEnd {
			return nil
		}
		if err != nil {
			return &RowError{Source: path, Row: row, Err: ErrInvalidJSON, Msg: err.Error()}
		}
		rec := &Record{Source: path, Row: row}
		switch {
		case el.size > limit:
			rec.Err = tooLarge(el.text, el.size, limit, el.complete)
		case !el.complete:
			return &RowError{Source: path, Row: row, Err: ErrInvalidJSON,
				Msg: fmt.Sprintf("invalid JSON: the file ends inside this row (the row starts on line %d)", el.line)}
		default:
			rec.Fields, rec.Err = decodeObject(el.text, false)
			if rec.Err != nil && rec.Err.Err == ErrInvalidJSON {
				rec.Err.Msg += fmt.Sprintf(" (the row starts on line %d)", el.line)
			}
		}
		if rec.Err != nil {
			rec.Err.Source, rec.Err.Row = path, row
			rec.Fields = nil
		}
		if err := fn(rec); err != nil {
			return err
		}
		if !el.complete { // an over-long element the file ended in
			return nil
		}
	}
}

// expandPath turns a file or directory into the list of dataset files it names.
// A directory contributes its supported files (not recursively), sorted by name.
func expandPath(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		if e.IsDir() || e.Name() == registryFile {
			continue
		}
		if k, _ := fileKindOf(e.Name()); k != kindUnknown {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("directory %s has no dataset files (%s)", path, supportedExts)
	}
	return files, nil
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, float32, int, int32, int64, uint32, uint64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
