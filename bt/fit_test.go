package bt

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustRead(t *testing.T, name string) []Comparison {
	t.Helper()
	cs, err := ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (tol %g)", what, got, want, tol)
	}
}

// logistic is written out here rather than calling Model.P.
func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestWorkedExamples reproduces the docs' worked Bradley–Terry examples from closed forms.
func TestWorkedExamples(t *testing.T) {
	// Single pair: strengths 2.0 and 1.2.
	near(t, "σ(2.0−1.2)", BradleyTerry.P(2.0-1.2), 1/(1+math.Exp(-0.8)), 1e-15)
	near(t, "σ(2.0−1.2) to 2 places", math.Round(BradleyTerry.P(0.8)*100)/100, 0.69, 0)

	// Only the two A-comparisons (A beats B 7/10, A beats C 6/10): the graph is a tree, so
	// the MLE reproduces each pair's rate exactly: s_B = −logit(0.7), s_C = −logit(0.6).
	two, err := FitBT(mustRead(t, "worked_two_pairs.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sB, _ := two.Strength("B")
	sC, _ := two.Strength("C")
	near(t, "s_B", sB, -math.Log(0.7/0.3), 1e-9)
	near(t, "s_C", sC, -math.Log(0.6/0.4), 1e-9)
	near(t, "logit(0.7) to 4 places", math.Round(-sB*1e4)/1e4, 0.8473, 0)
	near(t, "logit(0.6) to 4 places", math.Round(-sC*1e4)/1e4, 0.4055, 0)
	near(t, "s_B − s_C to 4 places", math.Round((sB-sC)*1e4)/1e4, -0.4418, 0)
	// P(B ≻ C) = e^{s_B}/(e^{s_B}+e^{s_C}) = (3/7)/((3/7)+(4/6)) = 9/23 ≈ 0.391.
	pBC, err := two.Prob("B", "C")
	if err != nil {
		t.Fatal(err)
	}
	near(t, "P(B≻C) from two pairs", pBC, 9.0/23, 1e-9)
	near(t, "P(B≻C) to 3 places", math.Round(pBC*1000)/1000, 0.391, 0)
	near(t, "two-pair deviance (saturated)", two.Deviance, 0, 1e-9)

	// All three pairs (C beats B 6/10 too). A–C and C–B have the same counts, so the MLE puts
	// C midway: s_C = −t, s_B = −2t with t maximising
	//   12·log σ(t) + 8·log σ(−t) + 7·log σ(2t) + 3·log σ(−2t),
	// found here by golden-section search.
	three, err := FitBT(mustRead(t, "worked_three_pairs.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ll1 := func(t float64) float64 {
		return 12*math.Log(logistic(t)) + 8*math.Log(logistic(-t)) + 7*math.Log(logistic(2*t)) + 3*math.Log(logistic(-2*t))
	}
	tStar := goldenMax(ll1, -5, 5)
	sB, _ = three.Strength("B")
	sC, _ = three.Strength("C")
	near(t, "3-pair s_B", sB, -2*tStar, 1e-7)
	near(t, "3-pair s_C", sC, -tStar, 1e-7)
	near(t, "3-pair log-lik", three.LogLik, ll1(tStar), 1e-9)
	for _, p := range three.Pairs {
		sa, _ := three.Strength(p.A)
		sb, _ := three.Strength(p.B)
		near(t, "predicted "+p.A+" vs "+p.B, p.Predicted, logistic(sa-sb), 1e-12)
		near(t, "observed "+p.A+" vs "+p.B, p.Observed, p.WinsA/(p.WinsA+p.WinsB), 0)
	}
	if three.DF != 1 {
		t.Errorf("DF = %d, want 3 pairs − 2 free strengths = 1", three.DF)
	}
}

// goldenMax maximises a unimodal f on [lo, hi] to ~1e-12.
func goldenMax(f func(float64) float64, lo, hi float64) float64 {
	r := (math.Sqrt(5) - 1) / 2
	a, b := lo, hi
	c, d := b-r*(b-a), a+r*(b-a)
	fc, fd := f(c), f(d)
	for b-a > 1e-12 {
		if fc > fd {
			b, d, fd = d, c, fc
			c = b - r*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + r*(b-a)
			fd = f(d)
		}
	}
	return (a + b) / 2
}

type goldenCase struct {
	File      string             `json:"file"`
	Model     string             `json:"model"`
	L2        float64            `json:"l2"`
	Anchor    string             `json:"anchor"`
	Strengths map[string]float64 `json:"strengths"`
	StdErrs   map[string]float64 `json:"std_errs"`
	LogLik    float64            `json:"log_lik"`
	Predict   *struct {
		A      string  `json:"a"`
		B      string  `json:"b"`
		P      float64 `json:"p"`
		StdErr float64 `json:"std_err"`
	} `json:"predict"`
}

// TestAgainstTorchGoldens compares with reference/bt/fit.py (PyTorch LBFGS, autograd Hessian).
func TestAgainstTorchGoldens(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []goldenCase }
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 10 {
		t.Fatalf("only %d golden cases", len(g.Cases))
	}
	const tol = 1e-6
	for _, c := range g.Cases {
		name := c.File + "/" + c.Model + "/anchor=" + c.Anchor
		if c.L2 > 0 {
			name += "/l2"
		}
		t.Run(name, func(t *testing.T) {
			m, err := ParseModel(c.Model)
			if err != nil {
				t.Fatal(err)
			}
			fit, err := FitModel(m, mustRead(t, c.File), Options{Anchor: c.Anchor, L2: c.L2})
			if err != nil {
				t.Fatal(err)
			}
			if len(fit.Items) != len(c.Strengths) {
				t.Fatalf("%d items, golden has %d", len(fit.Items), len(c.Strengths))
			}
			for _, it := range fit.Items {
				near(t, "strength "+it.Name, it.Strength, c.Strengths[it.Name], tol)
				near(t, "std err "+it.Name, it.StdErr, c.StdErrs[it.Name], tol)
			}
			near(t, "log-lik", fit.LogLik, c.LogLik, tol)
			if c.Predict != nil {
				p, se, err := fit.ProbSE(c.Predict.A, c.Predict.B)
				if err != nil {
					t.Fatal(err)
				}
				near(t, "P", p, c.Predict.P, tol)
				near(t, "P std err", se, c.Predict.StdErr, tol)
			}
		})
	}
}

// indepLogLik is the log-likelihood written independently of the package: direct formulas,
// no derivatives.
func indepLogLik(m Model, cs []Comparison, s map[string]float64, l2 float64, anchor string) float64 {
	F := func(d float64) float64 { return 1 / (1 + math.Exp(-d)) }
	if m == Thurstone {
		F = func(d float64) float64 { return (1 + math.Erf(d/math.Sqrt2)) / 2 }
	}
	ll := 0.0
	for _, c := range cs {
		d := s[c.A] - s[c.B]
		ll += c.WinsA*math.Log(F(d)) + c.WinsB*math.Log(F(-d))
	}
	for k, v := range s {
		if k != anchor {
			ll -= l2 / 2 * v * v
		}
	}
	return ll
}

// TestAgainstCoordinateAscent maximises the independent log-likelihood by cyclic coordinate
// ascent with golden-section line searches, and checks the standard errors against a
// central-difference Hessian of the same function.
func TestAgainstCoordinateAscent(t *testing.T) {
	tests := []struct {
		file   string
		model  Model
		l2     float64
		anchor string
	}{
		{"random8.jsonl", BradleyTerry, 0, ""},
		{"random8.jsonl", Thurstone, 0, "m5"},
		{"worked_three_pairs.csv", Thurstone, 0, ""},
		{"separated.jsonl", BradleyTerry, 0.1, ""},
		{"disconnected.jsonl", Thurstone, 0.5, "C"},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.model.String(), func(t *testing.T) {
			cs := mustRead(t, tc.file)
			fit, err := FitModel(tc.model, cs, Options{L2: tc.l2, Anchor: tc.anchor})
			if err != nil {
				t.Fatal(err)
			}
			anchor := fit.Anchor
			s := map[string]float64{}
			var free []string
			for _, it := range fit.Items {
				s[it.Name] = 0
				if it.Name != anchor {
					free = append(free, it.Name)
				}
			}
			f := func() float64 { return indepLogLik(tc.model, cs, s, tc.l2, anchor) }
			width := map[string]float64{} // bracket half-width per coordinate, shrunk as it settles
			for _, k := range free {
				width[k] = 4
			}
			for sweep := 0; sweep < 5000; sweep++ {
				moved := 0.0
				for _, k := range free {
					old, w := s[k], width[k]
					best := goldenMax(func(x float64) float64 { s[k] = x; return f() }, old-w, old+w)
					s[k] = best
					step := math.Abs(best - old)
					if step > 0.9*w {
						width[k] = math.Min(2*w, 4) // hit the bracket's edge: widen
					} else {
						width[k] = math.Max(4*step, 1e-9)
					}
					moved = math.Max(moved, step)
				}
				if moved < 1e-8 { // golden section resolves a flat maximum only to ~sqrt(eps)
					t.Logf("sweeps %d", sweep)
					break
				}
			}
			for _, it := range fit.Items {
				near(t, "strength "+it.Name, it.Strength, s[it.Name], 1e-6)
			}

			// Log-likelihood (without the prior) and standard errors at the package's estimate;
			// the errors invert a central-difference Hessian of the independent log-likelihood.
			for _, it := range fit.Items {
				s[it.Name] = it.Strength
			}
			near(t, "log-lik", fit.LogLik, indepLogLik(tc.model, cs, s, 0, anchor), 1e-9)
			n := len(free)
			info := make([][]float64, n)
			const h = 1e-4
			for a, ka := range free {
				info[a] = make([]float64, n)
				for b, kb := range free {
					at := func(da, db float64) float64 {
						s[ka] += da
						s[kb] += db
						v := f()
						s[ka] -= da
						s[kb] -= db
						return v
					}
					info[a][b] = -(at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4 * h * h)
				}
			}
			cov := gaussJordanInverse(t, info)
			for a, k := range free {
				it := fit.Items[fit.index[k]]
				near(t, "std err "+k, it.StdErr, math.Sqrt(cov[a][a]), 1e-5)
			}
		})
	}
}

// gaussJordanInverse inverts a small matrix with partial pivoting (not the package's Cholesky).
func gaussJordanInverse(t *testing.T, A [][]float64) [][]float64 {
	n := len(A)
	M := make([][]float64, n)
	for i := range M {
		M[i] = make([]float64, 2*n)
		copy(M[i], A[i])
		M[i][n+i] = 1
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(M[r][c]) > math.Abs(M[p][c]) {
				p = r
			}
		}
		M[c], M[p] = M[p], M[c]
		if M[c][c] == 0 {
			t.Fatal("singular finite-difference information")
		}
		piv := M[c][c]
		for k := range M[c] {
			M[c][k] /= piv
		}
		for r := 0; r < n; r++ {
			if r != c && M[r][c] != 0 {
				f := M[r][c]
				for k := range M[r] {
					M[r][k] -= f * M[c][k]
				}
			}
		}
	}
	inv := make([][]float64, n)
	for i := range inv {
		inv[i] = M[i][n:]
	}
	return inv
}

