package data

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestFieldAt checks the byte offset → field path lookup used to name the field of an
// invalid-UTF-8 byte or of the point where a row crossed the size limit. Offsets are
// counted by hand in the comments.
func TestFieldAt(t *testing.T) {
	const row = `{"prompt": "p", "chosen": [{"role": "assistant", "content": "abc"}], "n": 12}`
	// Offsets: `{"prompt": ` is 0..10, the value "p" is 11..13, `, ` 14..15,
	// "chosen" key 16..23, `: ` 24..25, `[` 26, `{` 27, "role" 28..33, `: ` 34..35,
	// "assistant" 36..46, `, ` 47..48, "content" 49..57, `: ` 58..59, "abc" 60..64,
	// `}` 65, `]` 66, `, ` 67..68, "n" 69..71, `: ` 72..73, 12 74..75, `}` 76.
	tests := []struct {
		off  int
		want string
	}{
		{0, ""},
		{3, "prompt"}, // inside the key "prompt"
		{12, "prompt"},
		{20, "chosen"},
		{30, "chosen[0].role"},
		{40, "chosen[0].role"},
		{62, "chosen[0].content"},
		{75, "n"},
		{1000, ""}, // past the end: outside every field
	}
	for _, tc := range tests {
		if got := fieldAt([]byte(row), tc.off); got != tc.want {
			t.Errorf("fieldAt(%d) = %q, want %q", tc.off, got, tc.want)
		}
	}
	// A truncated row: the field being read where it breaks off.
	for _, tc := range []struct {
		end  int
		want string
	}{
		{62, "chosen[0].content"}, // inside the value "abc"
		{52, "chosen[0]"},         // inside the key "content": not a field yet
		{20, ""},                  // inside the key "chosen"
		{26, "chosen"},            // after `"chosen": `
	} {
		if got := fieldAt([]byte(row[:tc.end]), tc.end); got != tc.want {
			t.Errorf("truncated at %d: %q, want %q", tc.end, got, tc.want)
		}
	}
}

// writeHugeField writes a one-row file whose chosen field is size bytes, streaming so
// the test itself does not hold it.
func writeHugeField(t *testing.T, path string, size int, array bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if array {
		w.WriteString("[\n")
	}
	w.WriteString(`{"prompt": "p", "chosen": "`)
	chunk := strings.Repeat("a", 1<<16)
	for n := 0; n < size; n += len(chunk) {
		w.WriteString(chunk[:min(len(chunk), size-n)])
	}
	w.WriteString(`", "rejected": "b"}` + "\n")
	if array {
		w.WriteString("]\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHugeField: a 50 MB field is over the default 16 MiB row limit. It is reported
// with file:row:field, and reading it allocates well under its size (the row is never
// held whole).
func TestHugeField(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2×50 MB to a temp dir")
	}
	const size = 50_000_000
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		array bool
		want  string
	}{
		// The row: `{"prompt": "p", "chosen": "` (27) + 50,000,000 + `", "rejected": "b"}` (19).
		{"huge.jsonl", false, "huge.jsonl:1:chosen: row too large: 50000046 bytes, over the 16 MiB limit (--max-row-bytes)"},
		{"huge.json", true, "huge.json:1:chosen: row too large: 50000046 bytes, over the 16 MiB limit (--max-row-bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			writeHugeField(t, p, size, tc.array)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ds, err := Load(p, Options{Policy: PolicyDrop})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Report.Issues) != 1 || strings.TrimPrefix(ds.Report.Issues[0].Error(), dir+"/") != tc.want {
				t.Fatalf("issues %v, want %q", ds.Report.Issues, tc.want)
			}
			if !errors.Is(ds.Report.Issues[0].RowError, ErrTooLarge) {
				t.Errorf("not ErrTooLarge")
			}
			// Holding the row would take ≥ 50 MB (decoding it, ≥ 100 MB); the bounded
			// buffer grows by doubling to 16 MiB: about 32 MiB in all.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
				t.Errorf("reading allocated %d MiB; the row should not be held whole", alloc>>20)
			}
			// Under the default strict policy it is the error.
			if _, err := Load(p, Options{}); err == nil || !strings.Contains(err.Error(), ":1:chosen: row too large") {
				t.Errorf("strict: %v", err)
			}
		})
	}
}
