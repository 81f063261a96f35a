package judge

import (
	"math"
	"testing"
)

func outcomesOf(wins, ties, losses int) []float64 {
	var o []float64
	for range wins {
		o = append(o, Win)
	}
	for range ties {
		o = append(o, Tie)
	}
	for range losses {
		o = append(o, Loss)
	}
	return o
}

func TestQuantileType7(t *testing.T) {
	// Values from R: quantile(c(1,2,3,4), p) with the default type 7.
	xs := []float64{1, 2, 3, 4}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {0.25, 1.75}, {0.5, 2.5}, {0.9, 3.7}, {1, 4}} {
		if got := Quantile(xs, c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
}

// binomialQuantile is the smallest k with P(Bin(n, p) ≤ k) ≥ q, from log-gamma pmfs.
func binomialQuantile(n int, p, q float64) int {
	cdf := 0.0
	for k := 0; k <= n; k++ {
		lg1, _ := math.Lgamma(float64(n + 1))
		lg2, _ := math.Lgamma(float64(k + 1))
		lg3, _ := math.Lgamma(float64(n - k + 1))
		cdf += math.Exp(lg1 - lg2 - lg3 + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
		if cdf >= q {
			return k
		}
	}
	return n
}

// TestBootstrapMatchesBinomial: without ties, a resample's win count is Binomial(n, p̂), so the
// percentile interval converges to binomial quantiles / n.
func TestBootstrapMatchesBinomial(t *testing.T) {
	const n, wins, B = 400, 240, 20000
	lo, hi, err := BootstrapCI(outcomesOf(wins, 0, n-wins), B, 0.95, 7)
	if err != nil {
		t.Fatal(err)
	}
	p := float64(wins) / n
	wantLo := float64(binomialQuantile(n, p, 0.025)) / n
	wantHi := float64(binomialQuantile(n, p, 0.975)) / n
	// One count of discreteness plus Monte Carlo error (≈0.0005 at B = 20000).
	const tol = 1.0/n + 0.0015
	if math.Abs(lo-wantLo) > tol || math.Abs(hi-wantHi) > tol {
		t.Errorf("bootstrap CI [%.4f, %.4f], binomial [%.4f, %.4f]", lo, hi, wantLo, wantHi)
	}
}

// TestBootstrapMatchesNormal: with ties and large n the percentile interval is close to the
// normal-approximation interval p̂ ± z·sqrt(var/n).
func TestBootstrapMatchesNormal(t *testing.T) {
	tests := []struct {
		wins, ties, losses int
		conf, z            float64
	}{
		{900, 300, 800, 0.95, 1.959963984540054},
		{1500, 100, 400, 0.90, 1.6448536269514722},
	}
	for _, tc := range tests {
		o := outcomesOf(tc.wins, tc.ties, tc.losses)
		n := float64(len(o))
		p := (float64(tc.wins) + 0.5*float64(tc.ties)) / n
		v := (float64(tc.wins)+0.25*float64(tc.ties))/n - p*p
		half := tc.z * math.Sqrt(v/n)
		lo, hi, err := BootstrapCI(o, 4000, tc.conf, 3)
		if err != nil {
			t.Fatal(err)
		}
		const tol = 0.002
		if math.Abs(lo-(p-half)) > tol || math.Abs(hi-(p+half)) > tol {
			t.Errorf("%v: bootstrap [%.4f, %.4f], normal [%.4f, %.4f]", tc, lo, hi, p-half, p+half)
		}
	}
}

func TestBootstrapSeeded(t *testing.T) {
	o := outcomesOf(13, 4, 9)
	lo1, hi1, _ := BootstrapCI(o, 500, 0.95, 42)
	lo2, hi2, _ := BootstrapCI(o, 500, 0.95, 42)
	if lo1 != lo2 || hi1 != hi2 {
		t.Errorf("same seed gave [%v,%v] and [%v,%v]", lo1, hi1, lo2, hi2)
	}
	differs := false
	for seed := uint64(1); seed <= 5 && !differs; seed++ {
		lo, hi, _ := BootstrapCI(o, 500, 0.95, 42+seed)
		differs = lo != lo1 || hi != hi1
	}
	if !differs {
		t.Error("the seed has no effect")
	}
	// All outcomes equal: every resample has the same mean.
	lo, hi, _ := BootstrapCI(outcomesOf(0, 5, 0), 100, 0.95, 1)
	if lo != 0.5 || hi != 0.5 {
		t.Errorf("constant outcomes gave [%v, %v]", lo, hi)
	}
}

func TestBootstrapErrors(t *testing.T) {
	tests := []struct {
		name string
		o    []float64
		b    int
		c    float64
	}{
		{"empty", nil, 10, 0.95}, {"zero resamples", []float64{1}, 0, 0.95}, {"confidence 1", []float64{1}, 10, 1}, {"confidence NaN", []float64{1}, 10, math.NaN()},
	}
	for _, tc := range tests {
		if _, _, err := BootstrapCI(tc.o, tc.b, tc.c, 1); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := Summarize([]float64{0.3}, 10, 0.95, 1); err == nil {
		t.Error("Summarize accepted outcome 0.3")
	}
}
