package cpu

import "fmt"

const elemGrain = 16384

func sameLen(op string, a, b []float32) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("cpu.%s: lengths differ (%d and %d)", op, len(a), len(b)))
	}
}

// elemOp selects the loop body of elem.
type elemOp int

const (
	opAdd elemOp = iota
	opAxpy
	opScale
	opZero
	opCopy
	opSumSq
	opMul
	opMulAcc
)

// elem is the loop of the elementwise helpers: out, a, b are the operands
// of the selected op, alpha its scalar, part the per-worker partial sums.
type elem struct {
	op        elemOp
	out, a, b []float32
	alpha     float32
	part      []float64
}

func (l *elem) chunk(w, lo, hi int) {
	o := l.out[lo:hi]
	switch l.op {
	case opAdd:
		x, y := l.a[lo:hi], l.b[lo:hi]
		for i := range o {
			o[i] = x[i] + y[i]
		}
	case opAxpy:
		x, alpha := l.a[lo:hi], l.alpha
		for i := range o {
			o[i] += alpha * x[i]
		}
	case opScale:
		alpha := l.alpha
		for i := range o {
			o[i] *= alpha
		}
	case opZero:
		clear(o)
	case opCopy:
		copy(o, l.a[lo:hi])
	case opMul:
		x, y := l.a[lo:hi], l.b[lo:hi]
		for i := range o {
			o[i] = x[i] * y[i]
		}
	case opMulAcc:
		x, y := l.a[lo:hi], l.b[lo:hi]
		for i := range o {
			o[i] += x[i] * y[i]
		}
	case opSumSq:
		var s float64
		for _, v := range o {
			s += float64(v) * float64(v)
		}
		l.part[w] += s
	}
}

func (be *Backend) elem(op elemOp, out, a, b []float32, alpha float32, grain int) {
	l := &be.lp.elem
	*l = elem{op: op, out: out, a: a, b: b, alpha: alpha, part: be.partial}
	be.pool.run(len(out), grain, l)
}

// Add: out[n] = a[n] + b[n] (residual forward); out may alias a or b.
func (be *Backend) Add(out, a, b []float32) {
	sameLen("Add", out, a)
	sameLen("Add", out, b)
	be.elem(opAdd, out, a, b, 0, elemGrain)
}

// Axpy: y[n] += alpha·x[n] (residual backward with alpha 1).
func (be *Backend) Axpy(y []float32, alpha float32, x []float32) {
	sameLen("Axpy", y, x)
	be.elem(opAxpy, y, x, nil, alpha, elemGrain)
}

// Scale: x[n] *= alpha.
func (be *Backend) Scale(x []float32, alpha float32) {
	be.elem(opScale, x, nil, nil, alpha, elemGrain)
}

// Zero: x[n] = 0.
func (be *Backend) Zero(x []float32) {
	be.elem(opZero, x, nil, nil, 0, 4*elemGrain)
}

// Copy: dst[n] = src[n]; len(dst) must be ≥ len(src).
func (be *Backend) Copy(dst, src []float32) {
	need("Copy", "dst", dst, len(src))
	be.elem(opCopy, dst[:len(src)], src, nil, 0, 4*elemGrain)
}

// SumSquares: Σ x[n]² in float64 (sum over all grad buffers, sqrt, for global-norm clipping).
func (be *Backend) SumSquares(x []float32) float64 {
	clear(be.partial)
	be.elem(opSumSq, x, nil, nil, 0, elemGrain)
	var s float64
	for _, v := range be.partial {
		s += v
	}
	return s
}