func TestAnchorOnlyShifts(t *testing.T) {
	cs := mustRead(t, "random8.jsonl")
	a, err := FitBT(cs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitBT(cs, Options{Anchor: "m4"})
	if err != nil {
		t.Fatal(err)
	}
	shift := a.Items[a.index["m4"]].Strength
	for i := range a.Items {
		near(t, a.Items[i].Name, b.Items[i].Strength, a.Items[i].Strength-shift, 1e-9)
	}
	near(t, "log-lik", b.LogLik, a.LogLik, 1e-9)
	pa, _ := a.Prob("m1", "m6")
	pb, _ := b.Prob("m1", "m6")
	near(t, "P(m1≻m6)", pb, pa, 1e-9)
}

func TestFitErrors(t *testing.T) {
	tests := []struct {
		name  string
		cs    []Comparison
		opts  Options
		check func(error) bool
		msg   string
	}{
		{"disconnected names components", mustRead(t, "disconnected.jsonl"), Options{},
			func(err error) bool {
				var d *DisconnectedError
				return errors.As(err, &d) && reflect.DeepEqual(d.Components, [][]string{{"A", "B"}, {"C", "D", "E"}})
			}, "{A, B}, {C, D, E}"},
		{"never loses", mustRead(t, "separated.jsonl"), Options{},
			func(err error) bool {
				var s *SeparationError
				return errors.As(err, &s) && reflect.DeepEqual(s.NeverLose, []string{"alpha"}) && s.NeverWin == nil
			}, "never lost: alpha"},
		{"never wins", []Comparison{{"x", "y", 2, 1}, {"y", "z", 3, 0}, {"x", "z", 1, 0}}, Options{},
			func(err error) bool {
				var s *SeparationError
				return errors.As(err, &s) && reflect.DeepEqual(s.NeverWin, []string{"z"})
			}, "--l2"},
		{"group never loses to the rest", []Comparison{{"p", "q", 2, 1}, {"q", "r", 5, 0}, {"p", "r", 4, 0}, {"r", "s", 1, 1}},
			Options{},
			func(err error) bool {
				var s *SeparationError
				return errors.As(err, &s) && reflect.DeepEqual(s.Top, []string{"p", "q"})
			}, "{p, q} never lost"},
		{"unknown anchor", mustRead(t, "worked_two_pairs.jsonl"), Options{Anchor: "Z"}, nil, `anchor "Z"`},
		{"negative l2", mustRead(t, "worked_two_pairs.jsonl"), Options{L2: -1}, nil, "L2"},
		{"no comparisons", []Comparison{{"a", "a", 3, 0}}, Options{}, nil, "no comparisons"},
		{"negative count", []Comparison{{"a", "b", -1, 0}}, Options{}, nil, "≥ 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FitBT(tc.cs, tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.check != nil && !tc.check(err) {
				t.Errorf("wrong error type/content: %v", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestProbUnknownItem(t *testing.T) {
	fit, err := FitBT(mustRead(t, "worked_two_pairs.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fit.Prob("A", "nope"); err == nil {
		t.Error("no error for unknown item")
	}
}

func TestRanked(t *testing.T) {
	fit, err := FitBT(mustRead(t, "worked_three_pairs.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range fit.Ranked() {
		got = append(got, it.Name)
	}
	if want := []string{"A", "C", "B"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Ranked = %v, want %v", got, want)
	}
	// Wins/losses: A 13–7, B 7–13, C 10–10.
	want := map[string][2]float64{"A": {13, 7}, "B": {7, 13}, "C": {10, 10}}
	for _, it := range fit.Items {
		if w := want[it.Name]; it.Wins != w[0] || it.Losses != w[1] {
			t.Errorf("%s wins/losses %v/%v, want %v", it.Name, it.Wins, it.Losses, w)
		}
	}
}
