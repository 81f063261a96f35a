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

// SwiGLUForwardFused: out[N,F] = silu(gu[:, :F])·gu[:, F:] from the fused gate|up projection gu[N,2F].
func (be *Backend) SwiGLUForwardFused(out, gu []float32, n, f int) {
	const op = "SwiGLUForwardFused"
	need(op, "out", out, n*f)
	need(op, "gu", gu, 2*n*f)
	l := &be.lp.swigluRows
	*l = swigluRows{out: out, gu: gu, f: f, vec: be.vec}
	be.pool.run(n, max(1, 8192/max(f, 1)), l)
}

// swigluRows: SwiGLU over rows of a fused gate|up projection (forward, or backward when dgu is set).
type swigluRows struct {
	out, gu, dgu, dout []float32
	f                  int
	vec                bool
}

func (l *swigluRows) chunk(_, lo, hi int) {
	f := l.f
	for i := lo; i < hi; i++ {
		g, u := l.gu[2*i*f:2*i*f+f], l.gu[2*i*f+f:2*i*f+2*f]
		if l.dgu != nil {
			dg, du, dy := l.dgu[2*i*f:2*i*f+f], l.dgu[2*i*f+f:2*i*f+2*f], l.dout[i*f:i*f+f]
			clear(dg) // the row is cache-hot for the accumulating loop that follows
			clear(du)
			if l.vec {
				vec.SwiGLUBackward(dg, du, dy, g, u)
				continue
			}
			r := swigluBwd{dgate: dg, dup: du, dout: dy, gate: g, up: u}
			r.chunk(0, 0, f)
			continue
		}
		o := l.out[i*f : i*f+f]
		if l.vec {
			vec.SwiGLUForward(o, g, u)
			continue
		}
		r := swiglu{out: o, gate: g, up: u}
		r.chunk(0, 0, f)
	}
}

// SwiGLUBackwardFused: dgu[N,2F] WRITES (dgate | dup) from dout[N,F] and gu[N,2F] (no zeroing pass needed).
func (be *Backend) SwiGLUBackwardFused(dgu, dout, gu []float32, n, f int) {
	const op = "SwiGLUBackwardFused"
	need(op, "dgu", dgu, 2*n*f)
	need(op, "dout", dout, n*f)
	need(op, "gu", gu, 2*n*f)
	l := &be.lp.swigluRows
	*l = swigluRows{dgu: dgu, dout: dout, gu: gu, f: f, vec: be.vec}
	be.pool.run(n, max(1, 8192/max(f, 1)), l)
}
