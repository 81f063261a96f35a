package report

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// LegendPlace says where Render puts a figure's legend: outside the data area, in a
// strip to the right of the plot or below it.
type LegendPlace int

const (
	LegendRight LegendPlace = iota
	LegendBelow
)

// Layout is where Render put a figure's parts, in points from the bottom-left corner.
type Layout struct {
	Figure, Data, Legend vg.Rectangle
	// LegendDrawn is the extent gonum's Legend.Rectangle reports for the entries,
	// placed at the legend strip's top-left corner (where Draw puts them): it must
	// fit in Legend.
	LegendDrawn vg.Rectangle
}

// Overlaps reports whether two rectangles share interior area.
func Overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// legendSize is the extent of a drawn legend (thumbnail, a space, the widest text;
// the entries' heights and padding).
func legendSize(l *plot.Legend, entries []string) (w, h vg.Length) {
	var eh vg.Length
	for _, e := range entries {
		eh = max(eh, l.TextStyle.Rectangle(e).Max.Y)
	}
	for i, e := range entries {
		w = max(w, l.ThumbnailWidth+l.TextStyle.Rectangle(" "+e).Max.X)
		h += eh
		if i > 0 {
			h += l.Padding
		}
	}
	return w, h + l.TextStyle.FontExtents().Descent
}

// Figure is a plot with a legend kept out of the data area.
type Figure struct {
	Plot    *plot.Plot
	Legend  plot.Legend
	entries []string
	Place   LegendPlace
}

// NewFigure starts a figure around p, whose own legend stays empty.
func NewFigure(p *plot.Plot, place LegendPlace) *Figure {
	l := plot.NewLegend()
	l.Padding = vg.Points(3)
	return &Figure{Plot: p, Legend: l, Place: place}
}

// Add adds a legend entry.
func (f *Figure) Add(name string, th ...plot.Thumbnailer) {
	f.Legend.Add(name, th...)
	f.entries = append(f.entries, name)
}

// layout splits a w×h canvas between the plot and the legend strip.
func (f *Figure) layout(c draw.Canvas) (plotC, legC draw.Canvas, lay Layout) {
	pad := vg.Points(8)
	lw, lh := legendSize(&f.Legend, f.entries)
	lay.Figure = c.Rectangle
	c = draw.Crop(c, 0, 0, 0, -vg.Points(4)) // a margin above the title
	switch f.Place {
	case LegendBelow:
		plotC = draw.Crop(c, 0, 0, lh+2*pad, 0)
		data := f.Plot.DataCanvas(plotC)
		x0 := data.Min.X
		legC = c
		legC.Rectangle = vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y + pad}, Max: vg.Point{X: x0 + lw, Y: c.Min.Y + pad + lh}}
		lay.Data = data.Rectangle
	default:
		plotC = draw.Crop(c, 0, -(lw + 2*pad), 0, 0)
		data := f.Plot.DataCanvas(plotC)
		x0 := plotC.Max.X + pad
		legC = c
		legC.Rectangle = vg.Rectangle{Min: vg.Point{X: x0, Y: data.Max.Y - lh}, Max: vg.Point{X: x0 + lw, Y: data.Max.Y}}
		lay.Data = data.Rectangle
	}
	lay.Legend = legC.Rectangle
	f.Legend.Top, f.Legend.Left = true, true
	size := f.Legend.Rectangle(legC).Size()
	lay.LegendDrawn = vg.Rectangle{Min: vg.Point{X: legC.Min.X, Y: legC.Max.Y - size.Y}, Max: vg.Point{X: legC.Min.X + size.X, Y: legC.Max.Y}}
	return plotC, legC, lay
}

// Render draws the figure as a w×h PNG and returns it with its layout.
func (f *Figure) Render(w, h vg.Length) ([]byte, Layout, error) {
	img := vgimg.New(w, h)
	c := draw.New(img)
	plotC, legC, lay := f.layout(c)
	f.Plot.Draw(plotC)
	f.Legend.Draw(legC)
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return nil, lay, fmt.Errorf("report: png: %w", err)
	}
	return b.Bytes(), lay, nil
}

// NiceTicks places labelled ticks at multiples of 1, 2 or 5 × 10^k, at most about seven over
// the range (Integer: never a fractional step, for step axes).
type NiceTicks struct{ Integer bool }

// Step is the tick spacing NiceTicks uses for [lo, hi].
func (t NiceTicks) Step(lo, hi float64) float64 {
	span := hi - lo
	if !(span > 1e-9*math.Max(math.Max(math.Abs(lo), math.Abs(hi)), 1e-300)) {
		span = math.Max(math.Abs(hi), 1)
	}
	raw := span / 7 // at most about 7 intervals
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if t.Integer && step < 1 {
		step = 1
	}
	return step
}

// Ticks implements plot.Ticker.
func (t NiceTicks) Ticks(lo, hi float64) []plot.Tick {
	step := t.Step(lo, hi)
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9 && len(ticks) < 100; k++ {
		v := k * step
		if v == 0 {
			v = 0 // no "-0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', dec, 64)})
		// an unlabelled minor tick halfway
		if m := v + step/2; m <= hi && !(t.Integer && step/2 != math.Trunc(step/2)) {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	return ticks
}

// niceRange widens [lo, hi] to the enclosing multiples of the tick step, so the
// axis starts and ends on a labelled tick.
func niceRange(t NiceTicks, lo, hi float64) (float64, float64) {
	if !(hi-lo > 1e-9*math.Max(math.Abs(lo), math.Abs(hi))) {
		lo, hi = lo-0.5, hi+0.5
		if t.Integer {
			lo, hi = lo-0.5, hi+0.5
		}
	}
	s := t.Step(lo, hi)
	return math.Floor(lo/s+1e-9) * s, math.Ceil(hi/s-1e-9) * s
}
