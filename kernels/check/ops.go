package check

import (
	"unsafe"

	"github.com/preftune/preftune/kernels"
)

// Name is "check(" + the inner's Name() + ")".
func (b *Backend) Name() string { return "check(" + b.inner.Name() + ")" }

// Threads is the inner's.
func (b *Backend) Threads() int { return b.inner.Threads() }

// Alloc returns the inner's buffer and records it.
func (b *Backend) Alloc(n int) []float32 {
	b.count("Alloc")
	x := b.inner.Alloc(n)
	if len(x) != n {
		panic("check.Alloc: the inner backend returned a buffer of the wrong length")
	}
	if cap(x) == 0 { // nothing to record: zero-length slices pass every check
		if x == nil {
			x = []float32{}
		}
		return x
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	b.record(region{base: p, end: p + uintptr(cap(x))*4, kind: kindF32, f: x}, "Alloc")
	return x
}

// AllocInt32 returns the inner's buffer and records it.
func (b *Backend) AllocInt32(n int) []int32 {
	b.count("AllocInt32")
	x := b.inner.AllocInt32(n)
	if len(x) != n {
		panic("check.AllocInt32: the inner backend returned a buffer of the wrong length")
	}
	if cap(x) == 0 {
		if x == nil {
			x = []int32{}
		}
		return x
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	b.record(region{base: p, end: p + uintptr(cap(x))*4, kind: kindI32, i: x}, "AllocInt32")
	return x
}

// Free forgets a live buffer (x must start at its base) and frees it in the inner.
func (b *Backend) Free(x []float32) {
	b.count("Free")
	if cap(x) == 0 {
		b.inner.Free(x)
		return
	}
	r := b.take("Free", uintptr(unsafe.Pointer(unsafe.SliceData(x))), kindF32)
	b.inner.Free(r.f)
}

// FreeInt32 forgets a live int32 buffer and frees it in the inner.
func (b *Backend) FreeInt32(x []int32) {
	b.count("FreeInt32")
	if cap(x) == 0 {
		b.inner.FreeInt32(x)
		return
	}
	r := b.take("FreeInt32", uintptr(unsafe.Pointer(unsafe.SliceData(x))), kindI32)
	b.inner.FreeInt32(r.i)
}

// Upload checks dst (src is host memory) and forwards.
func (b *Backend) Upload(dst, src []float32) {
	const op = "Upload"
	b.count(op)
	b.f(op, "dst", dst, must)
	b.inner.Upload(dst, src)
}

// UploadInt32 checks dst (src is host memory) and forwards.
func (b *Backend) UploadInt32(dst, src []int32) {
	const op = "UploadInt32"
	b.count(op)
	b.i(op, "dst", dst, must)
	b.inner.UploadInt32(dst, src)
}

// Sync returns the inner's error.
func (b *Backend) Sync() error {
	b.count("Sync")
	return b.inner.Sync()
}

// Close closes the inner.
func (b *Backend) Close() {
	b.count("Close")
	b.inner.Close()
}

func (b *Backend) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
	const op = "Sgemm"
	b.count(op)
	b.f(op, "a", a, must)
	b.f(op, "b", bm, must)
	b.f(op, "c", c, must)
	b.inner.Sgemm(transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
}

func (b *Backend) LinearForward(out, inp, w, bias []float32, n, c, oc int, scale float32, accumulate bool) {
	const op = "LinearForward"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "inp", inp, must)
	b.f(op, "w", w, must)
	b.f(op, "bias", bias, maybe)
	b.inner.LinearForward(out, inp, w, bias, n, c, oc, scale, accumulate)
}

func (b *Backend) LinearBackward(dinp, dw, dbias, dout, inp, w []float32, n, c, oc int, scale float32) {
	const op = "LinearBackward"
	b.count(op)
	b.f(op, "dinp", dinp, maybe)
	b.f(op, "dw", dw, maybe)
	b.f(op, "dbias", dbias, maybe)
	b.f(op, "dout", dout, must)
	b.f(op, "inp", inp, must)
	b.f(op, "w", w, must)
	b.inner.LinearBackward(dinp, dw, dbias, dout, inp, w, n, c, oc, scale)
}

func (b *Backend) EmbeddingForward(out []float32, ids []int32, table []float32, n, c, v int) {
	const op = "EmbeddingForward"
	b.count(op)
	b.f(op, "out", out, must)
	b.i(op, "ids", ids, must)
	b.f(op, "table", table, must)
	b.inner.EmbeddingForward(out, ids, table, n, c, v)
}

func (b *Backend) EmbeddingBackward(dtable []float32, ids []int32, dout []float32, n, c, v int) {
	const op = "EmbeddingBackward"
	b.count(op)
	b.f(op, "dtable", dtable, maybe)
	b.i(op, "ids", ids, must)
	b.f(op, "dout", dout, must)
	b.inner.EmbeddingBackward(dtable, ids, dout, n, c, v)
}

func (b *Backend) RMSNormForward(out, rstd, inp, w []float32, n, c int, eps float32) {
	const op = "RMSNormForward"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "rstd", rstd, must)
	b.f(op, "inp", inp, must)
	b.f(op, "w", w, must)
	b.inner.RMSNormForward(out, rstd, inp, w, n, c, eps)
}

