package demo

import (
	"fmt"
	"image/color"

	"github.com/preftune/preftune/report"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// SuccessPlot draws heldout_success.png: for the reference (SFT) and the DPO policy,
// the judged success (the number in the preferred spelling) and the share with the
// right number in either spelling, on the held-out prompts. The legend sits below the
// chart, away from the bars and the title.
func SuccessPlot(r *Result) ([]byte, error) {
	b, _, err := successPlot(r)
	return b, err
}

func successPlot(r *Result) ([]byte, report.Layout, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("held-out prompts (%d): reference vs DPO policy", r.HeldOutPairs)
	p.Title.Padding = vg.Points(6)
	p.Y.Label.Text = "fraction of prompts"
	p.Y.Min, p.Y.Max = 0, 1
	w := vg.Points(48)
	judged, err := plotter.NewBarChart(plotter.Values{r.RefSuccess, r.PolicySuccess}, w)
	if err != nil {
		return nil, report.Layout{}, fmt.Errorf("demo: plot: %w", err)
	}
	judged.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	judged.Offset = -w / 2
	either, err := plotter.NewBarChart(plotter.Values{r.RefCorrect, r.PolicyCorrect}, w)
	if err != nil {
		return nil, report.Layout{}, fmt.Errorf("demo: plot: %w", err)
	}
	either.Color = color.RGBA{R: 174, G: 199, B: 232, A: 255}
	either.Offset = w / 2
	p.Add(judged, either)
	p.NominalX("reference (SFT)", "DPO policy")
	p.X.Min, p.X.Max = -0.5, 1.5
	p.Y.Tick.Marker = report.NiceTicks{}
	f := report.NewFigure(p, report.LegendBelow)
	f.Add("judged success (American spelling)", judged)
	f.Add("right number, either spelling", either)
	b, lay, err := f.Render(6*vg.Inch, 4.5*vg.Inch)
	if err != nil {
		return nil, lay, fmt.Errorf("demo: plot: %w", err)
	}
	return b, lay, nil
}
