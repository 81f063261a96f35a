package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// screen replays terminal output: \r returns to column 0, ESC[K erases to the end of
// the line, \n ends a line. It returns the lines that scrolled off (stay on screen)
// and the current, unfinished line.
func screen(out string) (lines []string, current string) {
	var cur []rune
	col := 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '\r':
			col = 0
		case rs[i] == '\n':
			lines = append(lines, string(cur))
			cur, col = nil, 0
		case rs[i] == '\033' && i+2 < len(rs) && rs[i+1] == '[' && rs[i+2] == 'K':
			cur = cur[:col]
			i += 2
		default:
			if col < len(cur) {
				cur[col] = rs[i]
			} else {
				cur = append(cur, rs[i])
			}
			col++
		}
	}
	return lines, string(cur)
}

// fakeClock advances by step on every reading.
func fakeClock(step time.Duration) func() time.Time {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t0 = t0.Add(step); return t0 }
}

// TestProgressTerminal: on a terminal the logging lines and the eval line stay on the
// screen, each on its own line starting at column 0; the status line never shows a
// speed before the first step; Finish clears it (issue 17, point 5).
func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 4, 0, true)
	p.now = fakeClock(300 * time.Millisecond)
	p.start = p.now()
	p.draw()
	if _, cur := screen(b.String()); strings.Contains(cur, "step/") || strings.Contains(cur, "/step") || !strings.Contains(cur, "starting") {
		t.Errorf("first frame %q: want no speed before the first step", cur)
	}
	for s := 1; s <= 4; s++ {
		var e *Entry
		if s%2 == 0 {
			e = &Entry{Step: s, Values: map[string]float64{"loss": 0.6, "learning_rate": 1e-5, "rewards/accuracies": 0.5, "rewards/margins": 0.1}}
		}
		p.Step(s, 0.6, e)
		if s == 2 {
			a := NewActivity(&b, true, "eval", 8, false)
			a.Add(8)
			a.Done()
			p.Println(EvalLine(Entry{Step: 2, Values: map[string]float64{"eval_loss": 0.5, "eval_rewards/accuracies": 1}}))
		}
	}
	p.Finish()
	lines, cur := screen(b.String())
	want := []string{"step 2/4  loss 0.6000  lr 1e-05  rewards/accuracies 0.5  rewards/margins 0.1",
		"eval step 2: loss 0.5000  rewards/accuracies 1", "step 4/4  loss 0.6000"}
	if len(lines) != len(want) {
		t.Fatalf("screen lines %q, want %d lines", lines, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[0], "ETA ") {
		t.Errorf("step line %q lacks the ETA", lines[0])
	}
	if cur != "" {
		t.Errorf("status line %q left after Finish", cur)
	}
	if !strings.Contains(b.String(), "eval 8/8") {
		t.Error("no eval indicator drawn")
	}
}

// TestTrainableParams: PEFT's print_trainable_parameters format.
func TestTrainableParams(t *testing.T) {
	got := TrainableParams(1081344, 495114112)
	want := "trainable params: 1,081,344 || all params: 495,114,112 || trainable%: 0.2184"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := commas(999); got != "999" {
		t.Errorf("commas(999) = %q", got)
	}
}