func (b *Backend) RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, n, c int) {
	const op = "RMSNormBackward"
	b.count(op)
	b.f(op, "dinp", dinp, maybe)
	b.f(op, "dw", dw, maybe)
	b.f(op, "dout", dout, must)
	b.f(op, "inp", inp, must)
	b.f(op, "w", w, must)
	b.f(op, "rstd", rstd, must)
	b.inner.RMSNormBackward(dinp, dw, dout, inp, w, rstd, n, c)
}

func (b *Backend) RoPEForward(x []float32, pos []int32, cos, sin []float32, n, h, hd int) {
	const op = "RoPEForward"
	b.count(op)
	b.rope(op, x, pos, cos, sin)
	b.inner.RoPEForward(x, pos, cos, sin, n, h, hd)
}

func (b *Backend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, n, h, hd int) {
	const op = "RoPEBackward"
	b.count(op)
	b.rope(op, dx, pos, cos, sin)
	b.inner.RoPEBackward(dx, pos, cos, sin, n, h, hd)
}

func (b *Backend) rope(op string, x []float32, pos []int32, cos, sin []float32) {
	name := "x"
	if op == "RoPEBackward" {
		name = "dx"
	}
	b.f(op, name, x, must)
	b.i(op, "pos", pos, must)
	b.f(op, "cos", cos, must)
	b.f(op, "sin", sin, must)
}

func (b *Backend) attnFwd(op string, out, lse, q, k, v []float32, seg, parent []int32) {
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "lse", lse, must)
	b.f(op, "q", q, must)
	b.f(op, "k", k, must)
	b.f(op, "v", v, must)
	b.i(op, "seg", seg, must)
	b.i(op, "parent", parent, maybe)
}

func (b *Backend) attnBwd(op string, dq, dk, dv, dout, q, k, v, out, lse []float32, seg, parent []int32) {
	b.count(op)
	b.f(op, "dq", dq, maybe)
	b.f(op, "dk", dk, maybe)
	b.f(op, "dv", dv, maybe)
	b.f(op, "dout", dout, must)
	b.f(op, "q", q, must)
	b.f(op, "k", k, must)
	b.f(op, "v", v, must)
	b.f(op, "out", out, must)
	b.f(op, "lse", lse, must)
	b.i(op, "seg", seg, must)
	b.i(op, "parent", parent, maybe)
}

func (b *Backend) AttentionForward(out, lse, q, k, v []float32, seg []int32, bs, t, nh, nkv, hd, window int) {
	b.attnFwd("AttentionForward", out, lse, q, k, v, seg, nil)
	b.inner.AttentionForward(out, lse, q, k, v, seg, bs, t, nh, nkv, hd, window)
}

func (b *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, seg []int32, bs, t, nh, nkv, hd, window int) {
	b.attnBwd("AttentionBackward", dq, dk, dv, dout, q, k, v, out, lse, seg, nil)
	b.inner.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, seg, bs, t, nh, nkv, hd, window)
}

func (b *Backend) SwiGLUForward(out, gate, up []float32, n int) {
	const op = "SwiGLUForward"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "gate", gate, must)
	b.f(op, "up", up, must)
	b.inner.SwiGLUForward(out, gate, up, n)
}

func (b *Backend) SwiGLUBackward(dgate, dup, dout, gate, up []float32, n int) {
	const op = "SwiGLUBackward"
	b.count(op)
	b.f(op, "dgate", dgate, maybe)
	b.f(op, "dup", dup, maybe)
	b.f(op, "dout", dout, must)
	b.f(op, "gate", gate, must)
	b.f(op, "up", up, must)
	b.inner.SwiGLUBackward(dgate, dup, dout, gate, up, n)
}

func (b *Backend) Add(out, a, bb []float32) {
	const op = "Add"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "a", a, must)
	b.f(op, "b", bb, must)
	b.inner.Add(out, a, bb)
}

func (b *Backend) Axpy(y []float32, alpha float32, x []float32) {
	const op = "Axpy"
	b.count(op)
	b.f(op, "y", y, must)
	b.f(op, "x", x, must)
	b.inner.Axpy(y, alpha, x)
}

func (b *Backend) Scale(x []float32, alpha float32) {
	const op = "Scale"
	b.count(op)
	b.f(op, "x", x, must)
	b.inner.Scale(x, alpha)
}

func (b *Backend) Zero(x []float32) {
	const op = "Zero"
	b.count(op)
	b.f(op, "x", x, must)
	b.inner.Zero(x)
}

func (b *Backend) Copy(dst, src []float32) {
	const op = "Copy"
	b.count(op)
	b.f(op, "dst", dst, must)
	b.f(op, "src", src, must)
	b.inner.Copy(dst, src)
}

