package cpu

import (
	"testing"

	"github.com/preftune/preftune/kernels"
)

// TestNoAllocs: kernels allocate nothing per call once their scratch exists
// (attention scratch grows on first use of a longer T, hence the warm-up).
func TestNoAllocs(t *testing.T) {
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			n, c, oc, v := 64, 96, 80, 1000
			x, w, o := make([]float32, n*c), make([]float32, oc*c), make([]float32, n*oc)
			r, wn := make([]float32, n), make([]float32, c)
			b, nh, nkv, hd, tt := 2, 4, 2, 8, 32
			q, k := make([]float32, b*tt*nh*hd), make([]float32, b*tt*nkv*hd)
			dq, dk, dv, ao := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(k)), make([]float32, len(q))
			lse, seg := make([]float32, b*nh*tt), make([]int32, b*tt)
			logits, labels, lp := make([]float32, n*v), make([]int32, n), make([]float32, n)
			ids, pos := make([]int32, n), make([]int32, n)
			cs := make([]float32, n*hd/2)
			ml, l2, sums := make([]float32, n), make([]float32, n), make([]float32, 8)
			parent := make([]int32, b*tt)
			ff := 40 // fused SwiGLU: gu [n, 2·ff] = o, out [n, ff] within x
			ops := map[string]func(){
				"Sgemm":         func() { be.Sgemm(false, true, n, oc, c, 1, x, c, w, c, 0, o, oc) },
				"Linear":        func() { be.LinearForward(o, x, w, w[:oc], n, c, oc, 1, false) },
				"LinearBack":    func() { be.LinearBackward(x, w, w[:oc], o, x, w, n, c, oc, 1) },
				"RMSNorm":       func() { be.RMSNormForward(x, r, x, wn, n, c, 1e-6) },
				"RMSNormBack":   func() { be.RMSNormBackward(x, wn, x, x, wn, r, n, c) },
				"Embedding":     func() { be.EmbeddingForward(x, ids, w, n, c, oc) },
				"EmbeddingBack": func() { be.EmbeddingBackward(w, ids, x, n, c, oc) },
				"RoPE":          func() { be.RoPEForward(x, pos, cs, cs, n, c/hd, hd) },
				"SwiGLU":        func() { be.SwiGLUForward(o, o, o, n*oc) },
				"SwiGLUBack":    func() { be.SwiGLUBackward(o, o, o, o, o, n*oc) },
				"Attention":     func() { be.AttentionForward(ao, lse, q, k, k, seg, b, tt, nh, nkv, hd, 0) },
				"AttentionBack": func() { be.AttentionBackward(dq, dk, dv, ao, q, k, k, ao, lse, seg, b, tt, nh, nkv, hd, 0) },
				"LogSoftmax":    func() { be.LogSoftmaxGatherForward(lp, r, kernels.LogitStats{Entropy: r}, logits, labels, n, v) },
				"LogSoftmaxBack": func() {
					be.LogSoftmaxGatherBackward(logits, lp, logits, r, labels, n, v)
				},
				"LogSoftmaxStats": func() {
					be.LogSoftmaxGatherForward(lp, r, kernels.LogitStats{Entropy: r, MeanLogit: ml, LogSumP2: l2}, logits, labels, n, v)
				},
				"AttentionShared": func() {
					be.AttentionForwardShared(ao, lse, q, k, k, seg, parent, b, tt, nh, nkv, hd, 0)
				},
				"AttentionSharedBack": func() {
					be.AttentionBackwardShared(dq, dk, dv, ao, q, k, k, ao, lse, seg, parent, b, tt, nh, nkv, hd, 0)
				},
				"SwiGLUFused":     func() { be.SwiGLUForwardFused(x[:n*ff], o, n, ff) },
				"SwiGLUFusedBack": func() { be.SwiGLUBackwardFused(o, x[:n*ff], o, n, ff) },
				"Add":             func() { be.Add(logits, logits, logits) },
				"Mul":             func() { be.Mul(logits, logits, logits) },
				"MulAcc":          func() { be.MulAcc(logits, logits, logits) },
				"DropoutMask":     func() { be.DropoutMask(logits, 0.1, 7) },
				"SegmentSum":      func() { be.SegmentSum(sums, lp, ids, n, len(sums)) }, // grows its scratch once
				"Gather":          func() { be.Gather(lp, sums, ids, n) },
				"Upload":          func() { be.Upload(logits, x) },
				"UploadInt32":     func() { be.UploadInt32(ids, pos) },
				"Free":            func() { be.Free(x); be.FreeInt32(ids) },
				"Sync":            func() { _ = be.Sync() },
				"SumSquares":      func() { be.SumSquares(logits) },
				"AdamW":           func() { be.AdamWStep(logits, logits, logits, logits, 1, 1e-3, 0.9, 0.999, 1e-8, 0) },
			}
			for name, f := range ops {
				f()
				if a := testing.AllocsPerRun(5, f); a != 0 {
					t.Errorf("%s: %v allocations per call", name, a)
				}
			}
		})
	}
}
