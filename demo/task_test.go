package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSplit: the split partitions 101–999 (no multiples of 100) into disjoint train and
// held-out sets, and depends only on the seed.
func TestSplit(t *testing.T) {
	a, b, c := NewSplit(1), NewSplit(1), NewSplit(2)
	if !slices.Equal(a.Train, b.Train) || !slices.Equal(a.HeldOut, b.HeldOut) || !slices.Equal(a.Plain, b.Plain) {
		t.Fatal("the same seed gave different splits")
	}
	if slices.Equal(a.HeldOut, c.HeldOut) {
		t.Error("seeds 1 and 2 gave the same held-out set")
	}
	if len(a.HeldOut) != HeldOutCount || len(a.Train)+len(a.HeldOut) != 891 || len(a.Plain) != 108 {
		t.Errorf("sizes: train %d, held-out %d, plain %d", len(a.Train), len(a.HeldOut), len(a.Plain))
	}
	seen := map[int]string{}
	for name, list := range map[string][]int{"train": a.Train, "held-out": a.HeldOut, "plain": a.Plain} {
		for _, n := range list {
			if prev, dup := seen[n]; dup {
				t.Fatalf("%d is in %s and %s", n, prev, name)
			}
			seen[n] = name
			if (name == "plain") == HasStyle(n) {
				t.Errorf("%d in %s, HasStyle %v", n, name, HasStyle(n))
			}
		}
	}
	for n := 1; n <= 999; n++ {
		if _, ok := seen[n]; !ok {
			t.Errorf("%d is in no set", n)
		}
	}
}

// TestNoLeak: no held-out prompt appears in the SFT corpus or the DPO training pairs.
func TestNoLeak(t *testing.T) {
	s := NewSplit(DefaultSeed)
	held := map[string]bool{}
	for _, n := range s.HeldOut {
		held[Prompt(n)] = true
	}
	for _, r := range SFTRows(s, DefaultSeed) {
		if held[r.Prompt] {
			t.Fatalf("held-out prompt %q in the SFT corpus", r.Prompt)
		}
	}
	for _, r := range PreferencePairs(s.Train) {
		if held[r.Prompt] {
			t.Fatalf("held-out prompt %q in the DPO pairs", r.Prompt)
		}
	}
}

// TestSFTRows: each two-spelling training number has exactly one American row in
// SFTRowsPerNumber; the shuffle depends only on the seed.
func TestSFTRows(t *testing.T) {
	s := NewSplit(DefaultSeed)
	rows := SFTRows(s, DefaultSeed)
	if want := SFTRowsPerNumber * (len(s.Train) + len(s.Plain)); len(rows) != want {
		t.Fatalf("%d rows, want %d", len(rows), want)
	}
	american := map[string]int{}
	for _, r := range rows {
		n, ok := ParsePrompt(r.Prompt)
		if !ok {
			t.Fatalf("bad prompt %q", r.Prompt)
		}
		if !Correct(r.Prompt, r.Chosen) || !Correct(r.Prompt, r.Rejected) {
			t.Fatalf("row %+v spells the wrong number", r)
		}
		if HasStyle(n) && r.Chosen == Completion(n, false) {
			american[r.Prompt]++
		}
	}
	for _, n := range s.Train {
		if american[Prompt(n)] != 1 {
			t.Errorf("%d: %d American rows", n, american[Prompt(n)])
		}
	}
	if !slices.Equal(rows, SFTRows(s, DefaultSeed)) {
		t.Error("the same seed gave a different order")
	}
	if slices.Equal(rows, SFTRows(s, DefaultSeed+1)) {
		t.Error("another seed gave the same order")
	}
}

// TestGeneratorFiles: the written JSONL is byte-identical for the same seed and loads
// as TRL standard pairs.
func TestGeneratorFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, seed uint64) []byte {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := WriteJSONL(p, PreferencePairs(NewSplit(seed).Train)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := write("a.jsonl", 5), write("b.jsonl", 5), write("c.jsonl", 6)
	if string(a) != string(b) {
		t.Error("same seed, different files")
	}
	if string(a) == string(c) {
		t.Error("different seeds, same files")
	}
	n := NewSplit(5).Train[0]
	want := fmt.Sprintf(`{"prompt":"%d in words:","chosen":" %s","rejected":" %s"}`+"\n", n, Words(n, false), Words(n, true))
	if first := string(a[:len(want)]); first != want {
		t.Errorf("first row %s, want %s", first, want)
	}
}

// TestParsePrompt round-trips every task prompt and rejects near misses.
func TestParsePrompt(t *testing.T) {
	for n := 0; n <= 999; n++ {
		if got, ok := ParsePrompt(Prompt(n)); !ok || got != n {
			t.Fatalf("ParsePrompt(%q) = %d, %v", Prompt(n), got, ok)
		}
	}
	for _, p := range []string{"", "in words:", "1000 in words:", "01 in words:", "1 in words", "x in words:", "1e2 in words:"} {
		if _, ok := ParsePrompt(p); ok {
			t.Errorf("ParsePrompt(%q) accepted", p)
		}
	}
}
