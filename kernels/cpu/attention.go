package cpu

import (
	"fmt"
	"math"
)

// attnQB is the number of query rows processed per block. Attention keeps no
// [T,T] matrix: for each (row, head, block of attnQB queries) the scores
// against the keys the block can see are formed by one GEMM into a scratch
// [attnQB, T] buffer, softmaxed in place, and multiplied into V by a second
// GEMM; only the log-sum-exp per query (lse [B,NH,T]) is saved. Backward
// recomputes the probabilities from q, k and lse (flash-attention style), so
// memory is O(B·NH·T) whatever T is, and the causal structure skips key blocks
// after the block's last query (and, with a window, before its first key).
var attnQB = 128 // a variable only so tests can use small blocks

func checkAttention(op string, q, k, v []float32, seg []int32, b, t, nh, nkv, hd, window int) {
	if nkv <= 0 || nh%nkv != 0 {
		panic(fmt.Sprintf("cpu.%s: %d query heads not a multiple of %d kv heads", op, nh, nkv))
	}
	if window < 0 {
		panic(fmt.Sprintf("cpu.%s: negative window %d", op, window))
	}
	need(op, "q", q, b*t*nh*hd)
	need(op, "k", k, b*t*nkv*hd)
	need(op, "v", v, b*t*nkv*hd)
	needInt(op, "seg", seg, b*t)
}

// attnScratch returns the two [attnQB, T] scratch buffers, growing them the
// first time a longer T is seen.
func (be *Backend) attnScratch(t int) ([]float32, []float32) {
	if n := attnQB * t; len(be.attnS) < n {
		be.attnS = make([]float32, n)
		be.attnDP = make([]float32, n)
	}
	return be.attnS, be.attnDP
}

// attnKeyStart is the first key a query block starting at i0 can see.
func attnKeyStart(i0, window int) int {
	if window > 0 {
		return max(0, i0-window+1)
	}
	return 0
}

// attnProbs turns scaled scores s[r*nk+c] (query i0+r, key k0+c) into
// probabilities in place. With fresh=true it computes and stores lse[i];
// otherwise it uses the saved lse. Masked entries and padding rows become 0.
// Key j is visible to query i when j ≤ i, seg[j] == seg[i] ≥ 0 and, with a
// window W > 0, j > i − W (Hugging Face's sliding_window_overlay).
func (be *Backend) attnProbs(s []float32, seg []int32, lse []float32, i0, qb, k0, nk, window int, fresh bool) {
	l := &be.lp.attnProbs
	*l = attnProbs{s: s, seg: seg, lse: lse, i0: i0, k0: k0, nk: nk, window: window, fresh: fresh}
	be.pool.run(qb, grainFor(4*nk), l)
}

type attnProbs struct {
	s, lse             []float32
	seg                []int32
	i0, k0, nk, window int
	fresh              bool
}

func (a *attnProbs) chunk(_, lo, hi int) {
	s, seg, lse, i0, k0, nk, window, fresh := a.s, a.seg, a.lse, a.i0, a.k0, a.nk, a.window, a.fresh
	for r := lo; r < hi; r++ {
		i := i0 + r
		row := s[r*nk : r*nk+nk]
		si := seg[i]
		if si < 0 {
			clear(row)
			if fresh {
				lse[i] = 0
			}
			continue
		}
		jlo := k0
		if window > 0 {
			jlo = max(jlo, i-window+1)
		}
		jhi := i + 1 // exclusive
		clear(row[:jlo-k0])
		clear(row[jhi-k0:])
		vis := row[jlo-k0 : jhi-k0]
		ks := seg[jlo:jhi]
		if fresh {
			m := float32(math.Inf(-1))
			for c, x := range vis {
				if ks[c] == si {
					m = max(m, x)
				}
			}
			var sum float32
			for c, x := range vis {
				e := float32(0)
				if ks[c] == si {
					e = expf(x - m)
				}
				vis[c] = e
				sum += e
			}
			lse[i] = m + float32(math.Log(float64(sum)))
			inv := 1 / sum
			for c := range vis {
				vis[c] *= inv
			}
			continue
		}
		l := lse[i]
		for c, x := range vis {
			if ks[c] == si {
				vis[c] = expf(x - l)
			} else {
				vis[c] = 0
			}
		}
	}
}