func (b *Backend) Mul(out, a, bb []float32) {
	const op = "Mul"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "a", a, must)
	b.f(op, "b", bb, must)
	b.inner.Mul(out, a, bb)
}

func (b *Backend) MulAcc(y, a, bb []float32) {
	const op = "MulAcc"
	b.count(op)
	b.f(op, "y", y, must)
	b.f(op, "a", a, must)
	b.f(op, "b", bb, must)
	b.inner.MulAcc(y, a, bb)
}

func (b *Backend) DropoutMask(mask []float32, p float32, key uint64) {
	const op = "DropoutMask"
	b.count(op)
	b.f(op, "mask", mask, must)
	b.inner.DropoutMask(mask, p, key)
}

func (b *Backend) SegmentSum(out, x []float32, seg []int32, n, s int) {
	const op = "SegmentSum"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "x", x, must)
	b.i(op, "seg", seg, must)
	b.inner.SegmentSum(out, x, seg, n, s)
}

func (b *Backend) Gather(out, x []float32, idx []int32, n int) {
	const op = "Gather"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "x", x, must)
	b.i(op, "idx", idx, must)
	b.inner.Gather(out, x, idx, n)
}

func (b *Backend) LogSoftmaxGatherForward(logp, lse []float32, st kernels.LogitStats, logits []float32, labels []int32, n, v int) {
	const op = "LogSoftmaxGatherForward"
	b.count(op)
	b.f(op, "logp", logp, must)
	b.f(op, "lse", lse, must)
	b.f(op, "st.Entropy", st.Entropy, maybe)
	b.f(op, "st.MeanLogit", st.MeanLogit, maybe)
	b.f(op, "st.LogSumP2", st.LogSumP2, maybe)
	b.f(op, "logits", logits, must)
	b.i(op, "labels", labels, must)
	b.inner.LogSoftmaxGatherForward(logp, lse, st, logits, labels, n, v)
}

func (b *Backend) LogSoftmaxGatherBackward(dlogits, dlogp, logits, lse []float32, labels []int32, n, v int) {
	const op = "LogSoftmaxGatherBackward"
	b.count(op)
	b.f(op, "dlogits", dlogits, must)
	b.f(op, "dlogp", dlogp, must)
	b.f(op, "logits", logits, must)
	b.f(op, "lse", lse, must)
	b.i(op, "labels", labels, must)
	b.inner.LogSoftmaxGatherBackward(dlogits, dlogp, logits, lse, labels, n, v)
}

func (b *Backend) AdamWStep(p, g, m, v []float32, step int, lr, beta1, beta2, eps, weightDecay float32) {
	const op = "AdamWStep"
	b.count(op)
	b.f(op, "p", p, must)
	b.f(op, "g", g, must)
	b.f(op, "m", m, must)
	b.f(op, "v", v, must)
	b.inner.AdamWStep(p, g, m, v, step, lr, beta1, beta2, eps, weightDecay)
}

func (b *Backend) SGDStep(p, g, buf []float32, step int, lr, momentum, weightDecay float32) {
	const op = "SGDStep"
	b.count(op)
	b.f(op, "p", p, must)
	b.f(op, "g", g, must)
	b.f(op, "buf", buf, maybe)
	b.inner.SGDStep(p, g, buf, step, lr, momentum, weightDecay)
}

func (b *Backend) SumSquares(x []float32) float64 {
	const op = "SumSquares"
	b.count(op)
	b.f(op, "x", x, must)
	return b.inner.SumSquares(x)
}

// ---- optional interfaces, on the types Wrap returns ----

func (b *Backend) attentionForwardShared(out, lse, q, k, v []float32, seg, parent []int32, bs, t, nh, nkv, hd, window int) {
	b.attnFwd("AttentionForwardShared", out, lse, q, k, v, seg, parent)
	b.shared.AttentionForwardShared(out, lse, q, k, v, seg, parent, bs, t, nh, nkv, hd, window)
}

func (b *Backend) attentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse []float32, seg, parent []int32, bs, t, nh, nkv, hd, window int) {
	b.attnBwd("AttentionBackwardShared", dq, dk, dv, dout, q, k, v, out, lse, seg, parent)
	b.shared.AttentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse, seg, parent, bs, t, nh, nkv, hd, window)
}

func (b *Backend) swiGLUForwardFused(out, gu []float32, n, f int) {
	const op = "SwiGLUForwardFused"
	b.count(op)
	b.f(op, "out", out, must)
	b.f(op, "gu", gu, must)
	b.fused.SwiGLUForwardFused(out, gu, n, f)
}

func (b *Backend) swiGLUBackwardFused(dgu, dout, gu []float32, n, f int) {
	const op = "SwiGLUBackwardFused"
	b.count(op)
	b.f(op, "dgu", dgu, must)
	b.f(op, "dout", dout, must)
	b.f(op, "gu", gu, must)
	b.fused.SwiGLUBackwardFused(dgu, dout, gu, n, f)
}
