package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/preftune/preftune/atomicfile"
)

// Entry is one line of trainer_log.jsonl.
type Entry struct {
	Step   int
	Epoch  float64
	Values map[string]float64 // loss, grad_norm, learning_rate, rewards/..., or eval_...
}

// leading keys come first in a line, in this order (as TRL prints them); the rest
// follow sorted, then epoch and step.
var leading = []string{"loss", "grad_norm", "learning_rate", "eval_loss"}

// MarshalJSON writes the entry as one JSON object with a stable key order.
func (e Entry) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	put := func(k string, v float64) {
		if !first {
			b.WriteString(", ")
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteString(": ")
		b.WriteString(formatFloat(v))
	}
	done := map[string]bool{}
	for _, k := range leading {
		if v, ok := e.Values[k]; ok {
			put(k, v)
			done[k] = true
		}
	}
	keys := make([]string, 0, len(e.Values))
	for k := range e.Values {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		put(k, e.Values[k])
	}
	put("epoch", e.Epoch)
	if !first {
		b.WriteString(", ")
	}
	b.WriteString(`"step": ` + strconv.Itoa(e.Step) + "}")
	return b.Bytes(), nil
}

// formatFloat is the shortest decimal that reads back as v; non-finite values (which
// JSON lacks) are written as strings.
func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return `"NaN"`
	case math.IsInf(v, 1):
		return `"Infinity"`
	case math.IsInf(v, -1):
		return `"-Infinity"`
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// UnmarshalJSON reads a line written by MarshalJSON.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	e.Values = map[string]float64{}
	for k, v := range m {
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			switch x {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return fmt.Errorf("%s: %q is not a number", k, x)
			}
		default:
			return fmt.Errorf("%s: not a number", k)
		}
		switch k {
		case "step":
			e.Step = int(f)
		case "epoch":
			e.Epoch = f
		default:
			e.Values[k] = f
		}
	}
	return nil
}

// Log is an open trainer_log.jsonl.
type Log struct {
	f    *os.File
	path string
}

// CreateLog writes history to path atomically (replacing what was there) and opens it
// for appending.
func CreateLog(path string, history []Entry) (*Log, error) {
	var b bytes.Buffer
	for _, e := range history {
		line, _ := e.MarshalJSON()
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Log{f: f, path: path}, nil
}

// Append writes one line (a single write, so a crash never leaves half a line unless
// the filesystem itself tears the write).
func (l *Log) Append(e Entry) error {
	line, _ := e.MarshalJSON()
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// ReadLog reads a trainer_log.jsonl.
func ReadLog(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
