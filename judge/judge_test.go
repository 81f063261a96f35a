package judge

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestBuiltinJudges(t *testing.T) {
	digits := regexp.MustCompile(`^\d+$`)
	tests := []struct {
		name            string
		f               Func
		completion, ref string
		want            float64
	}{
		{"exact equal", Exact, "Paris", "Paris", 1},
		{"exact trims space", Exact, "  Paris\n", "Paris ", 1},
		{"exact is case sensitive", Exact, "paris", "Paris", 0},
		{"exact substring is not a match", Exact, "Paris, France", "Paris", 0},
		{"exact empty vs empty", Exact, "", "", 1},
		{"regex match", Regex(digits), "42", "", 1},
		{"regex anchored miss", Regex(digits), "42!", "", 0},
		{"regex unanchored", Regex(regexp.MustCompile(`ans(wer)?:`)), "the answer: 3", "", 1},
		{"length shorter is better", Length(false), "abcd", "", -4},
		{"length counts code points", Length(false), "héllo→", "", -6},
		{"length longer option", Length(true), "héllo→", "", 6},
		{"length empty", Length(false), "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f("prompt", tc.completion, tc.ref); got != tc.want {
				t.Errorf("score %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		needsRef bool
		err      string
	}{
		{"exact", Options{}, true, ""},
		{"regex", Options{Pattern: `\d`}, false, ""},
		{"regex", Options{}, false, "needs a pattern"},
		{"regex", Options{Pattern: `(`}, false, "bad pattern"},
		{"length", Options{Longer: true}, false, ""},
		{"nope", Options{}, false, `unknown judge "nope" (have exact, length, regex`},
	}
	for _, tc := range tests {
		j, err := New(tc.name, tc.opts)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q): error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tc.name, err)
			continue
		}
		if j.NeedsRef != tc.needsRef || j.Name != tc.name {
			t.Errorf("New(%q) = %+v", tc.name, j)
		}
	}
}

func TestRegister(t *testing.T) {
	Register("test-has-yes", func(_, completion, _ string) float64 {
		if strings.Contains(completion, "yes") {
			return 1
		}
		return 0
	})
	j, err := New("test-has-yes", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Score("", "oh yes", "") != 1 || j.Score("", "no", "") != 0 {
		t.Error("registered judge not used")
	}
	if f, ok := Lookup("test-has-yes"); !ok || f == nil {
		t.Error("Lookup failed")
	}
	found := false
	for _, n := range Names() {
		found = found || n == "test-has-yes"
	}
	if !found {
		t.Error("Names lacks the registered judge")
	}
	for _, name := range []string{"test-has-yes", "exact", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			Register(name, Exact)
		}()
	}
}

