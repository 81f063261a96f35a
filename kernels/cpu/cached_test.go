package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/preftune/preftune/kernels"
)

// TestAttentionForwardCached: the cached attention of the T newest steps of B rows
// (left-padded: row b starts at start[b]) against a step-major cache equals the
// explicit float64 attention (refAttention) over each row's whole sequence laid out
// as a training row with segment −1 on its padding, at those steps; so does the
// portable kernels.CachedAttentionFallback built from core ops. Prefill (t0 = 0, T =
// all steps), decode (T = 1), chunks, GQA, and a sliding window.
func TestAttentionForwardCached(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		b, t0, t, nh, nkv, hd, window int
		start                         []int32
	}{
		{b: 3, t0: 0, t: 7, nh: 4, nkv: 2, hd: 8, start: []int32{0, 3, 6}},
		{b: 3, t0: 6, t: 1, nh: 4, nkv: 2, hd: 8, start: []int32{0, 3, 6}},
		{b: 2, t0: 4, t: 3, nh: 2, nkv: 2, hd: 4, start: []int32{1, 0}},
		{b: 4, t0: 9, t: 1, nh: 6, nkv: 2, hd: 8, window: 4, start: []int32{0, 2, 5, 9}},
		{b: 1, t0: 0, t: 12, nh: 3, nkv: 1, hd: 16, window: 5, start: []int32{0}},
	} {
		t.Run(fmt.Sprintf("b%d_t0%d_t%d_w%d", c.b, c.t0, c.t, c.window), func(t *testing.T) {
			J := c.t0 + c.t
			QD, KD := c.nh*c.hd, c.nkv*c.hd
			K, V := randVec(r, J*c.b*KD, 1), randVec(r, J*c.b*KD, 1)
			Q := randVec(r, c.t*c.b*QD, 1)
			// reference: row-major [B, J] rows, queries at steps t0… (other queries: any)
			qf, kf, vf := make([]float64, c.b*J*QD), make([]float64, c.b*J*KD), make([]float64, c.b*J*KD)
			seg := make([]int32, c.b*J)
			for b := 0; b < c.b; b++ {
				for j := 0; j < J; j++ {
					row := b*J + j
					for d := 0; d < KD; d++ {
						kf[row*KD+d] = float64(K[(j*c.b+b)*KD+d])
						vf[row*KD+d] = float64(V[(j*c.b+b)*KD+d])
					}
					if j >= c.t0 {
						for d := 0; d < QD; d++ {
							qf[row*QD+d] = float64(Q[((j-c.t0)*c.b+b)*QD+d])
						}
					}
					if j < int(c.start[b]) {
						seg[row] = -1
					}
				}
			}
			ref, _ := refAttention(qf, kf, vf, seg, c.b, J, c.nh, c.nkv, c.hd, c.window)
			want := make([]float64, c.t*c.b*QD)
			for i := 0; i < c.t; i++ {
				for b := 0; b < c.b; b++ {
					copy(want[(i*c.b+b)*QD:(i*c.b+b+1)*QD], ref[(b*J+c.t0+i)*QD:(b*J+c.t0+i+1)*QD])
				}
			}
			for _, be := range testBackends(t) {
				out := randVec(r, c.t*c.b*QD, 1) // written, not accumulated
				be.AttentionForwardCached(out, Q, K, V, c.start, c.t0, c.t, c.b, c.nh, c.nkv, c.hd, c.window)
				checkClose(t, be.Name()+" cached", out, want, 2e-6)
				fb := kernels.NewCachedAttentionFallback(be, J+2, c.b, c.nh, c.nkv, c.hd)
				out2 := randVec(r, c.t*c.b*QD, 1)
				fb.Forward(out2, Q, K, V, c.start, c.t0, c.t, c.b, c.window)
				fb.Free()
				checkClose(t, be.Name()+" fallback", out2, want, 2e-6)
			}
		})
	}
}

// TestSampleTokens: the backend's per-row sampling is kernels.SampleRow on each row
// with that row's uniform number (greedy: Argmax), and SampleRow's draws follow the
// temperature-scaled, top-p-renormalized probabilities.
func TestSampleTokens(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const B, V = 5, 37
	logits := randVec(r, B*V, 3)
	u := make([]float32, B)
	ids := make([]int32, B)
	probs, order := make([]float64, V), make([]int32, V)
	for _, be := range testBackends(t) {
		for _, tp := range [][2]float64{{0, 1}, {1, 1}, {0.7, 0.9}, {2, 0.3}} {
			for trial := 0; trial < 20; trial++ {
				for b := range u {
					u[b] = kernels.Unit32(r.Float64())
				}
				be.SampleTokens(ids, logits, u, B, V, tp[0], tp[1])
				for b := 0; b < B; b++ {
					want := kernels.SampleRow(logits[b*V:(b+1)*V], tp[0], tp[1], float64(u[b]), probs, order)
					if ids[b] != want {
						t.Fatalf("%s T=%v p=%v row %d: %d, SampleRow %d", be.Name(), tp[0], tp[1], b, ids[b], want)
					}
				}
			}
		}
	}
	// frequencies: p = 0.05, 0.5, 0.15, 0.3; top-p 0.7 keeps {1, 3} → 0.625, 0.375
	p := []float64{0.05, 0.5, 0.15, 0.3}
	lg := make([]float32, len(p))
	for i, v := range p {
		lg[i] = float32(math.Log(v))
	}
	counts := make([]int, len(p))
	const n = 20000
	for i := 0; i < n; i++ {
		counts[kernels.SampleRow(lg, 1, 0.7, float64(kernels.Unit32(r.Float64())), probs, order)]++
	}
	if counts[0] != 0 || counts[2] != 0 {
		t.Errorf("tokens outside the nucleus drawn: %v", counts)
	}
	if f := float64(counts[1]) / n; !(math.Abs(f-0.625) <= 0.015) {
		t.Errorf("token 1 frequency %.3f, want 0.625", f)
	}
}
