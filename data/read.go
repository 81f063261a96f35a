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

	"github.com/parquet-go/parquet-go"
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
	kind, gz := fileKindOf(path)
	if kind == kindUnknown {
		return fmt.Errorf("dataset %s: unsupported file type (supported: %s)", path, supportedExts)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("dataset %s: gzip: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	switch kind {
	case kindJSONL:
		return readJSONL(path, r, 0, fn)
	case kindJSON:
		return readJSON(path, r, fn)
	default:
		return readParquet(path, f, r, gz, fn)
	}
}

// readJSONL reads one JSON object per line; blank lines are skipped. firstLine is the
// number of lines already consumed by the caller.
func readJSONL(path string, r io.Reader, firstLine int, fn func(*Record) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	line := firstLine
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if line == 1 {
				b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
			}
			if len(bytes.TrimSpace(b)) > 0 {
				rec := &Record{Source: path, Row: line}
				rec.Fields, rec.Err = decodeObject(b)
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

// decodeObject parses one JSON value that must be an object.
func decodeObject(b []byte) (map[string]any, *RowError) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err, b)
	}
	if dec.More() {
		off := dec.InputOffset()
		return nil, &RowError{Err: ErrInvalidJSON, Msg: fmt.Sprintf("invalid JSON: unexpected data after the row's object at column %d", off+1)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &RowError{Err: ErrWrongType, Msg: fmt.Sprintf("row is a JSON %s, expected an object", jsonTypeName(v))}
	}
	return m, nil
}

// jsonError turns a decoding error into a row error with a column number.
func jsonError(err error, b []byte) *RowError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &RowError{Err: ErrInvalidJSON, Msg: fmt.Sprintf("invalid JSON at column %d: %v", se.Offset, se.Error())}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &RowError{Err: ErrInvalidJSON, Msg: "invalid JSON: unexpected end of line (is the object split over several lines? JSON Lines needs one row per line)"}
	}
	return &RowError{Err: ErrInvalidJSON, Msg: "invalid JSON: " + err.Error()}
}

// readJSON reads a .json file: a top-level array of row objects is streamed element
// by element; a file starting with '{' is read as JSON Lines, as Hugging Face datasets
// does.
func readJSON(path string, r io.Reader, fn func(*Record) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
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
			return readJSONArray(path, br, fn)
		case '{':
			return readJSONL(path, br, lines, fn)
		default:
			return &RowError{Source: path, Err: ErrInvalidJSON, Msg: fmt.Sprintf("invalid JSON: file starts with %q; expected an array of rows ('[') or JSON Lines ('{')", c)}
		}
	}
}

// readJSONArray streams the elements of a top-level JSON array.
func readJSONArray(path string, r io.Reader, fn func(*Record) error) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '['
		return &RowError{Source: path, Err: ErrInvalidJSON, Msg: "invalid JSON: " + err.Error()}
	}
	row := 0
	for dec.More() {
		row++
		start := dec.InputOffset()
		var v any
		if err := dec.Decode(&v); err != nil {
			// A syntax error inside an array leaves no way to find the next row.
			re := &RowError{Source: path, Row: row, Err: ErrInvalidJSON, Msg: "invalid JSON: " + err.Error()}
			if line := lineAt(path, start); line > 0 {
				re.Msg += fmt.Sprintf(" (the row starts on line %d)", line)
			}
			return re
		}
		rec := &Record{Source: path, Row: row}
		if m, ok := v.(map[string]any); ok {
			rec.Fields = m
		} else {
			rec.Err = &RowError{Source: path, Row: row, Err: ErrWrongType, Msg: fmt.Sprintf("row is a JSON %s, expected an object", jsonTypeName(v))}
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		re := &RowError{Source: path, Row: row + 1, Err: ErrInvalidJSON, Msg: "invalid JSON after the last row: " + err.Error()}
		return re
	}
	return nil
}

// lineAt returns the 1-based line of the first non-space byte at or after byte offset
// off of the (decompressed) file, or 0 when it cannot tell. Only the error path uses it.
func lineAt(path string, off int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var r io.Reader = f
	if _, gz := fileKindOf(path); gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return 0
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReader(r)
	line := 1
	for pos := int64(0); ; pos++ {
		c, err := br.ReadByte()
		if err != nil {
			return line
		}
		if pos >= off && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',' {
			return line
		}
		if c == '\n' {
			line++
		}
	}
}

// readParquet reads a Parquet file row by row into generic maps (nested lists and
// structs become []any and map[string]any).
func readParquet(path string, f *os.File, r io.Reader, gz bool, fn func(*Record) error) (err error) {
	var ra io.ReaderAt = f
	var size int64
	if gz {
		b, err := io.ReadAll(r) // Parquet needs random access: decompress into memory.
		if err != nil {
			return fmt.Errorf("dataset %s: gzip: %w", path, err)
		}
		ra, size = bytes.NewReader(b), int64(len(b))
	} else {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("dataset %s: %w", path, err)
		}
		size = st.Size()
	}
	// The Parquet decoder is third-party code reading untrusted bytes: turn a panic
	// on a corrupt file into an error.
	row := 0
	defer func() {
		if p := recover(); p != nil {
			err = &RowError{Source: path, Row: row, Err: ErrInvalidValue, Msg: fmt.Sprintf("corrupt Parquet file: %v", p)}
		}
	}()
	pf, err := parquet.OpenFile(ra, size)
	if err != nil {
		return fmt.Errorf("dataset %s: not a readable Parquet file: %w", path, err)
	}
	pr := parquet.NewReader(pf)
	defer pr.Close()
	for {
		row++
		m := map[string]any{}
		if err := pr.Read(&m); err != nil {
			if err == io.EOF {
				return nil
			}
			return &RowError{Source: path, Row: row, Err: ErrInvalidValue, Msg: "reading Parquet row: " + err.Error()}
		}
		if ferr := fn(&Record{Source: path, Row: row, Fields: m}); ferr != nil {
			return ferr
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
