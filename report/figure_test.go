package report

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestCurveLayout: every training plot keeps its legend out of the data area and
// inside the figure (computed from the layout, golden-free), for curves that fill the
// data area's corners (issue 17, point 6). PREFTUNE_PLOT_DIR keeps the PNGs to look at.
func TestCurveLayout(t *testing.T) {
	shapes := map[string]func(i, n int) float64{
		"rising":  func(i, n int) float64 { return float64(i) / float64(n) * 12 },
		"falling": func(i, n int) float64 { return 0.7 * math.Exp(-float64(i)/20) },
		"flat":    func(i, n int) float64 { return 0.5 },
		"noisy":   func(i, n int) float64 { return 0.5 + 0.5*math.Sin(float64(i)) },
	}
	keep := os.Getenv("PREFTUNE_PLOT_DIR")
	for name, f := range shapes {
		for _, n := range []int{1, 2, 15, 150} {
			var steps, vals []float64
			for i := 0; i < n; i++ {
				steps = append(steps, float64(10*(i+1)))
				vals = append(vals, f(i, n))
			}
			png, lay, err := drawCurve("rewards/margins", steps, vals)
			if err != nil {
				t.Fatalf("%s/%d: %v", name, n, err)
			}
			if Overlaps(lay.Legend, lay.Data) {
				t.Errorf("%s/%d: legend %v overlaps the data area %v", name, n, lay.Legend, lay.Data)
			}
			if d, l := lay.LegendDrawn, lay.Legend; !(d.Min.X >= l.Min.X && d.Max.X <= l.Max.X+0.01 && d.Min.Y >= l.Min.Y-0.01 && d.Max.Y <= l.Max.Y) {
				t.Errorf("%s/%d: the legend's entries %v do not fit its strip %v", name, n, d, l)
			}
			for _, r := range []struct{ in, out float64 }{
				{float64(lay.Legend.Min.X), float64(lay.Figure.Min.X)}, {float64(lay.Legend.Min.Y), float64(lay.Figure.Min.Y)},
				{float64(lay.Figure.Max.X), float64(lay.Legend.Max.X)}, {float64(lay.Figure.Max.Y), float64(lay.Legend.Max.Y)},
			} {
				if !(r.in >= r.out) {
					t.Errorf("%s/%d: legend %v leaves the figure %v", name, n, lay.Legend, lay.Figure)
				}
			}
			if !(lay.Data.Size().X > 0.6*lay.Figure.Size().X) {
				t.Errorf("%s/%d: data area %v is too narrow in %v", name, n, lay.Data, lay.Figure)
			}
			if keep != "" {
				os.WriteFile(filepath.Join(keep, name+"_"+string(rune('0'+n%10))+".png"), png, 0o644)
			}
		}
	}
}

// TestNiceTicks: labelled ticks are multiples of 1, 2 or 5 × 10^k covering the range.
func TestNiceTicks(t *testing.T) {
	cases := []struct {
		lo, hi  float64
		integer bool
		want    []float64
	}{
		{1, 11, false, []float64{2, 4, 6, 8, 10}},
		{10, 150, true, []float64{20, 40, 60, 80, 100, 120, 140}},
		{0, 1, false, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0.6, 0.7, false, []float64{0.6, 0.62, 0.64, 0.66, 0.68, 0.7}},
		{1, 3, true, []float64{1, 2, 3}},
		{-3, 12, false, []float64{0, 5, 10}},
	}
	for _, tc := range cases {
		var got []float64
		for _, tk := range (NiceTicks{Integer: tc.integer}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				got = append(got, tk.Value)
			}
		}
		ok := len(got) == len(tc.want)
		for i := 0; ok && i < len(got); i++ {
			ok = math.Abs(got[i]-tc.want[i]) <= 1e-9
		}
		if !ok {
			t.Errorf("ticks of [%v,%v] = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}
