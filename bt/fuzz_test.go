package bt

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead reads arbitrary comparison files (JSONL, JSON array, CSV, or
// detected) and fits what loads. Reading must give comparisons with finite,
// non-negative win counts or an error; fitting may refuse (a disconnected
// graph, ...) but never panic or return non-finite strengths.
// `go test -run '^$' -fuzz '^FuzzRead$' ./bt` explores.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	for _, p := range files {
		if filepath.Ext(p) == ".md" || filepath.Base(p) == "golden.json" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	for _, s := range []string{
		`{"winner": "A", "loser": "B"}` + "\n" + `{"winner": 1, "loser": 2.50}`,
		`[{"a": "A", "b": "B", "wins_a": 1e308, "wins_b": 1e308}, {"a": "B", "b": "A", "wins_a": -1, "wins_b": "x"}]`,
		"a,b,wins_a,wins_b\nA,B,1,2\nB,C,,\n,,NaN,Inf\n",
		"winner,loser\nA,B\n\"B\nC\",A\n",
		`{"a": "A", "b": "A", "wins_a": 3, "wins_b": 0}`,
		"\ufeff[]",
	} {
		f.Add([]byte(s), uint8(1))
	}
	names := []string{"f", "f.jsonl", "f.json", "f.csv"}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		if len(data) > 1<<14 {
			return
		}
		cs, err := Read(bytes.NewReader(data), names[int(which)%len(names)], Detect)
		if err != nil {
			return
		}
		items := map[string]bool{}
		for _, c := range cs {
			if !(c.WinsA >= 0 && c.WinsB >= 0) || math.IsInf(c.WinsA, 0) || math.IsInf(c.WinsB, 0) {
				t.Fatalf("accepted comparison %+v", c)
			}
			items[c.A], items[c.B] = true, true
		}
		if len(items) > 40 {
			return // Newton's method is cubic in the items; the readers are what is fuzzed
		}
		for _, fit := range []func([]Comparison, Options) (*Fit, error){FitBT, FitThurstone} {
			res, err := fit(cs, Options{MaxIter: 30, L2: 0.01})
			if err != nil {
				continue
			}
			for _, it := range res.Items {
				if math.IsNaN(it.Strength) || math.IsInf(it.Strength, 0) {
					t.Fatalf("item %q: strength %v", it.Name, it.Strength)
				}
			}
		}
	})
}
