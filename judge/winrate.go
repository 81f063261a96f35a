package judge

import (
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
	"math"
	"math/rand/v2"
	"sort"
)

// Outcome values of one prompt for side A.
const (
	Loss = 0.0
	Tie  = 0.5
	Win  = 1.0
)

// Verdict is one prompt's judged comparison.
type Verdict struct {
	Pair
	ScoreA, ScoreB float64
	Outcome        float64 // Win, Tie or Loss for A
}

// Compare scores both completions of every pair. A judge that needs references fails on the
// first pair without one; a NaN score is an error naming the row.
func (j *Judge) Compare(pairs []Pair) ([]Verdict, error) {
	out := make([]Verdict, len(pairs))
	for k, p := range pairs {
		if j.NeedsRef && !p.HasRef {
			return nil, &rowerr.Error{Source: p.A.File, Row: p.A.Row, Field: "reference", Err: fmt.Errorf("judge %q needs a reference answer (a \"reference\" or \"answer\" field, or --ref FILE) for prompt %s", j.Name, quoteShort(p.Prompt))}
		}
		sa := j.Score(p.Prompt, p.A.Completion, p.Ref)
		sb := j.Score(p.Prompt, p.B.Completion, p.Ref)
		for _, s := range []struct {
			v float64
			g Generation
		}{{sa, p.A}, {sb, p.B}} {
			if math.IsNaN(s.v) {
				return nil, &rowerr.Error{Source: s.g.File, Row: s.g.Row, Field: "completion", Err: fmt.Errorf("judge %q returned NaN", j.Name)}
			}
		}
		v := Verdict{Pair: p, ScoreA: sa, ScoreB: sb, Outcome: Tie}
		switch {
		case sa > sb:
			v.Outcome = Win
		case sa < sb:
			v.Outcome = Loss
		}
		out[k] = v
	}
	return out, nil
}

// Result summarises a comparison.
type Result struct {
	N          int     `json:"n"`
	Wins       int     `json:"wins"`
	Ties       int     `json:"ties"`
	Losses     int     `json:"losses"`
	WinRate    float64 `json:"win_rate"`
	CILow      float64 `json:"ci_low"`
	CIHigh     float64 `json:"ci_high"`
	Confidence float64 `json:"confidence"`
	Bootstrap  int     `json:"bootstrap"`
	Seed       uint64  `json:"seed"`
}

// Summarize counts the outcomes and adds a percentile-bootstrap interval.
func Summarize(outcomes []float64, resamples int, confidence float64, seed uint64) (Result, error) {
	r := Result{N: len(outcomes), Confidence: confidence, Bootstrap: resamples, Seed: seed}
	for _, o := range outcomes {
		switch o {
		case Win:
			r.Wins++
		case Tie:
			r.Ties++
		case Loss:
			r.Losses++
		default:
			return Result{}, fmt.Errorf("outcome %v is not 0, 0.5 or 1", o)
		}
	}
	var err error
	r.WinRate = WinRate(outcomes)
	r.CILow, r.CIHigh, err = BootstrapCI(outcomes, resamples, confidence, seed)
	return r, err
}

// WinRate is the mean outcome: (wins + ties/2) / n.
func WinRate(outcomes []float64) float64 {
	if len(outcomes) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, o := range outcomes {
		s += o
	}
	return s / float64(len(outcomes))
}

// BootstrapCI is the percentile bootstrap interval of the mean of outcomes at the given
// confidence (0 < c < 1), from resamples resamples drawn with a PCG seeded by seed.
func BootstrapCI(outcomes []float64, resamples int, confidence float64, seed uint64) (lo, hi float64, err error) {
	n := len(outcomes)
	if n == 0 {
		return 0, 0, errors.New("no outcomes to resample")
	}
	if resamples < 1 {
		return 0, 0, fmt.Errorf("bootstrap resamples must be ≥ 1, got %d", resamples)
	}
	if !(confidence > 0 && confidence < 1) {
		return 0, 0, fmt.Errorf("confidence must be in (0, 1), got %v", confidence)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	means := make([]float64, resamples)
	for b := range means {
		s := 0.0
		for range n {
			s += outcomes[rng.IntN(n)]
		}
		means[b] = s / float64(n)
	}
	sort.Float64s(means)
	alpha := (1 - confidence) / 2
	return Quantile(means, alpha), Quantile(means, 1-alpha), nil
}

// Quantile is the p-quantile of sorted xs by linear interpolation between order statistics
// (Hyndman & Fan type 7, R's default): h = (n−1)·p.
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * p
	i := int(math.Floor(h))
	if i >= n-1 {
		return sorted[n-1]
	}
	if i < 0 {
		return sorted[0]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}
