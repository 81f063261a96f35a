package bt

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Comparison is WinsA wins of A over B and WinsB wins of B over A. Counts may be fractional
// (a tie is half a win each) but never negative.
type Comparison struct {
	A, B         string
	WinsA, WinsB float64
}

// Aggregate sums comparisons into one entry per unordered pair with A < B (byte order),
// sorted by (A, B). Self-comparisons and pairs with no wins at all are dropped.
func Aggregate(cs []Comparison) []Comparison {
	type key struct{ a, b string }
	sums := map[key]*Comparison{}
	for _, c := range cs {
		a, b, wa, wb := c.A, c.B, c.WinsA, c.WinsB
		if a == b {
			continue
		}
		if b < a {
			a, b, wa, wb = b, a, wb, wa
		}
		s := sums[key{a, b}]
		if s == nil {
			s = &Comparison{A: a, B: b}
			sums[key{a, b}] = s
		}
		s.WinsA += wa
		s.WinsB += wb
	}
	out := make([]Comparison, 0, len(sums))
	for _, s := range sums {
		if s.WinsA+s.WinsB > 0 {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out
}

// Format is an input file layout.
type Format int

const (
	// Detect picks the format from the file extension, then from the first byte of content.
	Detect Format = iota
	// JSONL is one JSON object per line.
	JSONL
	// JSONArray is a single JSON array of objects.
	JSONArray
	// CSV has a header row naming the columns.
	CSV
)

// ReadFile reads comparisons from path ("-" is not special here; see Read for readers).
func ReadFile(path string) ([]Comparison, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path, Detect)
}

// Read parses comparisons from r. name is used in error messages and, with Detect, for its
// extension (.jsonl/.ndjson → JSONL, .json → JSON array or JSONL, .csv/.tsv → CSV; otherwise
// the first non-space byte decides: '[' JSON array, '{' JSONL, else CSV).
//
// Each row is either {"winner": X, "loser": Y} (one comparison) or
// {"a": X, "b": Y, "wins_a": N, "wins_b": M}; item names are strings (JSON numbers are taken
// by their literal text); other fields are ignored. A CSV file has a header row with those
// column names and one row per comparison in either layout (cells of the unused layout empty).
func Read(r io.Reader, name string, format Format) ([]Comparison, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if format == Detect {
		format = detect(name, data)
	}
	var out []Comparison
	switch format {
	case JSONL:
		out, err = readJSONL(data, name)
	case JSONArray:
		out, err = readJSONArray(data, name)
	case CSV:
		out, err = readCSV(data, name)
	default:
		return nil, fmt.Errorf("%s: unknown format %d", name, format)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no comparisons", name)
	}
	return out, nil
}

func detect(name string, data []byte) Format {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
		return JSONL
	case ".csv":
		return CSV
	}
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return JSONArray
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return JSONL
	}
	return CSV
}

// row is one input record, field name → raw value, whatever the file format.
type row interface {
	// name returns the item name in field, whether the field is present and non-empty.
	name(field string) (string, bool, error)
	// count returns the number in field, whether the field is present and non-empty.
	count(field string) (float64, bool, error)
}

var fieldNames = []string{"winner", "loser", "a", "b", "wins_a", "wins_b"}

