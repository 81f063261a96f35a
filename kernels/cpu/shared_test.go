package cpu

import (
	"math/rand/v2"
	"testing"
)

// Prompt sharing: one row [P | C | R] where C and R name P as their parent
// segment gives, for every C and R query, the output and lse of the plain
// rows [P | C] and [P | R]; the backward gives the same dq for C and R, and
// P's dk, dv are the sum of the two plain rows' (both completions saw P).
func TestAttentionSharedPrompt(t *testing.T) {
	old := attnQB
	attnQB = 4
	t.Cleanup(func() { attnQB = old })
	const np, nc, nr, nh, nkv, hd = 5, 4, 6, 4, 2, 8
	for _, be := range testBackends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			dq, dkv := nh*hd, nkv*hd
			// token vectors for P, C, R
			qP, kP, vP := randVec(r, np*dq, 1.5), randVec(r, np*dkv, 1.5), randVec(r, np*dkv, 1)
			qC, kC, vC := randVec(r, nc*dq, 1.5), randVec(r, nc*dkv, 1.5), randVec(r, nc*dkv, 1)
			qR, kR, vR := randVec(r, nr*dq, 1.5), randVec(r, nr*dkv, 1.5), randVec(r, nr*dkv, 1)
			gC, gR := randVec(r, nc*dq, 1), randVec(r, nr*dq, 1)
			cat := func(xs ...[]float32) []float32 {
				var o []float32
				for _, x := range xs {
					o = append(o, x...)
				}
				return o
			}
			zP := make([]float32, np*dq)
			// plain: two rows of T = np+nr (row 0 = P C + padding)
			T := np + nr
			pad := func(x []float32, n, w int) []float32 { return append(x, make([]float32, (n)*w)...) }
			q := cat(pad(cat(qP, qC), nr-nc, dq), qP, qR)
			k := cat(pad(cat(kP, kC), nr-nc, dkv), kP, kR)
			v := cat(pad(cat(vP, vC), nr-nc, dkv), vP, vR)
			g := cat(pad(cat(zP, gC), nr-nc, dq), zP, gR)
			seg := make([]int32, 2*T)
			for i := np + nc; i < T; i++ {
				seg[i] = -1
			}
			out, lse := make([]float32, 2*T*dq), make([]float32, 2*nh*T)
			be.AttentionForward(out, lse, q, k, v, seg, 2, T, nh, nkv, hd, 0)
			dqw, dkw, dvw := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
			be.AttentionBackward(dqw, dkw, dvw, g, q, k, v, out, lse, seg, 2, T, nh, nkv, hd, 0)

			// shared: one row P C R, segments 0,1,2, parent 0 on C and R
			S := np + nc + nr
			qs, ks, vs, gs := cat(qP, qC, qR), cat(kP, kC, kR), cat(vP, vC, vR), cat(zP, gC, gR)
			sseg, spar := make([]int32, S), make([]int32, S)
			for i := range sseg {
				switch {
				case i < np:
					sseg[i], spar[i] = 0, -1
				case i < np+nc:
					sseg[i], spar[i] = 1, 0
				default:
					sseg[i], spar[i] = 2, 0
				}
			}
			outS, lseS := make([]float32, S*dq), make([]float32, nh*S)
			be.AttentionForwardShared(outS, lseS, qs, ks, vs, sseg, spar, 1, S, nh, nkv, hd, 0)
			dqS, dkS, dvS := make([]float32, len(qs)), make([]float32, len(ks)), make([]float32, len(vs))
			be.AttentionBackwardShared(dqS, dkS, dvS, gs, qs, ks, vs, outS, lseS, sseg, spar, 1, S, nh, nkv, hd, 0)

			// map shared token i to its plain (row, col)
			plain := func(i int) (int, int) {
				switch {
				case i < np+nc:
					return 0, i
				default:
					return 1, i - nc
				}
			}
			const tol = 1e-5
			near := func(what string, i int, a, b float32) {
				if d := a - b; d > tol || d < -tol {
					t.Errorf("%s token %d: shared %g, plain %g", what, i, a, b)
				}
			}
			for i := np; i < S; i++ {
				row, col := plain(i)
				for j := 0; j < dq; j++ {
					near("out", i, outS[i*dq+j], out[(row*T+col)*dq+j])
					near("dq", i, dqS[i*dq+j], dqw[(row*T+col)*dq+j])
				}
				for h := 0; h < nh; h++ {
					near("lse", i, lseS[h*S+i], lse[(row*nh+h)*T+col])
				}
				for j := 0; j < dkv; j++ {
					near("dk", i, dkS[i*dkv+j], dkw[(row*T+col)*dkv+j])
					near("dv", i, dvS[i*dkv+j], dvw[(row*T+col)*dkv+j])
				}
			}
			for i := 0; i < np; i++ { // the prompt: both rows' gradients
				for j := 0; j < dkv; j++ {
					near("dk(P)", i, dkS[i*dkv+j], dkw[i*dkv+j]+dkw[(T+i)*dkv+j])
					near("dv(P)", i, dvS[i*dkv+j], dvw[i*dkv+j]+dvw[(T+i)*dkv+j])
				}
				for j := 0; j < dq; j++ {
					near("dq(P)", i, dqS[i*dq+j], dqw[i*dq+j]+dqw[(T+i)*dq+j])
				}
			}
		})
	}
}
