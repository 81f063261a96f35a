package cpu

// LinearForward: out[N,OC] (= or += when accumulate) scale·(inp[N,C]·W[OC,C]ᵀ + bias[OC]); bias may be nil.
func (be *Backend) LinearForward(out, inp, w, bias []float32, n, c, oc int, scale float32, accumulate bool) {
	const op = "LinearForward"
	need(op, "out", out, n*oc)
	need(op, "inp", inp, n*c)
	need(op, "w", w, oc*c)
	if bias != nil {
		need(op, "bias", bias, oc)
	}
	if n == 0 || oc == 0 {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	be.Sgemm(false, true, n, oc, c, scale, inp, c, w, c, beta, out, oc)
	if bias != nil {
		l := &be.lp.biasAdd
		*l = biasAdd{out: out, bias: bias[:oc], scale: scale}
		be.pool.run(n, grainFor(oc), l)
	}
}

// LinearBackward: dinp[N,C] += scale·dout[N,OC]·W; dw[OC,C] += scale·doutᵀ·inp; dbias[OC] += scale·Σ_n dout; any grad may be nil.
func (be *Backend) LinearBackward(dinp, dw, dbias, dout, inp, w []float32, n, c, oc int, scale float32) {
	const op = "LinearBackward"
	need(op, "dout", dout, n*oc)
	if n == 0 {
		return
	}
	if dinp != nil {
		need(op, "dinp", dinp, n*c)
		need(op, "w", w, oc*c)
		be.Sgemm(false, false, n, c, oc, scale, dout, oc, w, c, 1, dinp, c)
	}
	if dw != nil {
		need(op, "dw", dw, oc*c)
		need(op, "inp", inp, n*c)
		be.Sgemm(true, false, oc, c, n, scale, dout, oc, inp, c, 1, dw, c)
	}
	if dbias != nil {
		need(op, "dbias", dbias, oc)
		// each worker owns a range of output features and sums down the rows
		l := &be.lp.biasGrad
		*l = biasGrad{dbias: dbias, dout: dout, n: n, oc: oc, scale: scale}
		be.pool.run(oc, max(16, grainFor(n)), l)
	}
}

type biasAdd struct {
	out, bias []float32
	scale     float32
}

func (l *biasAdd) chunk(_, lo, hi int) {
	oc := len(l.bias)
	for i := lo; i < hi; i++ {
		row := l.out[i*oc : i*oc+oc]
		for j, b := range l.bias {
			row[j] += l.scale * b
		}
	}
}

// biasGrad: each worker owns a range of output features and sums down the rows.
type biasGrad struct {
	dbias, dout []float32
	n, oc       int
	scale       float32
}

func (l *biasGrad) chunk(_, lo, hi int) {
	for j := lo; j < hi; j++ {
		var s float32
		for i := 0; i < l.n; i++ {
			s += l.dout[i*l.oc+j]
		}
		l.dbias[j] += l.scale * s
	}
}
