package cpu

import "math"

// RMSNormForward: out[N,C] = inp·rstd[N]·w[C], rstd = 1/sqrt(mean(inp²)+eps) saved; out may alias inp. Qwen3 q/k norm: N·NH rows of width HD.
func (be *Backend) RMSNormForward(out, rstd, inp, w []float32, n, c int, eps float32) {
	const op = "RMSNormForward"
	need(op, "out", out, n*c)
	need(op, "rstd", rstd, n)
	need(op, "inp", inp, n*c)
	need(op, "w", w, c)
	l := &be.lp.rmsFwd
	*l = rmsFwd{out: out, rstd: rstd, inp: inp, w: w[:c], eps: eps}
	be.pool.run(n, grainFor(2*c), l)
}

type rmsFwd struct {
	out, rstd, inp, w []float32
	eps               float32
}

func (l *rmsFwd) chunk(_, lo, hi int) {
	c, w := len(l.w), l.w
	for i := lo; i < hi; i++ {
		x := l.inp[i*c : i*c+c]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		r := float32(1 / math.Sqrt(ss/float64(c)+float64(l.eps)))
		l.rstd[i] = r
		y := l.out[i*c : i*c+c]
		for j, v := range x {
			y[j] = (v * r) * w[j] // HF order: weight * (x * rstd)
		}
	}
}

// RMSNormBackward: dinp[N,C] += ∂, dw[C] += ∂ (dw may be nil) from dout[N,C], inp[N,C], w[C], rstd[N].
//
// With y = x·r·w and r = (mean(x²)+eps)^(-1/2):
// dx_j = r·w_j·dy_j − x_j·r³/C·Σ_k w_k·dy_k·x_k and dw_j = Σ_rows dy_j·x_j·r.
func (be *Backend) RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, n, c int) {
	const op = "RMSNormBackward"
	need(op, "dout", dout, n*c)
	need(op, "inp", inp, n*c)
	need(op, "rstd", rstd, n)
	if dinp != nil {
		need(op, "dinp", dinp, n*c)
		need(op, "w", w, c)
		l := &be.lp.rmsBwd
		*l = rmsBwd{dinp: dinp, dout: dout, inp: inp, w: w[:c], rstd: rstd}
		be.pool.run(n, grainFor(3*c), l)
	}
	if dw != nil {
		need(op, "dw", dw, c)
		l := &be.lp.rmsBwdW
		*l = rmsBwdW{dw: dw, dout: dout, inp: inp, rstd: rstd, n: n, c: c}
		be.pool.run(c, max(16, grainFor(n)), l)
	}
}

type rmsBwd struct {
	dinp, dout, inp, w, rstd []float32
}

func (l *rmsBwd) chunk(_, lo, hi int) {
	c, w := len(l.w), l.w
	for i := lo; i < hi; i++ {
		x := l.inp[i*c : i*c+c]
		dy := l.dout[i*c : i*c+c]
		dx := l.dinp[i*c : i*c+c]
		r := l.rstd[i]
		var dot float64
		for j, v := range x {
			dot += float64(w[j]) * float64(dy[j]) * float64(v)
		}
		k := float32(dot) * r * r * r / float32(c)
		for j, v := range x {
			dx[j] += r*w[j]*dy[j] - v*k
		}
	}
}

// rmsBwdW: workers own disjoint column ranges of dw and sum down the rows.
type rmsBwdW struct {
	dw, dout, inp, rstd []float32
	n, c                int
}

func (l *rmsBwdW) chunk(_, lo, hi int) {
	c := l.c
	d := l.dw[lo:hi]
	for i := 0; i < l.n; i++ {
		x := l.inp[i*c+lo : i*c+hi]
		dy := l.dout[i*c+lo : i*c+hi]
		r := l.rstd[i]
		for j, v := range x {
			d[j] += dy[j] * v * r
		}
	}
}
