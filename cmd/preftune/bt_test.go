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

const btData = "../../bt/testdata/"

func TestBTCommand(t *testing.T) {
	dir := t.TempDir()
	badRows := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badRows, []byte(`{"winner":"A","loser":"B"}`+"\n"+`{"a":"A","b":"B","wins_a":2,"wins_b":-1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   []string // substrings of stdout
		err   string   // substring of stderr
	}{
		{"worked two pairs", []string{"bt", "fit", btData + "worked_two_pairs.jsonl", "--predict", "B,C"}, "", 0,
			[]string{"-0.8473", "-0.4055", "P(B > C) = 0.3913"}, ""},
		{"worked three pairs", []string{"bt", "fit", "--predict=B,C", btData + "worked_three_pairs.jsonl"}, "", 0,
			[]string{"log-likelihood  -19.5694", "A > B  10     0.700      0.697", "P(B > C) = 0.3972"}, ""},
		{"thurstone from csv on stdin", []string{"bt", "fit", "-", "--model", "thurstone"},
			"winner,loser\nA,B\nB,A\nA,B\n", 0, []string{"Thurstone-Mosteller", "0.4307"}, ""},
		{"single pair prob", []string{"bt", "prob", "2.0", "1.2"}, "", 0, []string{"P(a > b) = 0.6900"}, ""},
		{"prob with negative strengths", []string{"bt", "prob", "-0.8473", "-0.4055"}, "", 0, []string{"P(a > b) = 0.3913"}, ""},
		{"bad row names file:row:field", []string{"bt", "fit", badRows}, "", 2, nil, "bad.jsonl:2:wins_b: must be a finite non-negative number"},
		{"disconnected names components", []string{"bt", "fit", btData + "disconnected.jsonl"}, "", 2, nil, "{A, B}, {C, D, E}"},
		{"disconnected with l2 fits", []string{"bt", "fit", btData + "disconnected.jsonl", "--l2", "0.5"}, "", 0, []string{"L2 prior 0.5"}, ""},
		{"separation suggests l2", []string{"bt", "fit", btData + "separated.jsonl"}, "", 2, nil, "never lost: alpha; set a small L2 prior (--l2"},
		{"unknown model", []string{"bt", "fit", btData + "worked_two_pairs.jsonl", "--model", "elo"}, "", 2, nil, "--model"},
		{"unknown predict item", []string{"bt", "fit", btData + "worked_two_pairs.jsonl", "--predict", "A,Z"}, "", 2, nil, `unknown item "Z"`},
		{"bad predict", []string{"bt", "fit", btData + "worked_two_pairs.jsonl", "--predict", "A"}, "", 2, nil, "--predict"},
		{"unknown anchor", []string{"bt", "fit", btData + "worked_two_pairs.jsonl", "--anchor", "Q"}, "", 2, nil, `anchor "Q"`},
		{"missing file", []string{"bt", "fit", filepath.Join(dir, "nope.jsonl")}, "", 2, nil, "nope.jsonl"},
		{"two files", []string{"bt", "fit", "a", "b"}, "", 2, nil, "exactly one FILE"},
		{"no sub-command", []string{"bt"}, "", 2, nil, "missing sub-command"},
		{"unknown sub-command", []string{"bt", "rank"}, "", 2, nil, `unknown sub-command "rank"`},
		{"bad flag", []string{"bt", "fit", "--nope", "x"}, "", 2, nil, "flag provided but not defined"},
		{"prob not a number", []string{"bt", "prob", "x", "1"}, "", 2, nil, `"x" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
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

// TestBTFitJSON checks the JSON output on the worked two-pair example against closed forms:
// s_B = −log(7/3), s_C = −log(6/4), P(B≻C) = 9/23.
func TestBTFitJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bt", "fit", "--json", "--predict", "B,C", btData + "worked_two_pairs.jsonl"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out struct {
		Anchor string
		Items  []struct {
			Item     string
			Strength float64
			Wins     float64
			Losses   float64
		}
		LogLik  float64 `json:"log_likelihood"`
		DF      int
		Predict struct{ P float64 }
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"A": 0, "B": -math.Log(7.0 / 3), "C": -math.Log(6.0 / 4)}
	if out.Anchor != "A" || len(out.Items) != 3 || out.DF != 0 {
		t.Fatalf("anchor %q, %d items, df %d", out.Anchor, len(out.Items), out.DF)
	}
	order := []string{"A", "C", "B"} // sorted by strength
	for k, it := range out.Items {
		if it.Item != order[k] {
			t.Errorf("row %d is %s, want %s", k, it.Item, order[k])
		}
		if math.Abs(it.Strength-want[it.Item]) > 1e-9 {
			t.Errorf("%s strength %v, want %v", it.Item, it.Strength, want[it.Item])
		}
	}
	// Saturated fit: ℓ = 7 log .7 + 3 log .3 + 6 log .6 + 4 log .4.
	ll := 7*math.Log(0.7) + 3*math.Log(0.3) + 6*math.Log(0.6) + 4*math.Log(0.4)
	if math.Abs(out.LogLik-ll) > 1e-9 {
		t.Errorf("log-lik %v, want %v", out.LogLik, ll)
	}
	if math.Abs(out.Predict.P-9.0/23) > 1e-9 {
		t.Errorf("P(B≻C) %v, want 9/23", out.Predict.P)
	}
}
