package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Progress shows training progress. Every logging step prints one line (step, loss,
// learning rate, reward accuracy and margin, gradient norm, elapsed time, ETA), on a
// terminal and off it alike; on a terminal a status line below the printed lines shows
// the current step, loss, speed and ETA, redrawn in place (lines printed through
// Println are never erased, and start at column 0).
type Progress struct {
	w        io.Writer
	total    int
	done0    int // steps done when the display started (a resume)
	terminal bool
	start    time.Time
	step     int
	loss     float64
	lastDraw time.Time
	drawn    bool
	now      func() time.Time
}

// NewProgress starts a display for total optimizer steps, beginning at step done
// (non-zero after a resume).
func NewProgress(w io.Writer, total, done int, terminal bool) *Progress {
	p := &Progress{w: w, total: total, done0: done, step: done, terminal: terminal, now: time.Now, loss: math.NaN()}
	p.start = p.now()
	return p
}

// Step records that step finished with this loss. logged, when not nil, is the
// logging interval's entry (trainer_log.jsonl's line), printed as a step line.
func (p *Progress) Step(step int, loss float64, logged *Entry) {
	p.step, p.loss = step, loss
	if logged != nil {
		p.Println(p.StepLine(*logged))
		return
	}
	if p.terminal && (p.now().Sub(p.lastDraw) >= 200*time.Millisecond || step == p.total) {
		p.draw()
	}
}

// Println prints a line that stays: on a terminal the status line is cleared first
// and redrawn after it.
func (p *Progress) Println(line string) {
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, line)
	if p.terminal {
		p.draw()
	}
}

// rate is seconds per step since the display started; ok is false before the first step.
func (p *Progress) rate() (secPerStep float64, ok bool) {
	n := p.step - p.done0
	if n <= 0 {
		return 0, false
	}
	return p.now().Sub(p.start).Seconds() / float64(n), true
}

// eta is the estimated time to the last step, "" before the first step.
func (p *Progress) eta() string {
	r, ok := p.rate()
	if !ok {
		return ""
	}
	return Duration(time.Duration(r * float64(p.total-p.step) * float64(time.Second)))
}

// StepLine is the printed form of a logging step's entry.
func (p *Progress) StepLine(e Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d/%d  loss %.4f", e.Step, p.total, e.Values["loss"])
	if v, ok := e.Values["learning_rate"]; ok {
		fmt.Fprintf(&b, "  lr %.3g", v)
	}
	for _, k := range []string{"rewards/accuracies", "rewards/margins", "grad_norm"} {
		if v, ok := e.Values[k]; ok {
			fmt.Fprintf(&b, "  %s %.4g", k, v)
		}
	}
	fmt.Fprintf(&b, "  elapsed %s", Duration(p.now().Sub(p.start)))
	if eta := p.eta(); eta != "" && e.Step < p.total {
		fmt.Fprintf(&b, "  ETA %s", eta)
	}
	return b.String()
}

// EvalLine is the printed form of an evaluation entry: every eval_ metric, the loss first.
func EvalLine(e Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "eval step %d: loss %.4f", e.Step, e.Values["eval_loss"])
	keys := make([]string, 0, len(e.Values))
	for k := range e.Values {
		if k != "eval_loss" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s %.4g", strings.TrimPrefix(k, "eval_"), e.Values[k])
	}
	return b.String()
}

// status is the terminal's status line.
func (p *Progress) status() string {
	const width = 20
	fill := 0
	if p.total > 0 {
		fill = min(width, width*p.step/p.total)
	}
	s := fmt.Sprintf("train %d/%d [%s%s]", p.step, p.total, strings.Repeat("=", fill), strings.Repeat(" ", width-fill))
	if !math.IsNaN(p.loss) && p.step > p.done0 {
		s += fmt.Sprintf("  loss %.4f", p.loss)
	}
	if r, ok := p.rate(); ok {
		if r >= 1 {
			s += fmt.Sprintf("  %.2f s/step", r)
		} else {
			s += fmt.Sprintf("  %.2f step/s", 1/r)
		}
		s += "  ETA " + p.eta()
	} else {
		s += "  starting…"
	}
	return s + "  elapsed " + Duration(p.now().Sub(p.start))
}

func (p *Progress) draw() {
	fmt.Fprint(p.w, "\r\033[K"+p.status())
	p.lastDraw, p.drawn = p.now(), true
}

// Finish ends the display (a terminal's status line is cleared).
func (p *Progress) Finish() {
	if p.terminal && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// Duration prints a duration as 45s, 3m07s or 2h05m.
func Duration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
	}
}

// Activity is an indicator for work without training steps (evaluation, reference
// log-prob precompute): on a terminal a status line "what n/total elapsed", redrawn in
// place and cleared by Done; off a terminal, with announce, one line when it starts.
type Activity struct {
	w        io.Writer
	terminal bool
	what     string
	total, n int
	start    time.Time
	lastDraw time.Time
}

// NewActivity starts an indicator for total units of work.
func NewActivity(w io.Writer, terminal bool, what string, total int, announce bool) *Activity {
	a := &Activity{w: w, terminal: terminal, what: what, total: total, start: time.Now()}
	switch {
	case terminal:
		a.draw()
	case announce:
		fmt.Fprintf(w, "%s: computing for %d examples\n", what, total)
	}
	return a
}

// Add records n more units done.
func (a *Activity) Add(n int) {
	a.n += n
	if a.terminal && (time.Since(a.lastDraw) >= 200*time.Millisecond || a.n >= a.total) {
		a.draw()
	}
}

func (a *Activity) draw() {
	fmt.Fprintf(a.w, "\r\033[K%s %d/%d  elapsed %s", a.what, a.n, a.total, Duration(time.Since(a.start)))
	a.lastDraw = time.Now()
}

// Done clears the indicator.
func (a *Activity) Done() {
	if a.terminal {
		fmt.Fprint(a.w, "\r\033[K")
	}
}

// TrainableParams is PEFT's print_trainable_parameters line.
func TrainableParams(trainable, all int64) string {
	pct := 0.0
	if all > 0 {
		pct = 100 * float64(trainable) / float64(all)
	}
	return fmt.Sprintf("trainable params: %s || all params: %s || trainable%%: %.4f", commas(trainable), commas(all), pct)
}

// commas prints n with thousands separators (Python's {:,d}).
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
