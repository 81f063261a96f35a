package train

import "github.com/preftune/preftune/kernels"

// transformers' Trainer maps `optim: rmsprop` to torch.optim.RMSprop given only the
// learning rate (Trainer.get_optimizer_cls_and_kwargs), so torch's defaults hold:
// alpha 0.99, eps 1e-8 (not adam_epsilon), no momentum, not centered. Weight decay is
// the Trainer's per-group weight_decay, coupled as torch's RMSprop applies it.
const (
	rmspropAlpha = 0.99
	rmspropEps   = 1e-8
	// rmspropAsAdamW is the step count handed to AdamWStep so that both bias
	// corrections are exactly 1: 1 − 0^t = 1 and 1 − 0.99^t = 1 (0.99^(2^30)
	// underflows to 0 in float32 and float64 alike).
	rmspropAsAdamW = 1 << 30
)

// rmspropStep is one torch.optim.RMSprop step (momentum 0, not centered) on p, g and
// its square_avg sq:
//
//	g  += wd·p                                   (coupled L2, in the gradient buffer)
//	sq  = α·sq + (1−α)·g²
//	p  −= lr · g / (sqrt(sq) + eps)
//
// It runs on the backend's own ops: Axpy for the decay, then AdamWStep with β1 = 0
// (its first moment becomes g itself, so g serves as that buffer), β2 = α, no decoupled
// decay, and a step count at which both bias corrections are 1 — AdamW's update then is
// exactly the one above, on every backend. The gradient buffer is left holding the
// decayed gradient; the trainer zeroes it before the next step's backward.
func rmspropStep(be kernels.Backend, p, g, sq []float32, lr, wd float32) {
	if wd != 0 {
		be.Axpy(g, wd, p)
	}
	be.AdamWStep(p, g, g, sq, rmspropAsAdamW, lr, 0, rmspropAlpha, rmspropEps, 0)
}
