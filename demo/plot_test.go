package demo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/preftune/preftune/report"
)

// TestSuccessPlotLayout: the held-out chart's legend lies outside the data area and
// the title (it is drawn below the chart), even with full-height bars (issue 17,
// point 6). PREFTUNE_PLOT_DIR keeps the PNG to look at.
func TestSuccessPlotLayout(t *testing.T) {
	r := &Result{HeldOutPairs: 200, RefSuccess: 0.285, PolicySuccess: 1, RefCorrect: 1, PolicyCorrect: 1}
	png, lay, err := successPlot(r)
	if err != nil {
		t.Fatal(err)
	}
	if report.Overlaps(lay.Legend, lay.Data) {
		t.Errorf("legend %v overlaps the data area %v", lay.Legend, lay.Data)
	}
	if d, l := lay.LegendDrawn, lay.Legend; !(d.Max.X <= l.Max.X+0.01 && d.Min.Y >= l.Min.Y-0.01) {
		t.Errorf("the legend's entries %v do not fit its strip %v", d, l)
	}
	if !(lay.Legend.Max.Y < lay.Data.Min.Y) {
		t.Errorf("legend %v is not below the data area %v", lay.Legend, lay.Data)
	}
	if !(lay.Legend.Min.Y >= lay.Figure.Min.Y) {
		t.Errorf("legend %v leaves the figure %v", lay.Legend, lay.Figure)
	}
	if dir := os.Getenv("PREFTUNE_PLOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "heldout_success.png"), png, 0o644)
	}
}
