package cpu

// SwiGLUForward: out[n] = silu(gate[n])·up[n] over n = N·F elements.
func (be *Backend) SwiGLUForward(out, gate, up []float32, n int) {
	const op = "SwiGLUForward"
	need(op, "out", out, n)
	need(op, "gate", gate, n)
	need(op, "up", up, n)
	be.pool.run(n, 8192, func(_, lo, hi int) {
		g, u, o := gate[lo:hi], up[lo:hi], out[lo:hi]
		for i, x := range g {
			o[i] = x * sigmoid(x) * u[i]
		}
	})
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
	be.pool.run(n, 8192, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gate[i]
			s := sigmoid(g)
			if dup != nil {
				dup[i] += dout[i] * g * s
			}
			if dgate != nil {
				dgate[i] += dout[i] * up[i] * s * (1 + g*(1-s))
			}
		}
	})
}
