package report

import (
	"bytes"
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
		png, err := drawCurve(key, steps, vals)
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

func drawCurve(key string, steps, vals []float64) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "training " + key
	p.X.Label.Text = "step"
	p.Y.Label.Text = key
	raw := make(plotter.XYs, len(vals))
	sm := make(plotter.XYs, len(vals))
	for i, v := range Smooth(vals) {
		raw[i] = plotter.XY{X: steps[i], Y: vals[i]}
		sm[i] = plotter.XY{X: steps[i], Y: v}
	}
	lr, err := plotter.NewLine(raw)
	if err != nil {
		return nil, err
	}
	lr.Color = color.RGBA{R: 31, G: 119, B: 180, A: 100}
	ls, err := plotter.NewLine(sm)
	if err != nil {
		return nil, err
	}
	ls.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	ls.Width = vg.Points(1.5)
	p.Add(lr, ls)
	p.Legend.Add("original", lr)
	p.Legend.Add("smoothed", ls)
	p.Legend.Top = true
	w, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
