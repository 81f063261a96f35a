package config

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

func TestCheckNesting(t *testing.T) {
	deep := func(open string, n int) string { return strings.Repeat(open, n) }
	for _, c := range []struct {
		name, yaml string
		line       int // the line refused, 0: accepted
	}{
		{"the LLaMA-Factory DPO config", llamaFactoryDPO, 0},
		{"flow lists 100 deep", "a: " + deep("[", 100) + deep("]", 100), 0},
		{"flow lists 101 deep", "a: " + deep("[", 101) + deep("]", 101), 1},
		{"flow mappings 5000 deep", "x: 1\n" + deep("{", 5000), 2},
		{"lists beside lists stay shallow", "a: " + strings.Repeat("[[1], [2]], ", 500), 0},
		{"block sequences 101 deep on one line", deep("- ", 101) + "x\n", 1},
		{"block sequences 100 deep", deep("- ", 100) + "x\n", 0},
		{"complex keys 200 deep", "a: 1\nb:\n" + deep("? ", 200) + "x\n", 3},
		{"brackets in double quotes", `a: "` + deep("[", 500) + `\"` + deep("{", 500) + `"`, 0},
		{"brackets in single quotes", `a: '` + deep("[", 500) + `''` + deep("{", 500) + `'`, 0},
		{"brackets in a comment", "a: 1 # " + deep("[", 500) + "\nb: 2\n", 0},
		{"a quote inside a plain scalar opens nothing", "a: it's\nb: " + deep("[", 101), 2},
	} {
		err := checkNesting([]byte(c.yaml))
		var ce *Error
		switch {
		case c.line == 0 && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.line != 0 && !errors.As(err, &ce):
			t.Errorf("%s: accepted (%v)", c.name, err)
		case c.line != 0 && ce.Line != c.line:
			t.Errorf("%s: refused at line %d, want %d: %v", c.name, ce.Line, c.line, err)
		}
		if c.line != 0 { // Parse refuses it the same way, before decoding
			if _, perr := Parse([]byte(c.yaml), nil); perr == nil || perr.Error() != err.Error() {
				t.Errorf("%s: Parse says %v, want %v", c.name, perr, err)
			}
		}
	}
}

// TestClosestLongKeys holds Closest's length shortcut to the plain definition:
// every known name within the edit-distance limit or sharing a substring, nearest
// first, with the full edit distance computed for every name.
func TestClosestLongKeys(t *testing.T) {
	reference := func(key string, n int) []string {
		type cand struct {
			name string
			d    int
		}
		var cs []cand
		limit := max(2, len(key)/3)
		for name := range byName {
			d := editDistance(key, name)
			if d <= limit || (len(key) >= 4 && (strings.Contains(name, key) || strings.Contains(key, name))) {
				cs = append(cs, cand{name, d})
			}
		}
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].d != cs[j].d {
				return cs[i].d < cs[j].d
			}
			return cs[i].name < cs[j].name
		})
		var out []string
		for i := 0; i < len(cs) && i < n; i++ {
			out = append(out, cs[i].name)
		}
		return out
	}
	for _, key := range []string{
		"lerning_rate", "beta", "b", "", "max_len", "per_device_train_batch", "learning_rate_x",
		"xx_per_device_train_batch_size_xx", strings.Repeat("learning_rate", 20),
		strings.Repeat("q", 200) + "max_length" + strings.Repeat("q", 200), "loss", "_rate", "output_dirr",
	} {
		got, want := Closest(key, 3), reference(key, 3)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("Closest(%.40q) = %v, want %v", key, got, want)
		}
	}
}
