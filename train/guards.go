package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/preftune/preftune/model"
)

// ErrDiverged is wrapped by the error that stops a run on a loss spike or a gradient
// norm over stop_on_grad_norm: the run exits non-zero and writes no final model (the
// checkpoints written before stay as they are).
var ErrDiverged = errors.New("training diverged")

// spikeBaselineSteps is how many first steps set the loss baseline of stop_on_loss_spike.
const spikeBaselineSteps = 10

// divergence is the state of the divergence guards: the mean |loss| of the run's first
// steps (since the start or the resume).
type divergence struct {
	sum float64
	n   int
}

// guard checks optimizer step t.step+1 after its update: a loss spike
// (stop_on_loss_spike times the first steps' mean |loss|), a gradient norm before
// clipping over stop_on_grad_norm, and every trainable parameter finite (naming the
// first tensor and index that is not).
func (t *trainer) guard(loss, gnorm float64) error {
	c := t.c
	step := t.step + 1
	if err := t.checkParams(); err != nil {
		return fmt.Errorf("step %d: after the update, %w: %w (lower learning_rate, or set max_grad_norm)", step, ErrNonFinite, err)
	}
	if c.StopOnGradNorm > 0 && gnorm > c.StopOnGradNorm {
		return fmt.Errorf("step %d: gradient norm %.4g before clipping is over stop_on_grad_norm %g: %w (lower learning_rate)",
			step, gnorm, c.StopOnGradNorm, ErrDiverged)
	}
	d := &t.div
	if c.StopOnLossSpike > 0 && d.n > 0 {
		base := math.Max(d.sum/float64(d.n), 1e-3)
		if math.Abs(loss) > c.StopOnLossSpike*base {
			return fmt.Errorf("step %d: loss %.4g is %.3g× the mean |loss| %.4g of the first %d steps, over stop_on_loss_spike %g: %w (lower learning_rate; 0 turns the check off)",
				step, loss, math.Abs(loss)/base, d.sum/float64(d.n), d.n, c.StopOnLossSpike, ErrDiverged)
		}
	}
	if d.n < spikeBaselineSteps {
		d.sum += math.Abs(loss)
		d.n++
	}
	return nil
}

// checkParams finds the first non-finite trainable parameter (one sum of squares over
// the buffer; the tensor scan only when it is not finite).
func (t *trainer) checkParams() error {
	for o := t.optim; o != nil; o = o.next {
		if ss := o.be.SumSquares(o.params); !math.IsNaN(ss) && !math.IsInf(ss, 0) {
			continue
		}
		if err := firstNonFinite(o.tensors, false); err != nil {
			return err
		}
	}
	return nil
}

// firstNonFinite names the first tensor (parameter, or gradient with grad) holding a
// NaN or ±Inf, and its first bad index; nil when every value is finite.
func firstNonFinite(ts []model.Tensor, grad bool) error {
	for _, t := range ts {
		data, what := t.Data, "parameter"
		if grad {
			data, what = t.Grad, "gradient of"
		}
		for i, v := range data {
			if v-v != 0 { // NaN and ±Inf
				return fmt.Errorf("%s %s holds %v at index %d", what, t.Name, v, i)
			}
		}
	}
	return nil
}

// nonFiniteSource explains a non-finite loss: the first non-finite parameter of the
// policy, or that every parameter is finite (the overflow is in the activations).
func (t *trainer) nonFiniteSource() string {
	if err := firstNonFinite(t.st.policy.Tensors(), false); err != nil {
		return err.Error()
	}
	if t.st.policy.LoRA() != nil {
		if err := firstNonFinite(t.st.policy.Trainable(), false); err != nil {
			return err.Error()
		}
	}
	return "every parameter is finite: the overflow is in the forward pass"
}
