package train

import (
	"context"
	"fmt"
	"time"

	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train/config"
)

// BenchStep is one timed optimizer step of Bench.
type BenchStep struct {
	Seconds float64 // wall time of the step
	Loss    float64
	Tokens  int     // every prompt+completion token of the step's pairs, each prompt counted per completion (TRL's concatenated batch)
	FLOPs   float64 // matrix-multiply work of the step (policy forward+backward, live reference forward)
}

// BenchInfo describes what Bench ran.
type BenchInfo struct {
	Backend         string
	Threads         int
	Layout          string
	Reference       string
	ActivationBytes int
}

// Bench runs the setup of Run (model, data, reference, optimizer) and then times
// steps+1 optimizer steps of the very step Run takes (step 0 is a warm-up, reported
// too), calling each after every step. It writes no outputs (output_dir must be a
// scratch directory) and stops at the first error.
func Bench(ctx context.Context, cfg *config.Loaded, opt Options, steps int, each func(i int, s BenchStep)) (*BenchInfo, error) {
	t, done, err := start(cfg, opt)
	if err != nil {
		return nil, err
	}
	defer done()
	t.st.countFLOPs = true
	info := &BenchInfo{Backend: t.be.Name(), Threads: t.be.Threads(), Layout: layoutName(t.st.lay, t.opt.Plain),
		Reference: t.refDesc, ActivationBytes: t.st.policy.ActivationBytes()}
	its := make([]item, 0, t.c.PerDeviceTrainBatchSize)
	for i := 0; i <= steps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t.step%t.stepsPerEpoch == 0 {
			t.epochOrder(t.step / t.stepsPerEpoch)
		}
		t.st.flops, t.st.tokens = 0, 0
		t0 := time.Now()
		loss, _, err := t.optimizerStep(its)
		if err != nil {
			return nil, err
		}
		dt := time.Since(t0).Seconds()
		t.step++
		each(i, BenchStep{Seconds: dt, Loss: loss, Tokens: t.st.tokens, FLOPs: t.st.flops})
	}
	return info, nil
}

// layoutName describes a step layout for logs and bench results.
func layoutName(l model.Layout, plain bool) string {
	s := "padded"
	if l.Pack {
		s = "packed"
		if l.RowTokens > 0 {
			s += fmt.Sprintf("(%d)", l.RowTokens)
		}
	}
	if l.SharePrompt {
		s += "+shared-prompt"
	}
	if !plain {
		s += "+fused-gate-up"
	}
	return s
}
