package cpu

import "github.com/preftune/preftune/kernels/cpu/vec"

// SwiGLUForward: out[n] = silu(gate[n])·up[n] over n = N·F elements.
func (be *Backend) SwiGLUForward(out, gate, up []float32, n int) {
	const op = "SwiGLUForward"
	need(op, "out", out, n)
	need(op, "gate", gate, n)
	need(op, "up", up, n)
	l := &be.lp.swiglu
	*l = swiglu{out: out, gate: gate, up: up, vec: be.vec}
	be.pool.run(n, 8192, l)
}

type swiglu struct {
	out, gate, up []float32
	vec           bool
}

func (l *swiglu) chunk(_, lo, hi int) {
	g, u, o := l.gate[lo:hi], l.up[lo:hi], l.out[lo:hi]
	if l.vec {
		vec.SwiGLUForward(o, g, u)
		return
	}
	for i, x := range g {
		o[i] = x / (1 + expf(-x)) * u[i]
	}
}

// SwiGLUBackward: dgate[n] += dout·up·silu'(gate), dup[n] += dout·silu(gate).
//
// silu'(g) = σ(g)·(1 + g·(1 − σ(g))). Either gradient may be nil.
func (be *Backend) SwiGLUBackward(dgate, dup, dout, gate, up []float32, n int) {
	const op = "SwiGLUBackward"
	need(op, "dout", dout, n)
	need(op, "gate", gate, n)
	need(op, "up", up, n)
	if dgate != nil {
		need(op, "dgate", dgate, n)
	}
	if dup != nil {
		need(op, "dup", dup, n)
	}
	l := &be.lp.swigluBwd
	*l = swigluBwd{dgate: dgate, dup: dup, dout: dout, gate: gate, up: up, vec: be.vec}
	be.pool.run(n, 8192, l)
}

type swigluBwd struct {
	dgate, dup, dout, gate, up []float32
	vec                        bool
}

func (l *swigluBwd) chunk(_, lo, hi int) {
	if l.vec {
		var dg, du []float32
		if l.dgate != nil {
			dg = l.dgate[lo:hi]
		}
		if l.dup != nil {
			du = l.dup[lo:hi]
		}
		vec.SwiGLUBackward(dg, du, l.dout[lo:hi], l.gate[lo:hi], l.up[lo:hi])
		return
	}
	for i := lo; i < hi; i++ {
		g := l.gate[i]
		s := 1 / (1 + expf(-g))
		if l.dup != nil {
			l.dup[i] += l.dout[i] * g * s
		}
		if l.dgate != nil {
			l.dgate[i] += l.dout[i] * l.up[i] * s * (1 + g*(1-s))
		}
	}
}
