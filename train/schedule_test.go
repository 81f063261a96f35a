package train

import (
	"math"
	"testing"
)

// TestSchedule checks transformers' get_scheduler multipliers at hand-computed points
// (total 10 steps, warmup 2 unless noted): warmup is step/warmup; linear decays
// (total−step)/(total−warmup); cosine is ½(1+cos(π·progress)).
func TestSchedule(t *testing.T) {
	cases := []struct {
		name          string
		warmup, total int
		step          int
		want          float64
	}{
		{"constant", 2, 10, 0, 1},
		{"constant", 2, 10, 9, 1},
		{"constant_with_warmup", 2, 10, 0, 0},
		{"constant_with_warmup", 2, 10, 1, 0.5},
		{"constant_with_warmup", 2, 10, 2, 1},
		{"linear", 2, 10, 1, 0.5},
		{"linear", 2, 10, 2, 1},
		{"linear", 2, 10, 6, 0.5},
		{"linear", 2, 10, 10, 0},
		{"linear", 0, 4, 0, 1},
		{"linear", 0, 4, 3, 0.25},
		{"cosine", 2, 10, 2, 1},
		{"cosine", 2, 10, 6, 0.5},
		{"cosine", 2, 10, 4, 0.5 * (1 + math.Cos(math.Pi*0.25))},
		{"cosine", 2, 10, 10, 0},
	}
	for _, tc := range cases {
		got := schedule{name: tc.name, warmup: tc.warmup, total: tc.total}.factor(tc.step)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s(warmup %d, total %d) at step %d = %v, want %v", tc.name, tc.warmup, tc.total, tc.step, got, tc.want)
		}
	}
	// TrainingArguments.get_warmup_steps: warmup_steps wins, else ceil(ratio·total)
	for _, tc := range []struct {
		steps        int
		ratio        float64
		total, wantW int
	}{{0, 0.1, 113, 12}, {5, 0.1, 113, 5}, {0, 0, 50, 0}} {
		if w := warmupSteps(tc.steps, tc.ratio, tc.total); w != tc.wantW {
			t.Errorf("warmupSteps(%d, %v, %d) = %d, want %d", tc.steps, tc.ratio, tc.total, w, tc.wantW)
		}
	}
}
