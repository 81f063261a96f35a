package cpu

import (
	"math"
	"strconv"

	"github.com/preftune/preftune/kernels/cpu/vec"
)

// dec returns the float64 nearest to the shortest decimal that rounds to x,
// so a hyperparameter given as 0.999 and passed as float32 becomes the
// float64 0.999 again. Quantities torch derives in double precision from
// Python floats (1 − β, 1 − lr·wd, bias corrections) then match torch.
func dec(x float32) float64 {
	var buf [32]byte
	f, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(x), 'g', -1, 32)), 64)
	if err != nil {
		return float64(x)
	}
	return f
}

// AdamWStep: one torch.optim.AdamW step (decoupled decay, bias correction) on flat p, g, m, v[n]; step counts from 1.
//
// As torch's single-tensor AdamW: p *= 1 − lr·wd; m = β1·m + (1−β1)·g;
// v = β2·v + (1−β2)·g²; p −= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps).
func (be *Backend) AdamWStep(p, g, m, v []float32, step int, lr, beta1, beta2, eps, weightDecay float32) {
	const op = "AdamWStep"
	n := len(p)
	need(op, "g", g, n)
	need(op, "m", m, n)
	need(op, "v", v, n)
	if step < 1 {
		panic("cpu.AdamWStep: step counts from 1")
	}
	b1, b2, lr64 := dec(beta1), dec(beta2), dec(lr)
	decay := float32(1 - lr64*dec(weightDecay))
	c1 := float32(1 - b1)
	c2 := float32(1 - b2)
	bc1 := 1 - math.Pow(b1, float64(step))
	bc2 := 1 - math.Pow(b2, float64(step))
	stepSize := float32(lr64 / bc1)
	bc2sqrt := float32(math.Sqrt(bc2))
	l := &be.lp.adamw
	*l = adamw{p: p, g: g[:n], m: m, v: v, beta1: beta1, beta2: beta2, c1: c1, c2: c2, decay: decay,
		stepSize: stepSize, bc2sqrt: bc2sqrt, eps: eps, vec: be.vec}
	be.pool.run(n, elemGrain, l)
}

type adamw struct {
	p, g, m, v                                          []float32
	beta1, beta2, c1, c2, decay, stepSize, bc2sqrt, eps float32
	vec                                                 bool
}

func (l *adamw) chunk(_, lo, hi int) {
	p, g, m, v := l.p, l.g, l.m, l.v
	if l.vec {
		vec.AdamW(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], l.beta1, l.beta2, l.c1, l.c2, l.decay, l.bc2sqrt, l.eps, l.stepSize)
		return
	}
	for i := lo; i < hi; i++ {
		gi := g[i]
		mi := m[i]*l.beta1 + l.c1*gi
		vi := v[i]*l.beta2 + l.c2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/l.bc2sqrt + l.eps
		p[i] = p[i]*l.decay - l.stepSize*(mi/denom)
	}
}

// SGDStep: torch.optim.SGD step on flat p, g[n]: d = g + wd·p; buf = momentum·buf + d (buf = d at step 1); p -= lr·buf; buf nil when momentum = 0.
func (be *Backend) SGDStep(p, g, buf []float32, step int, lr, momentum, weightDecay float32) {
	const op = "SGDStep"
	n := len(p)
	need(op, "g", g, n)
	if momentum != 0 {
		need(op, "buf", buf, n)
	}
	l := &be.lp.sgd
	*l = sgd{p: p, g: g[:n], buf: buf, first: step <= 1, lr: lr, momentum: momentum, wd: weightDecay}
	be.pool.run(n, elemGrain, l)
}

type sgd struct {
	p, g, buf        []float32
	first            bool
	lr, momentum, wd float32
}

func (l *sgd) chunk(_, lo, hi int) {
	p, g, buf := l.p, l.g, l.buf
	for i := lo; i < hi; i++ {
		d := g[i] + l.wd*p[i]
		if l.momentum != 0 {
			if l.first {
				buf[i] = d
			} else {
				buf[i] = l.momentum*buf[i] + d
			}
			d = buf[i]
		}
		p[i] -= l.lr * d
	}
}
