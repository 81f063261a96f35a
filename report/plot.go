package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"github.com/preftune/preftune/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotKeys are the metrics plotted by Plot, each to training_<key with / as _>.png:
// LLaMA-Factory's plot_loss set for DPO.
var PlotKeys = []string{"loss", "rewards/accuracies", "rewards/margins", "eval_loss"}

// Plot draws each of PlotKeys that the history has (at least one point) against the
// step, as LLaMA-Factory's plot_loss does: the raw curve and an exponential moving
// average. It returns the files written.
func Plot(dir string, history []Entry) ([]string, error) {
	var written []string
	for _, key := range PlotKeys {
		var steps, vals []float64
		for _, e := range history {
			if v, ok := e.Values[key]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				steps = append(steps, float64(e.Step))
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		name := "training_" + fileKey(key) + ".png"
		png, _, err := drawCurve(key, steps, vals)
		if err != nil {
			return written, fmt.Errorf("plotting %s: %w", key, err)
		}
		path := filepath.Join(dir, name)
		if err := atomicfile.WriteFile(path, png, 0o644); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

func fileKey(k string) string {
	b := []byte(k)
	for i, c := range b {
		if c == '/' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Smooth is LLaMA-Factory's smoothing of a logged curve: an exponential moving average
// whose weight grows with the number of points (1.8·(sigmoid(0.05·n) − 0.5)).
func Smooth(vals []float64) []float64 {
	if len(vals) == 0 {
		return nil
	}
	w := 1.8 * (1/(1+math.Exp(-0.05*float64(len(vals)))) - 0.5)
	out := make([]float64, len(vals))
	last := vals[0]
	for i, v := range vals {
		last = last*w + (1-w)*v
		out[i] = last
	}
	return out
}

// drawCurve draws one metric: the raw curve (translucent, as LLaMA-Factory's alpha 0.4)
// and its smoothing, with 1-2-5 ticks and the legend to the right of the data.
func drawCurve(key string, steps, vals []float64) ([]byte, Layout, error) {
	p := plot.New()
	p.Title.Text = "training " + key
	p.X.Label.Text = "step"
	p.Y.Label.Text = key
	raw := make(plotter.XYs, len(vals))
	sm := make(plotter.XYs, len(vals))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range Smooth(vals) {
		raw[i] = plotter.XY{X: steps[i], Y: vals[i]}
		sm[i] = plotter.XY{X: steps[i], Y: v}
		lo, hi = math.Min(lo, math.Min(v, vals[i])), math.Max(hi, math.Max(v, vals[i]))
	}
	lr, err := plotter.NewLine(raw)
	if err != nil {
		return nil, Layout{}, err
	}
	lr.Color = color.NRGBA{R: 31, G: 119, B: 180, A: 102}
	lr.Width = vg.Points(1)
	ls, err := plotter.NewLine(sm)
	if err != nil {
		return nil, Layout{}, err
	}
	ls.Color = color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	ls.Width = vg.Points(2)
	p.Add(lr, ls)
	if len(vals) < 3 { // a line through one or two points is hard to see: mark them
		sc, err := plotter.NewScatter(sm)
		if err != nil {
			return nil, Layout{}, err
		}
		sc.Color = ls.Color
		p.Add(sc)
	}
	xt, yt := NiceTicks{Integer: true}, NiceTicks{}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Min, p.X.Max = niceRange(xt, steps[0], steps[len(steps)-1])
	p.Y.Min, p.Y.Max = niceRange(yt, lo, hi)
	f := NewFigure(p, LegendRight)
	f.Add("original", lr)
	f.Add("smoothed", ls)
	return f.Render(7*vg.Inch, 4*vg.Inch)
}
