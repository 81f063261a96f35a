package bt

import (
	"errors"
	"github.com/preftune/preftune/rowerr"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestReadFormats(t *testing.T) {
	want := []Comparison{{"A", "B", 7, 3}, {"A", "C", 6, 4}, {"B", "C", 4, 6}}
	tests := []struct {
		name, file, content string
	}{
		{"jsonl counts", "x.jsonl", `{"a":"A","b":"B","wins_a":7,"wins_b":3}
{"a":"A","b":"C","wins_a":6,"wins_b":4}

{"a":"C","b":"B","wins_a":6,"wins_b":4,"note":"ignored"}`},
		{"json array, sniffed", "x.txt", `[{"a":"A","b":"B","wins_a":7,"wins_b":3},{"a":"A","b":"C","wins_a":6,"wins_b":4},{"a":"B","b":"C","wins_a":4,"wins_b":6}]`},
		{"csv counts, spaced header", "x.csv", "a, b, wins_a, wins_b\nA,B,7,3\nA,C,6,4\nC,B,6,4\n"},
		{"csv mixed layouts", "x.csv", "winner,loser,a,b,wins_a,wins_b\n,,A,B,7,3\n,,A,C,6,4\n,,C,B,5,4\nC,B,,,,\n"},
		{"jsonl sniffed, mixed layouts, fractional", "data", `{"a":"A","b":"B","wins_a":6,"wins_b":2}
{"winner":"A","loser":"B"}
{"winner":"B","loser":"A","extra":1}
{"a":"A","b":"B","wins_a":-0,"wins_b":0}
{"a":"C","b":"A","wins_a":4,"wins_b":5}
{"winner":"A","loser":"C"}
{"a":"B","b":"C","wins_a":3.5,"wins_b":6}
{"a":"C","b":"B","wins_a":0,"wins_b":0.5}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Read(strings.NewReader(tc.content), tc.file, Detect)
			if err != nil {
				t.Fatal(err)
			}
			if got := Aggregate(cs); !reflect.DeepEqual(got, want) {
				t.Errorf("aggregated %v, want %v", got, want)
			}
		})
	}
}

func TestReadWorkedCSVMatchesJSONL(t *testing.T) {
	a := Aggregate(mustRead(t, "worked_three_pairs.csv"))
	b := Aggregate(mustRead(t, "worked_three_pairs.jsonl"))
	if !reflect.DeepEqual(a, b) {
		t.Errorf("csv %v != jsonl %v", a, b)
	}
	if len(mustRead(t, "worked_three_pairs.csv")) != 30 {
		t.Error("want 30 single comparisons in the CSV")
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                string // exact error text
	}{
		{"negative wins", "p.jsonl", `{"a":"A","b":"B","wins_a":1,"wins_b":1}
{"a":"A","b":"B","wins_a":-2,"wins_b":1}`, "p.jsonl:2:wins_a: must be a finite non-negative number, got -2"},
		{"string count", "p.jsonl", `{"a":"A","b":"B","wins_a":"3","wins_b":1}`, `p.jsonl:1:wins_a: must be a number, got "3"`},
		{"missing loser", "p.jsonl", "\n\n" + `{"winner":"A"}`, "p.jsonl:3:loser: missing"},
		{"missing wins_b", "p.jsonl", `{"a":"A","b":"B","wins_a":1}`, "p.jsonl:1:wins_b: missing"},
		{"self comparison", "p.jsonl", `{"winner":"A","loser":"A"}`, `p.jsonl:1:loser: same item as winner ("A")`},
		{"self counts", "p.jsonl", `{"a":"A","b":"A","wins_a":1,"wins_b":0}`, `p.jsonl:1:b: same item as a ("A")`},
		{"mixed layouts", "p.jsonl", `{"winner":"A","loser":"B","wins_a":1}`, `p.jsonl:1: row mixes "winner"/"loser" with "a"/"b"/"wins_a"/"wins_b"; use one layout`},
		{"no known fields", "p.jsonl", `{"x":1}`, `p.jsonl:1: row has neither "winner"/"loser" nor "a"/"b"/"wins_a"/"wins_b"`},
		{"not an object", "p.jsonl", `{"winner":"A","loser":"B"}` + "\n[1,2]", "p.jsonl:2: not a JSON object"},
		{"name is object", "p.jsonl", `{"winner":{"n":1},"loser":"B"}`, `p.jsonl:1:winner: item name must be a string, got {"n":1}`},
		{"empty name", "p.jsonl", `{"winner":"  ","loser":"B"}`, "p.jsonl:1:winner: empty item name"},
		{"csv bad number", "p.csv", "a,b,wins_a,wins_b\nA,B,1,2\nA,B,x,2\n", `p.csv:3:wins_a: must be a number, got "x"`},
		{"csv NaN", "p.csv", "a,b,wins_a,wins_b\nA,B,NaN,2\n", "p.csv:2:wins_a: must be a finite non-negative number, got NaN"},
		{"csv missing cell", "p.csv", "winner,loser\nA,B\nA\n", "p.csv:3:loser: missing"},
		{"csv bad header", "p.csv", "x,y\n1,2\n", `p.csv:1: header "x,y" has neither "winner","loser" nor "a","b","wins_a","wins_b" columns`},
		{"csv duplicate column", "p.csv", "winner,loser,winner\nA,B,C\n", "p.csv:1:winner: column appears twice in the header"},
		{"empty", "p.jsonl", "\n", "p.jsonl: no comparisons"},
		{"json array element", "p.json", `[{"winner":"A","loser":"B"},{"winner":"A"}]`, "p.json:2:loser: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.content), tc.file, Detect)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n  %q\nwant prefix\n  %q", err, tc.want)
			}
		})
	}
	var re *rowerr.Error
	_, err := Read(strings.NewReader(`{"winner":"A","loser":"A"}`), "f.jsonl", Detect)
	if !errors.As(err, &re) || re.Row != 1 || re.Field != "loser" {
		t.Errorf("want *rowerr.Error row 1 field loser, got %#v", err)
	}
}

// TestNormalCDF checks the probit link against tabulated Φ values and the documented
// logistic approximation |Φ(x) − σ(1.702x)| < 0.0095.
func TestNormalCDF(t *testing.T) {
	tabulated := []struct{ x, phi float64 }{
		{0, 0.5},
		{1, 0.8413447460685429},
		{-1.959963984540054, 0.025},
		{2.5, 0.9937903346742238},
		{-3, 0.0013498980316301},
	}
	for _, c := range tabulated {
		near(t, "Φ", Thurstone.P(c.x), c.phi, 1e-15)
	}
	for x := -6.0; x <= 6; x += 0.01 {
		if d := math.Abs(Thurstone.P(x) - 1/(1+math.Exp(-1.702*x))); d >= 0.0095 {
			t.Fatalf("|Φ(%g) − σ(1.702·%g)| = %g", x, x, d)
		}
	}
}

// TestProbitTails checks log Φ and its derivatives across the switch to the asymptotic series.
func TestProbitTails(t *testing.T) {
	for _, d := range []float64{-45, -35, -30.000001, -29.999999, -20, -5, 0, 5, 20} {
		lp, g1, g2 := Thurstone.logP(d)
		const h = 1e-5
		lpp, _, _ := Thurstone.logP(d + h)
		lpm, _, _ := Thurstone.logP(d - h)
		if d > -38 { // erfc does not underflow yet: compare with the direct formula
			near(t, "log Φ", lp, math.Log(0.5*math.Erfc(-d/math.Sqrt2)), 1e-9*math.Max(1, math.Abs(lp)))
		}
		near(t, "d/dd log Φ", g1, (lpp-lpm)/(2*h), 1e-6*math.Max(1, math.Abs(g1)))
		_, g1p, _ := Thurstone.logP(d + h)
		_, g1m, _ := Thurstone.logP(d - h)
		near(t, "d²/dd² log Φ", g2, (g1p-g1m)/(2*h), 1e-5*math.Max(1, math.Abs(g2)))
	}
	for _, d := range []float64{-700, -40, -5, 0, 5, 40, 700} {
		lp, g1, g2 := BradleyTerry.logP(d)
		want := -math.Log1p(math.Exp(-d))
		if d < -30 {
			want = d - math.Log1p(math.Exp(d))
		}
		near(t, "log σ", lp, want, 1e-12*math.Max(1, math.Abs(want)))
		q := 1 / (1 + math.Exp(d))
		near(t, "d log σ", g1, q, 1e-15)
		near(t, "d² log σ", g2, -q*(1-q), 1e-15)
	}
}

func TestParseModel(t *testing.T) {
	tests := []struct {
		in   string
		want Model
		ok   bool
	}{
		{"bt", BradleyTerry, true}, {"Bradley-Terry", BradleyTerry, true}, {"thurstone", Thurstone, true},
		{"probit", Thurstone, true}, {"elo", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseModel(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseModel(%q) = %v, %v", tc.in, got, err)
		}
	}
}
