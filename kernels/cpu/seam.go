package cpu

import (
	"fmt"
	"math"

	"github.com/preftune/preftune/kernels"
)

// Free is a no-op on the CPU: Go's collector reclaims a buffer once nothing refers to it.
func (be *Backend) Free(x []float32) {}

// FreeInt32 is a no-op on the CPU (see Free).
func (be *Backend) FreeInt32(x []int32) {}

// Upload: dst[n] = src[n] (host memory is the CPU backend's memory).
func (be *Backend) Upload(dst, src []float32) {
	need("Upload", "dst", dst, len(src))
	copy(dst, src)
}

// UploadInt32: dst[n] = src[n].
func (be *Backend) UploadInt32(dst, src []int32) {
	needInt("UploadInt32", "dst", dst, len(src))
	copy(dst, src)
}

// Mul: out[n] = a[n]·b[n]; out may alias a or b.
func (be *Backend) Mul(out, a, b []float32) {
	sameLen("Mul", out, a)
	sameLen("Mul", out, b)
	be.elem(opMul, out, a, b, 0, elemGrain)
}

// MulAcc: y[n] += a[n]·b[n].
func (be *Backend) MulAcc(y, a, b []float32) {
	sameLen("MulAcc", y, a)
	sameLen("MulAcc", y, b)
	be.elem(opMulAcc, y, a, b, 0, elemGrain)
}

// DropoutMask: mask[n] = 0 with probability p, else 1/(1−p), from splitmix64 of
// key + (i+1)·golden ratio: element i depends on (key, i) only, so any backend can
// draw the same mask in parallel.
func (be *Backend) DropoutMask(mask []float32, p float32, key uint64) {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("cpu.DropoutMask: p = %v outside [0,1)", p))
	}
	l := &be.lp.dropout
	*l = dropoutLoop{mask: mask, keep: 1 / (1 - p), thresh: uint64(float64(p) * float64(math.MaxUint64)), key: key}
	be.pool.run(len(mask), elemGrain, l)
}

type dropoutLoop struct {
	mask   []float32
	keep   float32
	thresh uint64
	key    uint64
}

func (l *dropoutLoop) chunk(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		if kernels.DropoutHash(l.key, i) < l.thresh {
			l.mask[i] = 0
		} else {
			l.mask[i] = l.keep
		}
	}
}

// SegmentSum: out[S] WRITES Σ_{i<n: seg[i]=s} x[i] in float64; seg outside [0,S) skipped.
// Serial: n is the number of loss rows of a step (thousands), not activations.
func (be *Backend) SegmentSum(out, x []float32, seg []int32, n, s int) {
	need("SegmentSum", "out", out, s)
	need("SegmentSum", "x", x, n)
	needInt("SegmentSum", "seg", seg, n)
	if cap(be.segSum) < s {
		be.segSum = make([]float64, s)
	}
	acc := be.segSum[:s]
	clear(acc)
	for i, g := range seg[:n] {
		if g >= 0 && int(g) < s {
			acc[g] += float64(x[i])
		}
	}
	for i, v := range acc {
		out[i] = float32(v)
	}
}

// Gather: out[i] = x[idx[i]] for i < n.
func (be *Backend) Gather(out, x []float32, idx []int32, n int) {
	need("Gather", "out", out, n)
	needInt("Gather", "idx", idx, n)
	for i, j := range idx[:n] {
		if j < 0 || int(j) >= len(x) {
			panic(fmt.Sprintf("cpu.Gather: idx[%d] = %d outside [0,%d)", i, j, len(x)))
		}
		out[i] = x[j]
	}
}
