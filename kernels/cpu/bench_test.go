package cpu

import (
	"fmt"
	"github.com/preftune/preftune/kernels"
	"math/rand/v2"
	"testing"
)

// Run with: go test -run '^$' -bench . -benchtime 3x ./kernels/cpu
// and again with PREFTUNE_OPENBLAS_NO_CORETYPE=1 to see OpenBLAS's own
// core detection (the GFLOP/s metric is what to compare).

func benchBackends(b *testing.B) []*Backend {
	bes := []*Backend{New(0)}
	if bes[0].UsesOpenBLAS() {
		bes = append(bes, newGo(0))
	}
	b.Cleanup(func() {
		for _, be := range bes {
			be.Close()
		}
	})
	return bes
}

func gemmLabel(be *Backend) string {
	if be.UsesOpenBLAS() {
		return "openblas"
	}
	return "go"
}

func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
		tA, tB  bool
	}{
		{"1024^3", 1024, 1024, 1024, false, false},
		{"fwd_N512_C896_OC896", 512, 896, 896, false, true},     // Linear forward q/o proj
		{"fwd_N512_C896_OC4864", 512, 4864, 896, false, true},   // gate/up proj
		{"fwd_N512_C4864_OC896", 512, 896, 4864, false, true},   // down proj
		{"dW_N512_C896_OC4864", 4864, 896, 512, true, false},    // weight gradient
		{"fwd_N512_C256_OC704", 512, 704, 256, false, true},     // tiny model
		{"dinp_N512_C896_OC4864", 512, 896, 4864, false, false}, // input gradient
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, be := range benchBackends(b) {
		b.Logf("%s", be.Name())
		for _, s := range shapes {
			if !be.UsesOpenBLAS() && s.m*s.n*s.k > 1<<30 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", gemmLabel(be), s.name), func(b *testing.B) {
				ka, kb := s.k, s.n
				if s.tA {
					ka = s.m
				}
				if s.tB {
					kb = s.k
				}
				a := randVec(r, s.m*s.k, 1)
				bm := randVec(r, s.k*s.n, 1)
				c := make([]float32, s.m*s.n)
				be.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ka, bm, kb, 0, c, s.n) // warm up
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					be.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ka, bm, kb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkAttention: one layer of Qwen2-0.5B-like attention (NH 14, NKV 2,
// HD 64) for B=1 row of T tokens, forward and backward.
func BenchmarkAttention(b *testing.B) {
	for _, be := range benchBackends(b)[:1] {
		for _, T := range []int{256, 1024} {
			bsz, nh, nkv, hd := 1, 14, 2, 64
			r := rand.New(rand.NewPCG(2, 2))
			q, k, v := randVec(r, bsz*T*nh*hd, 1), randVec(r, bsz*T*nkv*hd, 1), randVec(r, bsz*T*nkv*hd, 1)
			out, lse, seg := make([]float32, len(q)), make([]float32, bsz*nh*T), make([]int32, bsz*T)
			dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
			flops := 2 * 2 * float64(bsz*nh*T*T*hd) / 2 // two causal GEMMs
			b.Run(fmt.Sprintf("forward/T=%d", T), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					be.AttentionForward(out, lse, q, k, v, seg, bsz, T, nh, nkv, hd, 0)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(fmt.Sprintf("backward/T=%d", T), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					be.AttentionBackward(dq, dk, dv, out, q, k, v, out, lse, seg, bsz, T, nh, nkv, hd, 0)
				}
				b.ReportMetric(2.5*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkKernels(b *testing.B) {
	be := benchBackends(b)[0]
	r := rand.New(rand.NewPCG(3, 3))
	n, c, f := 512, 896, 4864
	x, w := randVec(r, n*c, 1), randVec(r, c, 1)
	out, rstd, dx, dw := make([]float32, n*c), make([]float32, n), make([]float32, n*c), make([]float32, c)
	b.Run("RMSNorm/forward/N512_C896", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.RMSNormForward(out, rstd, x, w, n, c, 1e-6)
		}
	})
	b.Run("RMSNorm/backward/N512_C896", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.RMSNormBackward(dx, dw, x, x, w, rstd, n, c)
		}
	})
	g, u := randVec(r, n*f, 3), randVec(r, n*f, 1)
	o, dg, du := make([]float32, n*f), make([]float32, n*f), make([]float32, n*f)
	b.Run("SwiGLU/forward/N512_F4864", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.SwiGLUForward(o, g, u, n*f)
		}
	})
	b.Run("SwiGLU/backward/N512_F4864", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.SwiGLUBackward(dg, du, o, g, u, n*f)
		}
	})
	nv, vocab := 64, 151936
	logits := randVec(r, nv*vocab, 5)
	labels := make([]int32, nv)
	for i := range labels {
		labels[i] = int32(r.IntN(vocab))
	}
	logp, lse2, dlogp := make([]float32, nv), make([]float32, nv), randVec(r, nv, 1)
	b.Run("LogSoftmaxGather/forward/N64_V151936", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.LogSoftmaxGatherForward(logp, lse2, kernels.LogitStats{}, logits, labels, nv, vocab)
		}
	})
	b.Run("LogSoftmaxGather/backward_inplace/N64_V151936", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.LogSoftmaxGatherBackward(logits, dlogp, logits, lse2, labels, nv, vocab)
		}
	})
	np := 10_000_000
	p, gr, m, v := randVec(r, np, 1), randVec(r, np, 1), make([]float32, np), make([]float32, np)
	b.Run("AdamW/10M", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			be.AdamWStep(p, gr, m, v, i+1, 1e-4, 0.9, 0.999, 1e-8, 0.01)
		}
	})
}
