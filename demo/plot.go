package demo

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// SuccessPlot draws heldout_success.png: for the reference (SFT) and the DPO policy,
// the judged success (the number in the preferred spelling) and the share with the
// right number in either spelling, on the held-out prompts.
func SuccessPlot(r *Result) ([]byte, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("held-out prompts (%d): reference vs DPO policy", r.HeldOutPairs)
	p.Y.Label.Text = "fraction of prompts"
	p.Y.Min, p.Y.Max = 0, 1.3 // room for the legend above the bars
	w := vg.Points(48)
	judged, err := plotter.NewBarChart(plotter.Values{r.RefSuccess, r.PolicySuccess}, w)
	if err != nil {
		return nil, fmt.Errorf("demo: plot: %w", err)
	}
	judged.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	judged.Offset = -w / 2
	either, err := plotter.NewBarChart(plotter.Values{r.RefCorrect, r.PolicyCorrect}, w)
	if err != nil {
		return nil, fmt.Errorf("demo: plot: %w", err)
	}
	either.Color = color.RGBA{R: 174, G: 199, B: 232, A: 255}
	either.Offset = w / 2
	p.Add(judged, either)
	p.Legend.Add("judged success (American spelling)", judged)
	p.Legend.Add("right number, either spelling", either)
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX("reference (SFT)", "DPO policy")
	p.X.Min, p.X.Max = -0.5, 1.5
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"},
		{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}})
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("demo: plot: %w", err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("demo: plot: %w", err)
	}
	return b.Bytes(), nil
}
