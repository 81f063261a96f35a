package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const judgeData = "../../judge/testdata/"

func TestJudgeCommand(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.jsonl")
	if err := os.WriteFile(short, []byte(`{"prompt": "2+2=", "completion": "4"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b, refs := judgeData+"a.jsonl", judgeData+"b.jsonl", judgeData+"refs.jsonl"
	tests := []struct {
		name string
		args []string
		code int
		out  []string
		err  string
	}{
		{"exact table", []string{"judge", "--a", a, "--b", b, "--judge", "exact", "--ref", refs}, 0,
			[]string{"wins      3", "ties      5", "losses    2", "win rate  0.5500  (95% CI"}, ""},
		{"length", []string{"judge", "--a", a, "--b", b, "--judge", "length"}, 0, []string{"win rate  0.4500"}, ""},
		{"length longer", []string{"judge", "--a", a, "--b", b, "--judge", "length", "--longer"}, 0, []string{"win rate  0.5500"}, ""},
		{"regex", []string{"judge", "--a", a, "--b", b, "--judge", "regex", "--pattern", `^\d+$`}, 0, []string{"win rate  0.5000"}, ""},
		{"exact without refs", []string{"judge", "--a", a, "--b", b, "--judge", "exact"}, 2, nil, `a.jsonl:1:reference: judge "exact" needs a reference`},
		{"prompt mismatch names row", []string{"judge", "--a", a, "--b", short, "--judge", "length"}, 2, nil, `a.jsonl:2:prompt: prompt "capital of France?" is not in`},
		{"unknown judge", []string{"judge", "--a", a, "--b", b, "--judge", "vibes"}, 2, nil, `unknown judge "vibes"`},
		{"regex without pattern", []string{"judge", "--a", a, "--b", b, "--judge", "regex"}, 2, nil, "needs a pattern"},
		{"bad pattern", []string{"judge", "--a", a, "--b", b, "--judge", "regex", "--pattern", "("}, 2, nil, "bad pattern"},
		{"pattern on other judge", []string{"judge", "--a", a, "--b", b, "--judge", "length", "--pattern", "x"}, 2, nil, "--pattern is only for"},
		{"missing --b", []string{"judge", "--a", a, "--judge", "length"}, 2, nil, "--b FILE is required"},
		{"missing file", []string{"judge", "--a", filepath.Join(dir, "none.jsonl"), "--b", b, "--judge", "length"}, 2, nil, "none.jsonl"},
		{"bad bootstrap", []string{"judge", "--a", a, "--b", b, "--judge", "length", "--bootstrap", "0"}, 2, nil, "--bootstrap"},
		{"bad confidence", []string{"judge", "--a", a, "--b", b, "--judge", "length", "--confidence", "95"}, 2, nil, "--confidence"},
		{"stray argument", []string{"judge", "--a", a, "--b", b, "--judge", "length", "extra"}, 2, nil, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr.String())
			}
			for _, o := range tc.out {
				if !strings.Contains(stdout.String(), o) {
					t.Errorf("stdout lacks %q:\n%s", o, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.err)
			}
		})
	}
}

type judgeOut struct {
	WinRate float64 `json:"win_rate"`
	CILow   float64 `json:"ci_low"`
	CIHigh  float64 `json:"ci_high"`
	Wins    int     `json:"wins"`
	Ties    int     `json:"ties"`
	Losses  int     `json:"losses"`
	N       int     `json:"n"`
}

func runJudgeJSON(t *testing.T, args ...string) judgeOut {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"judge", "--json"}, args...), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out judgeOut
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJudgeJSONLarge builds 1000 prompts with known outcomes (A wins 520, ties 160, loses 320
// under the length judge) and checks the counts, the win rate and the interval against the
// normal approximation p̂ ± 1.96·sqrt(var/n).
func TestJudgeJSONLarge(t *testing.T) {
	dir := t.TempDir()
	var fa, fb strings.Builder
	const wins, ties, losses = 520, 160, 320
	for k := 0; k < wins+ties+losses; k++ {
		la, lb := "xx", "xx" // tie
		if k < wins {
			la, lb = "x", "xxx"
		} else if k >= wins+ties {
			la, lb = "xxxx", "x"
		}
		p, _ := json.Marshal(map[string]string{"prompt": "p" + string(rune('a'+k%26)) + strings.Repeat("!", k/26), "completion": la})
		q, _ := json.Marshal(map[string]string{"prompt": "p" + string(rune('a'+k%26)) + strings.Repeat("!", k/26), "output": lb})
		fa.Write(append(p, '\n'))
		fb.Write(append(q, '\n'))
	}
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	if err := os.WriteFile(a, []byte(fa.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(fb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runJudgeJSON(t, "--a", a, "--b", b, "--judge", "length", "--bootstrap", "4000", "--seed", "11")
	if out.N != 1000 || out.Wins != wins || out.Ties != ties || out.Losses != losses {
		t.Fatalf("counts %+v", out)
	}
	n := 1000.0
	p := (wins + 0.5*ties) / n
	if math.Abs(out.WinRate-p) > 1e-12 {
		t.Errorf("win rate %v, want %v", out.WinRate, p)
	}
	v := (wins+0.25*ties)/n - p*p
	half := 1.959963984540054 * math.Sqrt(v/n)
	if math.Abs(out.CILow-(p-half)) > 0.003 || math.Abs(out.CIHigh-(p+half)) > 0.003 {
		t.Errorf("CI [%v, %v], normal approximation [%v, %v]", out.CILow, out.CIHigh, p-half, p+half)
	}
	again := runJudgeJSON(t, "--a", a, "--b", b, "--judge", "length", "--bootstrap", "4000", "--seed", "11")
	if again != out {
		t.Errorf("same seed, different output: %+v vs %+v", again, out)
	}
}
