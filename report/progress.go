package report

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows training progress: a bar (step/s, loss, ETA) on a terminal, or one
// plain line per logged step otherwise.
type Progress struct {
	w     io.Writer
	total int
	bar   *progressbar.ProgressBar
	start time.Time
}

// NewProgress starts a display for total optimizer steps, beginning at step done
// (non-zero after a resume).
func NewProgress(w io.Writer, total, done int, terminal bool) *Progress {
	p := &Progress{w: w, total: total, start: time.Now()}
	if terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("train"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("step"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
		p.bar.Set(done)
	}
	return p
}

// Step records that step finished with this loss; logged says whether it is a
// logging step (plain output prints only those).
func (p *Progress) Step(step int, loss float64, logged bool) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("train loss %.4f", loss))
		p.bar.Set(step)
		return
	}
	if logged {
		el := time.Since(p.start)
		fmt.Fprintf(p.w, "step %d/%d  loss %.4f  elapsed %s\n", step, p.total, loss, el.Round(time.Second))
	}
}

// Finish ends the display.
func (p *Progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