// AttentionForward: out[B,T,NH,HD] = softmax(q·kᵀ/sqrt(HD) + mask)·v with q[B,T,NH,HD], k,v[B,T,NKV,HD], seg[B·T], window (0 = none); saves lse[B,NH,T].
func (be *Backend) AttentionForward(out, lse, q, k, v []float32, seg []int32, b, t, nh, nkv, hd, window int) {
	const op = "AttentionForward"
	checkAttention(op, q, k, v, seg, b, t, nh, nkv, hd, window)
	need(op, "out", out, b*t*nh*hd)
	need(op, "lse", lse, b*nh*t)
	if b*t*nh*hd == 0 {
		return
	}
	sbuf, _ := be.attnScratch(t)
	scale := float32(1 / math.Sqrt(float64(hd)))
	ldq, ldk := nh*hd, nkv*hd
	group := nh / nkv
	for bi := 0; bi < b; bi++ {
		segRow := seg[bi*t : bi*t+t]
		for h := 0; h < nh; h++ {
			qoff := bi*t*ldq + h*hd
			koff := bi*t*ldk + (h/group)*hd
			lseRow := lse[(bi*nh+h)*t : (bi*nh+h)*t+t]
			for i0 := 0; i0 < t; i0 += attnQB {
				i1 := min(i0+attnQB, t)
				qb := i1 - i0
				k0 := attnKeyStart(i0, window)
				nk := i1 - k0
				s := sbuf[:qb*nk]
				be.Sgemm(false, true, qb, nk, hd, scale, q[qoff+i0*ldq:], ldq, k[koff+k0*ldk:], ldk, 0, s, nk)
				be.attnProbs(s, segRow, lseRow, i0, qb, k0, nk, window, true)
				be.Sgemm(false, false, qb, hd, nk, 1, s, nk, v[koff+k0*ldk:], ldk, 0, out[qoff+i0*ldq:], ldq)
			}
		}
	}
}

// AttentionBackward: dq[B,T,NH,HD], dk,dv[B,T,NKV,HD] += ∂ from dout[B,T,NH,HD] and the forward's q, k, v, out, lse, seg, window (scores recomputed).
//
// With P the probabilities and O = P·V: dV += Pᵀ·dO, dP = dO·Vᵀ,
// dS = P ⊙ (dP − rowsum(dO ⊙ O)), dQ += scale·dS·K, dK += scale·dSᵀ·Q.
// Query heads sharing a kv head are processed one after another, so their
// dk/dv contributions add up without races.
func (be *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, seg []int32, b, t, nh, nkv, hd, window int) {
	const op = "AttentionBackward"
	checkAttention(op, q, k, v, seg, b, t, nh, nkv, hd, window)
	need(op, "dq", dq, b*t*nh*hd)
	need(op, "dk", dk, b*t*nkv*hd)
	need(op, "dv", dv, b*t*nkv*hd)
	need(op, "dout", dout, b*t*nh*hd)
	need(op, "out", out, b*t*nh*hd)
	need(op, "lse", lse, b*nh*t)
	if b*t*nh*hd == 0 {
		return
	}
	sbuf, dpbuf := be.attnScratch(t)
	scale := float32(1 / math.Sqrt(float64(hd)))
	ldq, ldk := nh*hd, nkv*hd
	group := nh / nkv
	for bi := 0; bi < b; bi++ {
		segRow := seg[bi*t : bi*t+t]
		for h := 0; h < nh; h++ {
			qoff := bi*t*ldq + h*hd
			koff := bi*t*ldk + (h/group)*hd
			lseRow := lse[(bi*nh+h)*t : (bi*nh+h)*t+t]
			for i0 := 0; i0 < t; i0 += attnQB {
				i1 := min(i0+attnQB, t)
				qb := i1 - i0
				k0 := attnKeyStart(i0, window)
				nk := i1 - k0
				p := sbuf[:qb*nk]
				dp := dpbuf[:qb*nk]
				be.Sgemm(false, true, qb, nk, hd, scale, q[qoff+i0*ldq:], ldq, k[koff+k0*ldk:], ldk, 0, p, nk)
				be.attnProbs(p, segRow, lseRow, i0, qb, k0, nk, window, false)
				be.Sgemm(false, true, qb, nk, hd, 1, dout[qoff+i0*ldq:], ldq, v[koff+k0*ldk:], ldk, 0, dp, nk)
				l := &be.lp.attnDS
				*l = attnDS{p: p, dp: dp, dout: dout, out: out, off: qoff + i0*ldq, ldq: ldq, hd: hd, nk: nk}
				be.pool.run(qb, grainFor(2*nk+2*hd), l)
				be.Sgemm(true, false, nk, hd, qb, 1, p, nk, dout[qoff+i0*ldq:], ldq, 1, dv[koff+k0*ldk:], ldk)
				be.Sgemm(false, false, qb, hd, nk, scale, dp, nk, k[koff+k0*ldk:], ldk, 1, dq[qoff+i0*ldq:], ldq)
				be.Sgemm(true, false, nk, hd, qb, scale, dp, nk, q[qoff+i0*ldq:], ldq, 1, dk[koff+k0*ldk:], ldk)
			}
		}
	}
}

// attnDS turns dP into dS = P ⊙ (dP − D) in place, D_r = dO_r·O_r.
type attnDS struct {
	p, dp, dout, out []float32
	off, ldq, hd, nk int
}

func (a *attnDS) chunk(_, lo, hi int) {
	nk, hd := a.nk, a.hd
	for r := lo; r < hi; r++ {
		o := a.off + r*a.ldq
		var d float32
		for c, x := range a.dout[o : o+hd] {
			d += x * a.out[o+c]
		}
		pr := a.p[r*nk : r*nk+nk]
		dr := a.dp[r*nk : r*nk+nk]
		for c, pv := range pr {
			dr[c] = pv * (dr[c] - d)
		}
	}
}