// parseRow turns one record into a Comparison, naming the offending field on error.
func parseRow(r row, file string, line int) (Comparison, error) {
	bad := func(field string, err error) (Comparison, error) {
		return Comparison{}, &rowerr.Error{Source: file, Row: line, Field: field, Err: err}
	}
	present := map[string]bool{}
	for _, f := range fieldNames {
		var ok bool
		var err error
		if f == "wins_a" || f == "wins_b" {
			_, ok, err = r.count(f)
		} else {
			_, ok, err = r.name(f)
		}
		if err != nil {
			return bad(f, err)
		}
		present[f] = ok
	}
	pairLayout := present["winner"] || present["loser"]
	countLayout := present["a"] || present["b"] || present["wins_a"] || present["wins_b"]
	switch {
	case pairLayout && countLayout:
		return bad("", errors.New(`row mixes "winner"/"loser" with "a"/"b"/"wins_a"/"wins_b"; use one layout`))
	case pairLayout:
		w, _, _ := r.name("winner")
		l, _, _ := r.name("loser")
		if !present["winner"] {
			return bad("winner", errors.New("missing"))
		}
		if !present["loser"] {
			return bad("loser", errors.New("missing"))
		}
		if w == l {
			return bad("loser", fmt.Errorf("same item as winner (%q)", w))
		}
		return Comparison{A: w, B: l, WinsA: 1}, nil
	case countLayout:
		for _, f := range []string{"a", "b", "wins_a", "wins_b"} {
			if !present[f] {
				return bad(f, errors.New("missing"))
			}
		}
		a, _, _ := r.name("a")
		b, _, _ := r.name("b")
		wa, _, _ := r.count("wins_a")
		wb, _, _ := r.count("wins_b")
		if a == b {
			return bad("b", fmt.Errorf("same item as a (%q)", a))
		}
		return Comparison{A: a, B: b, WinsA: wa, WinsB: wb}, nil
	}
	return bad("", errors.New(`row has neither "winner"/"loser" nor "a"/"b"/"wins_a"/"wins_b"`))
}

func checkCount(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("must be a finite non-negative number, got %v", v)
	}
	return nil
}

// jsonRow is a decoded JSON object.
type jsonRow map[string]json.RawMessage

func (j jsonRow) name(field string) (string, bool, error) {
	raw, ok := j[field]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return "", false, errors.New("empty item name")
		}
		return s, true, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true, nil
	}
	return "", false, fmt.Errorf("item name must be a string, got %s", abbrev(string(raw)))
}

func (j jsonRow) count(field string) (float64, bool, error) {
	raw, ok := j[field]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, fmt.Errorf("must be a number, got %s", abbrev(string(raw)))
	}
	if err := checkCount(v); err != nil {
		return 0, false, err
	}
	return v, true, nil
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func decodeObject(b []byte) (jsonRow, error) {
	var obj jsonRow
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, errors.New("not a JSON object: null")
	}
	return obj, nil
}

func readJSONL(data []byte, file string) ([]Comparison, error) {
	var out []Comparison
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		if len(text) == 0 {
			continue
		}
		obj, err := decodeObject(text)
		if err != nil {
			return nil, &rowerr.Error{Source: file, Row: line, Err: err}
		}
		c, err := parseRow(obj, file, line)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

func readJSONArray(data []byte, file string) ([]Comparison, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(bytes.TrimPrefix(bytes.TrimSpace(data), []byte("\ufeff")), &elems); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of objects: %v", file, err)
	}
	out := make([]Comparison, 0, len(elems))
	for i, raw := range elems {
		obj, err := decodeObject(raw)
		if err != nil {
			return nil, &rowerr.Error{Source: file, Row: i + 1, Err: err}
		}
		c, err := parseRow(obj, file, i+1)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// csvRow is one CSV record seen through its header.
type csvRow struct {
	cols   map[string]int
	record []string
}

func (c csvRow) cell(field string) (string, bool) {
	i, ok := c.cols[field]
	if !ok || i >= len(c.record) {
		return "", false
	}
	v := strings.TrimSpace(c.record[i])
	return v, v != ""
}

func (c csvRow) name(field string) (string, bool, error) {
	v, ok := c.cell(field)
	return v, ok, nil
}

func (c csvRow) count(field string) (float64, bool, error) {
	v, ok := c.cell(field)
	if !ok {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false, fmt.Errorf("must be a number, got %q", abbrev(v))
	}
	if err := checkCount(f); err != nil {
		return 0, false, err
	}
	return f, true, nil
}

func readCSV(data []byte, file string) ([]Comparison, error) {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := cols[h]; dup && h != "" {
			return nil, &rowerr.Error{Source: file, Row: 1, Field: h, Err: errors.New("column appears twice in the header")}
		}
		cols[h] = i
	}
	_, hasW := cols["winner"]
	_, hasA := cols["a"]
	if !hasW && !hasA {
		return nil, &rowerr.Error{Source: file, Row: 1, Err: fmt.Errorf(`header %q has neither "winner","loser" nor "a","b","wins_a","wins_b" columns`, strings.Join(header, ","))}
	}
	var out []Comparison
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		c, err := parseRow(csvRow{cols, rec}, file, line)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
