package train

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/model"
)

// span is a run of consecutive trainable parameters sharing a weight-decay setting.
type span struct {
	off, n int
	decay  bool
}

// optimizer is AdamW, SGD or RMSprop over the model's flat trainable buffer, in the
// manner of torch.optim with transformers' parameter groups: biases and norm weights
// get no weight decay (Trainer.get_decay_parameter_names).
type optimizer struct {
	be            kernels.Backend
	kind          string // "adamw", "sgd" or "rmsprop"
	params, grads []float32
	m, v          []float32 // AdamW exp_avg, exp_avg_sq; SGD momentum buffer in m (nil without momentum); RMSprop square_avg in v
	spans         []span
	tensors       []model.Tensor
	step          int // optimizer steps taken (AdamW's step count, from 1)
	// next holds parameters outside the model's flat buffer (the reward model's value
	// head) in the same parameter set: one global norm, one clip, one update.
	next *optimizer

	lr, beta1, beta2, eps, wd, momentum float32
}

// noDecay reports whether transformers leaves a parameter out of weight decay: biases
// and normalisation weights.
func noDecay(name string) bool {
	return strings.HasSuffix(name, ".bias") || strings.Contains(name, "norm")
}

func newOptimizer(m *model.Model, kind string, beta1, beta2, eps, wd, momentum float64) (*optimizer, error) {
	params, grads := m.TrainableBuffers()
	return newOptimizerFor(m.Backend(), params, grads, m.Trainable(), kind, beta1, beta2, eps, wd, momentum)
}

// newOptimizerFor is newOptimizer over tensors laid out consecutively in params/grads.
func newOptimizerFor(be kernels.Backend, params, grads []float32, tensors []model.Tensor, kind string, beta1, beta2, eps, wd, momentum float64) (*optimizer, error) {
	o := &optimizer{be: be, kind: kind, params: params, grads: grads, tensors: tensors,
		beta1: float32(beta1), beta2: float32(beta2), eps: float32(eps), wd: float32(wd), momentum: float32(momentum)}
	off := 0
	for _, t := range o.tensors {
		if len(t.Data) == 0 {
			continue
		}
		if off+len(t.Data) > len(params) || unsafe.SliceData(t.Data) != &params[off] {
			return nil, fmt.Errorf("train: trainable tensor %s is not laid out consecutively in the parameter buffer", t.Name)
		}
		d := !noDecay(t.Name)
		if k := len(o.spans) - 1; k >= 0 && o.spans[k].decay == d {
			o.spans[k].n += len(t.Data)
		} else {
			o.spans = append(o.spans, span{off: off, n: len(t.Data), decay: d})
		}
		off += len(t.Data)
	}
	if off != len(params) {
		return nil, fmt.Errorf("train: trainable tensors cover %d of %d parameters", off, len(params))
	}
	switch kind {
	case "adamw":
		o.m, o.v = o.be.Alloc(len(params)), o.be.Alloc(len(params))
	case "sgd":
		if momentum > 0 {
			o.m = o.be.Alloc(len(params))
		}
	case "rmsprop":
		o.v = o.be.Alloc(len(params))
	default:
		return nil, fmt.Errorf("train: unknown optimizer %q", kind)
	}
	return o, nil
}

// momentName is the checkpoint name of the first moment buffer (torch's state key).
func (o *optimizer) momentName() string {
	if o.kind == "sgd" {
		return "momentum_buffer"
	}
	return "exp_avg"
}

// secondName is the checkpoint name of the second buffer (torch's state key).
func (o *optimizer) secondName() string {
	if o.kind == "rmsprop" {
		return "square_avg"
	}
	return "exp_avg_sq"
}

// gradNorm returns the global L2 norm of the gradients: one reduction over each
// optimizer's flat gradient buffer. Only when that is not finite are the tensors
// searched, to name the first one with a NaN or Inf.
func (o *optimizer) gradNorm() (float64, error) {
	total := 0.0
	for p := o; p != nil; p = p.next {
		ss := p.be.SumSquares(p.grads)
		if math.IsNaN(ss) || math.IsInf(ss, 0) {
			for _, t := range p.tensors {
				if ts := p.be.SumSquares(t.Grad); math.IsNaN(ts) || math.IsInf(ts, 0) {
					return ts, fmt.Errorf("gradient of %s is not finite (sum of squares %v)", t.Name, ts)
				}
			}
			return ss, fmt.Errorf("gradient is not finite (sum of squares %v)", ss)
		}
		total += ss
	}
	return math.Sqrt(total), nil
}

// clip scales the gradients as torch.nn.utils.clip_grad_norm_ does:
// by max/(norm+1e-6) when that is below 1.
func (o *optimizer) clip(norm, maxNorm float64) {
	if maxNorm <= 0 {
		return
	}
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		for p := o; p != nil; p = p.next {
			p.be.Scale(p.grads, float32(coef))
		}
	}
}

// update applies one optimizer step with learning rate lr.
func (o *optimizer) update(lr float64) error {
	o.step++
	for _, s := range o.spans {
		wd := float32(0)
		if s.decay {
			wd = o.wd
		}
		p, g := o.params[s.off:s.off+s.n], o.grads[s.off:s.off+s.n]
		switch o.kind {
		case "adamw":
			o.be.AdamWStep(p, g, o.m[s.off:s.off+s.n], o.v[s.off:s.off+s.n], o.step, float32(lr), o.beta1, o.beta2, o.eps, wd)
		case "sgd":
			var buf []float32
			if o.m != nil {
				buf = o.m[s.off : s.off+s.n]
			}
			o.be.SGDStep(p, g, buf, o.step, float32(lr), o.momentum, wd)
		case "rmsprop":
			rmspropStep(o.be, p, g, o.v[s.off:s.off+s.n], float32(lr), wd)
		}
	}
	if o.next != nil {
		return o.next.update(lr)
	}
	if err := o.be.Sync(); err != nil {
		return fmt.Errorf("optimizer step: %w", err)
	}
	return nil
}