// TestWinRateFixtures checks hand-counted fixtures (see testdata/README.md).
func TestWinRateFixtures(t *testing.T) {
	a, err := ReadGenerationsFile("testdata/a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadGenerationsFile("testdata/b.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	refs, err := ReadRefsFile("testdata/refs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := Align(a, b, refs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		judge              string
		opts               Options
		wins, ties, losses int
		rate               float64
	}{
		{"exact", Options{}, 3, 5, 2, 0.55},
		{"length", Options{}, 2, 5, 3, 0.45},
		{"length", Options{Longer: true}, 3, 5, 2, 0.55},
		{"regex", Options{Pattern: `^\d+$`}, 1, 8, 1, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.judge, func(t *testing.T) {
			j, err := New(tc.judge, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := j.Compare(pairs)
			if err != nil {
				t.Fatal(err)
			}
			outcomes := make([]float64, len(vs))
			for k, v := range vs {
				outcomes[k] = v.Outcome
			}
			r, err := Summarize(outcomes, 200, 0.95, 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.N != 10 || r.Wins != tc.wins || r.Ties != tc.ties || r.Losses != tc.losses {
				t.Errorf("n/w/t/l = %d/%d/%d/%d, want 10/%d/%d/%d", r.N, r.Wins, r.Ties, r.Losses, tc.wins, tc.ties, tc.losses)
			}
			if math.Abs(r.WinRate-tc.rate) > 1e-12 {
				t.Errorf("win rate %v, want %v", r.WinRate, tc.rate)
			}
			if !(r.CILow <= r.WinRate && r.WinRate <= r.CIHigh) {
				t.Errorf("CI [%v, %v] excludes %v", r.CILow, r.CIHigh, r.WinRate)
			}
		})
	}
}

func TestAlignByPrompt(t *testing.T) {
	a := []Generation{{Prompt: "p", Completion: "a1", File: "a", Row: 1}, {Prompt: "q", Completion: "a2", File: "a", Row: 2}, {Prompt: "p", Completion: "a3", File: "a", Row: 3}}
	b := []Generation{{Prompt: "p", Completion: "b1", File: "b", Row: 1}, {Prompt: "p", Completion: "b2", File: "b", Row: 2}, {Prompt: "q", Completion: "b3", File: "b", Row: 3}}
	pairs, err := Align(a, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, p := range pairs {
		got += p.A.Completion + "-" + p.B.Completion + " "
	}
	if want := "a1-b1 a2-b3 a3-b2 "; got != want {
		t.Errorf("pairs %q, want %q", got, want)
	}
}

func TestAlignErrors(t *testing.T) {
	g := func(file string, row int, prompt, ref string) Generation {
		return Generation{Prompt: prompt, Completion: "x", Ref: ref, HasRef: ref != "", File: file, Row: row}
	}
	tests := []struct {
		name string
		a, b []Generation
		want string
	}{
		{"prompt missing from b", []Generation{g("a.jsonl", 1, "p", ""), g("a.jsonl", 2, "q", "")}, []Generation{g("b.jsonl", 1, "p", "")},
			`a.jsonl:2:prompt: prompt "q" is not in b.jsonl`},
		{"extra row in b", []Generation{g("a.jsonl", 1, "p", "")}, []Generation{g("b.jsonl", 1, "p", ""), g("b.jsonl", 2, "r", "")},
			`b.jsonl:2:prompt: prompt "r" is not in a.jsonl`},
		{"duplicate only in a", []Generation{g("a.jsonl", 1, "p", ""), g("a.jsonl", 4, "p", "")}, []Generation{g("b.jsonl", 1, "p", "")},
			`a.jsonl:4:prompt: prompt "p" occurs more often than in b.jsonl`},
		{"duplicate only in b", []Generation{g("a.jsonl", 1, "p", "")}, []Generation{g("b.jsonl", 1, "p", ""), g("b.jsonl", 2, "p", "")},
			`b.jsonl:2:prompt: prompt "p" occurs more often than in a.jsonl`},
		{"references differ", []Generation{g("a.jsonl", 3, "p", "1")}, []Generation{g("b.jsonl", 5, "p", "2")},
			`b.jsonl:5:reference: differs from the reference at a.jsonl:3 ("2" vs "1")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Align(tc.a, tc.b, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
	// A --ref file entry overrides conflicting row references.
	pairs, err := Align([]Generation{g("a", 1, "p", "1")}, []Generation{g("b", 1, "p", "2")}, map[string]string{"p": "3"})
	if err != nil || pairs[0].Ref != "3" {
		t.Errorf("ref override: %v %+v", err, pairs)
	}
}

func TestCompareNeedsRef(t *testing.T) {
	j, _ := New("exact", Options{})
	_, err := j.Compare([]Pair{{Prompt: "p", A: Generation{File: "a.jsonl", Row: 7}, B: Generation{File: "b.jsonl", Row: 2}}})
	if err == nil || !strings.HasPrefix(err.Error(), `a.jsonl:7:reference: judge "exact" needs a reference answer`) {
		t.Errorf("got %v", err)
	}
	nan := &Judge{Name: "nan", Score: func(_, c, _ string) float64 {
		if c == "bad" {
			return math.NaN()
		}
		return 0
	}}
	_, err = nan.Compare([]Pair{{Prompt: "p", A: Generation{File: "a", Row: 1, Completion: "ok"}, B: Generation{File: "b", Row: 9, Completion: "bad"}}})
	if err == nil || !strings.HasPrefix(err.Error(), `b:9:completion: judge "nan" returned NaN`) {
		t.Errorf("got %v", err)
	}
}

func TestReadGenerationsErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"no prompt", `{"completion":"x"}`, "g.jsonl:1:prompt: missing"},
		{"no completion", "\n" + `{"prompt":"p"}`, `g.jsonl:2:completion: missing (want "completion" or "output")`},
		{"both completion and output", `{"prompt":"p","completion":"x","output":"y"}`, `g.jsonl:1:output: row has both "completion" and "output"; keep one`},
		{"completion number", `{"prompt":"p","completion":3}`, "g.jsonl:1:completion: must be a string or a list"},
		{"bad reference", `{"prompt":"p","completion":"x","reference":{"a":1}}`, "g.jsonl:1:reference: must be a string or a number"},
		{"both reference and answer", `{"prompt":"p","completion":"x","reference":"1","answer":"1"}`, `g.jsonl:1:answer: row has both "reference" and "answer"`},
		{"not json", `{"prompt":"p"` + "\n", "g.jsonl:1: not a JSON object"},
		{"empty", "\n\n", "g.jsonl: no generations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadGenerations(strings.NewReader(tc.content), "g.jsonl")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v\nwant prefix %s", err, tc.want)
			}
		})
	}
}

func TestReadGenerationsShapes(t *testing.T) {
	in := `{"prompt":[{"role":"user","content":"hi"}],"completion":[{"role":"assistant","content":"he"},{"role":"assistant","content":"llo"}],"answer":42}`
	gs, err := ReadGenerations(strings.NewReader(in), "g.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	g := gs[0]
	if g.Prompt != `[{"role":"user","content":"hi"}]` || g.Completion != "hello" || g.Ref != "42" || !g.HasRef || g.Row != 1 {
		t.Errorf("%+v", g)
	}
}

func TestReadRefsErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"missing reference", `{"prompt":"p"}`, `r.jsonl:1:reference: missing`},
		{"conflict", `{"prompt":"p","reference":"1"}` + "\n" + `{"prompt":"p","answer":"2"}`, "r.jsonl:2:answer: prompt already has a different reference at line 1"},
	}
	for _, tc := range tests {
		_, err := ReadRefs(strings.NewReader(tc.content), "r.jsonl")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %s", tc.name, err, tc.want)
		}
	}
}
