package cpu

import "fmt"

const elemGrain = 16384

func sameLen(op string, a, b []float32) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("cpu.%s: lengths differ (%d and %d)", op, len(a), len(b)))
	}
}

// Add: out[n] = a[n] + b[n] (residual forward); out may alias a or b.
func (be *Backend) Add(out, a, b []float32) {
	sameLen("Add", out, a)
	sameLen("Add", out, b)
	be.pool.run(len(out), elemGrain, func(_, lo, hi int) {
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		for i := range o {
			o[i] = x[i] + y[i]
		}
	})
}

// Axpy: y[n] += alpha·x[n] (residual backward with alpha 1).
func (be *Backend) Axpy(y []float32, alpha float32, x []float32) {
	sameLen("Axpy", y, x)
	be.pool.run(len(y), elemGrain, func(_, lo, hi int) {
		d, s := y[lo:hi], x[lo:hi]
		for i := range d {
			d[i] += alpha * s[i]
		}
	})
}

// Scale: x[n] *= alpha.
func (be *Backend) Scale(x []float32, alpha float32) {
	be.pool.run(len(x), elemGrain, func(_, lo, hi int) {
		d := x[lo:hi]
		for i := range d {
			d[i] *= alpha
		}
	})
}

// Zero: x[n] = 0.
func (be *Backend) Zero(x []float32) {
	be.pool.run(len(x), 4*elemGrain, func(_, lo, hi int) { clear(x[lo:hi]) })
}

// Copy: dst[n] = src[n]; len(dst) must be ≥ len(src).
func (be *Backend) Copy(dst, src []float32) {
	need("Copy", "dst", dst, len(src))
	be.pool.run(len(src), 4*elemGrain, func(_, lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}

// SumSquares: Σ x[n]² in float64 (sum over all grad buffers, sqrt, for global-norm clipping).
func (be *Backend) SumSquares(x []float32) float64 {
	part := be.partial
	clear(part)
	be.pool.run(len(x), elemGrain, func(w, lo, hi int) {
		var s float64
		for _, v := range x[lo:hi] {
			s += float64(v) * float64(v)
		}
		part[w] += s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}
