package cpu

import (
	"fmt"
	"math"

	"github.com/preftune/preftune/kernels/cpu/vec"
)

// attnQB is the number of query rows processed per block. Attention keeps no
// [T,T] matrix: for each (row, head, block of attnQB queries) the scores
// against the keys the block can see are formed by one GEMM into a scratch
// [attnQB, T] buffer, softmaxed in place, and multiplied into V by a second
// GEMM; only the log-sum-exp per query (lse [B,NH,T]) is saved. Backward
// recomputes the probabilities from q, k and lse (flash-attention style), so
// memory is O(B·NH·T) whatever T is, and the causal structure skips key blocks
// after the block's last query (and keys before the first one any query of the
// block can see: earlier packed segments, or keys outside a window).
//
// Parallelism is across heads: the forward hands (row, head, query block)
// items to the workers and the backward (row, kv head) items (the query heads
// of a group accumulate into the same dk, dv, so one worker owns a group);
// each worker runs its GEMMs single-threaded on its own scratch.
var attnQB = 128 // a variable only so tests can use small blocks

func checkAttention(op string, q, k, v []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
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
	if parent != nil {
		needInt(op, "parent", parent, b*t)
	}
}

// attnScratch makes sure every worker has its two [attnQB, T] scratch
// buffers and the per-(row, block) key starts have room, growing them the
// first time a longer T (or more blocks) is seen.
func (be *Backend) attnScratch(b, t int) {
	if t > be.attnT {
		for w := range be.attnS {
			be.attnS[w] = make([]float32, attnQB*t)
			be.attnDP[w] = make([]float32, attnQB*t)
		}
		be.attnT = t
	}
	if nb := b * ((t + attnQB - 1) / attnQB); len(be.attnK0) < nb {
		be.attnK0 = make([]int32, nb)
	}
}

// attnKeyStarts fills k0[bi·nblk+blk] with the first key any query of block
// blk of row bi can see (i1 when none: the block is all padding).
func attnKeyStarts(k0 []int32, seg, parent []int32, b, t, window int) {
	nblk := (t + attnQB - 1) / attnQB
	for bi := 0; bi < b; bi++ {
		sr := seg[bi*t : bi*t+t]
		var pr []int32
		if parent != nil {
			pr = parent[bi*t : bi*t+t]
		}
		for blk := 0; blk < nblk; blk++ {
			i0 := blk * attnQB
			i1 := min(i0+attnQB, t)
			lo := 0
			if window > 0 {
				lo = max(0, i0-window+1)
			}
			start := i1
		scan:
			for j := lo; j < i1; j++ {
				sj := sr[j]
				if sj < 0 {
					continue
				}
				for i := max(i0, j); i < i1; i++ {
					if sr[i] == sj || (pr != nil && pr[i] == sj) {
						start = j
						break scan
					}
				}
			}
			k0[bi*nblk+blk] = int32(start)
		}
	}
}

// attnRowProbs turns the scaled scores s[r*nk+c] (query i0+r, key k0+c) of
// qb queries into probabilities in place. With fresh it computes and stores
// lse[i]; otherwise it uses the saved lse. Masked entries and padding rows
// become 0. Key j is visible to query i when j ≤ i, seg[i] ≥ 0, seg[j] is
// seg[i] or parent[i] (the shared prompt; parent nil or < 0: none) and, with
// a window W > 0, j > i − W (Hugging Face's sliding_window_overlay).
func attnRowProbs(s []float32, seg, parent []int32, lse []float32, i0, qb, k0, nk, window int, fresh bool) {
	for r := 0; r < qb; r++ {
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
		pi := int32(-1)
		if parent != nil {
			pi = parent[i]
		}
		if pi < 0 {
			pi = si // no second segment: test seg[i] twice
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
		ks = ks[:len(vis)]
		if fresh {
			m := float32(math.Inf(-1))
			for c, x := range vis {
				if ks[c] == si || ks[c] == pi {
					m = max(m, x)
				}
			}
			var sum float32
			for c, x := range vis {
				e := float32(0)
				if ks[c] == si || ks[c] == pi {
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
			if ks[c] == si || ks[c] == pi {
				vis[c] = expf(x - l)
			} else {
				vis[c] = 0
			}
		}
	}
}

// AttentionForward: out[B,T,NH,HD] = softmax(q·kᵀ/sqrt(HD) + mask)·v with q[B,T,NH,HD], k,v[B,T,NKV,HD], seg[B·T], window (0 = none); saves lse[B,NH,T].
func (be *Backend) AttentionForward(out, lse, q, k, v []float32, seg []int32, b, t, nh, nkv, hd, window int) {
	be.AttentionForwardShared(out, lse, q, k, v, seg, nil, b, t, nh, nkv, hd, window)
}

// AttentionForwardShared: AttentionForward where query i also sees the keys of segment parent[i] ≥ 0 up to itself (a shared prompt); parent[B·T] may be nil.
func (be *Backend) AttentionForwardShared(out, lse, q, k, v []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
	const op = "AttentionForward"
	checkAttention(op, q, k, v, seg, parent, b, t, nh, nkv, hd, window)
	need(op, "out", out, b*t*nh*hd)
	need(op, "lse", lse, b*nh*t)
	if b*t*nh*hd == 0 {
		return
	}
	be.attnScratch(b, t)
	attnKeyStarts(be.attnK0, seg, parent, b, t, window)
	nblk := (t + attnQB - 1) / attnQB
	l := &be.lp.attnFwd
	*l = attnFwd{be: be, out: out, lse: lse, q: q, k: k, v: v, seg: seg, parent: parent,
		t: t, nh: nh, nkv: nkv, hd: hd, window: window, nblk: nblk}
	be.pool.run(b*nh*nblk, 1, l)
}

// attnFwd: one item is (row, head, query block).
type attnFwd struct {
	be                     *Backend
	out, lse, q, k, v      []float32
	seg, parent            []int32
	t, nh, nkv, hd, window int
	nblk                   int
}

func (a *attnFwd) chunk(w, lo, hi int) {
	t, nh, hd, nblk := a.t, a.nh, a.hd, a.nblk
	scale := float32(1 / math.Sqrt(float64(hd)))
	ldq, ldk := nh*hd, a.nkv*hd
	group := nh / a.nkv
	for it := lo; it < hi; it++ {
		blk := it % nblk
		h := (it / nblk) % nh
		bi := it / (nblk * nh)
		segRow := a.seg[bi*t : bi*t+t]
		var parRow []int32
		if a.parent != nil {
			parRow = a.parent[bi*t : bi*t+t]
		}
		qoff := bi*t*ldq + h*hd
		koff := bi*t*ldk + (h/group)*hd
		lseRow := a.lse[(bi*nh+h)*t : (bi*nh+h)*t+t]
		i0 := blk * attnQB
		i1 := min(i0+attnQB, t)
		qb := i1 - i0
		k0 := int(a.be.attnK0[bi*nblk+blk])
		nk := i1 - k0
		if nk <= 0 { // only padding queries
			for i := i0; i < i1; i++ {
				clear(a.out[qoff+i*ldq : qoff+i*ldq+hd])
				lseRow[i] = 0
			}
			continue
		}
		s := a.be.attnS[w][:qb*nk]
		a.be.sgemmSerial(false, true, qb, nk, hd, scale, a.q[qoff+i0*ldq:], ldq, a.k[koff+k0*ldk:], ldk, 0, s, nk)
		if a.be.vec {
			vec.AttnProbs(s, segRow, parRow, lseRow, i0, qb, k0, nk, a.window, true)
		} else {
			attnRowProbs(s, segRow, parRow, lseRow, i0, qb, k0, nk, a.window, true)
		}
		a.be.sgemmSerial(false, false, qb, hd, nk, 1, s, nk, a.v[koff+k0*ldk:], ldk, 0, a.out[qoff+i0*ldq:], ldq)
	}
}

// AttentionBackward: dq[B,T,NH,HD], dk,dv[B,T,NKV,HD] += ∂ from dout[B,T,NH,HD] and the forward's q, k, v, out, lse, seg, window (scores recomputed).
//
// With P the probabilities and O = P·V: dV += Pᵀ·dO, dP = dO·Vᵀ,
// dS = P ⊙ (dP − rowsum(dO ⊙ O)), dQ += scale·dS·K, dK += scale·dSᵀ·Q.
// Query heads sharing a kv head are processed one after another by the same
// worker, so their dk/dv contributions add up without races.
func (be *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, seg []int32, b, t, nh, nkv, hd, window int) {
	be.AttentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse, seg, nil, b, t, nh, nkv, hd, window)
}

// AttentionBackwardShared: AttentionBackward of AttentionForwardShared (parent[B·T] may be nil).
func (be *Backend) AttentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
	const op = "AttentionBackward"
	checkAttention(op, q, k, v, seg, parent, b, t, nh, nkv, hd, window)
	need(op, "dq", dq, b*t*nh*hd)
	need(op, "dk", dk, b*t*nkv*hd)
	need(op, "dv", dv, b*t*nkv*hd)
	need(op, "dout", dout, b*t*nh*hd)
	need(op, "out", out, b*t*nh*hd)
	need(op, "lse", lse, b*nh*t)
	if b*t*nh*hd == 0 {
		return
	}
	be.attnScratch(b, t)
	attnKeyStarts(be.attnK0, seg, parent, b, t, window)
	l := &be.lp.attnBwd
	*l = attnBwd{be: be, dq: dq, dk: dk, dv: dv, dout: dout, q: q, k: k, v: v, out: out, lse: lse,
		seg: seg, parent: parent, t: t, nh: nh, nkv: nkv, hd: hd, window: window, nblk: (t + attnQB - 1) / attnQB}
	be.pool.run(b*nkv, 1, l)
}

// attnBwd: one item is (row, kv head): the group's query heads, every block.
type attnBwd struct {
	be                                  *Backend
	dq, dk, dv, dout, q, k, v, out, lse []float32
	seg, parent                         []int32
	t, nh, nkv, hd, window, nblk        int
}

func (a *attnBwd) chunk(w, lo, hi int) {
	t, nh, nkv, hd, nblk := a.t, a.nh, a.nkv, a.hd, a.nblk
	scale := float32(1 / math.Sqrt(float64(hd)))
	ldq, ldk := nh*hd, nkv*hd
	group := nh / nkv
	for it := lo; it < hi; it++ {
		kh := it % nkv
		bi := it / nkv
		segRow := a.seg[bi*t : bi*t+t]
		var parRow []int32
		if a.parent != nil {
			parRow = a.parent[bi*t : bi*t+t]
		}
		koff := bi*t*ldk + kh*hd
		for h := kh * group; h < (kh+1)*group; h++ {
			qoff := bi*t*ldq + h*hd
			lseRow := a.lse[(bi*nh+h)*t : (bi*nh+h)*t+t]
			for blk := 0; blk < nblk; blk++ {
				i0 := blk * attnQB
				i1 := min(i0+attnQB, t)
				qb := i1 - i0
				k0 := int(a.be.attnK0[bi*nblk+blk])
				nk := i1 - k0
				if nk <= 0 {
					continue
				}
				p := a.be.attnS[w][:qb*nk]
				dp := a.be.attnDP[w][:qb*nk]
				qo := qoff + i0*ldq
				a.be.sgemmSerial(false, true, qb, nk, hd, scale, a.q[qo:], ldq, a.k[koff+k0*ldk:], ldk, 0, p, nk)
				if a.be.vec {
					vec.AttnProbs(p, segRow, parRow, lseRow, i0, qb, k0, nk, a.window, false)
				} else {
					attnRowProbs(p, segRow, parRow, lseRow, i0, qb, k0, nk, a.window, false)
				}
				a.be.sgemmSerial(false, true, qb, nk, hd, 1, a.dout[qo:], ldq, a.v[koff+k0*ldk:], ldk, 0, dp, nk)
				// dS = P ⊙ (dP − D), D_r = dO_r·O_r
				for r := 0; r < qb; r++ {
					o := qo + r*ldq
					var d float32
					dor, or := a.dout[o:o+hd], a.out[o:o+hd]
					for c, x := range dor {
						d += x * or[c]
					}
					pr := p[r*nk : r*nk+nk]
					dr := dp[r*nk : r*nk+nk]
					dr = dr[:len(pr)]
					for c, pv := range pr {
						dr[c] = pv * (dr[c] - d)
					}
				}
				a.be.sgemmSerial(true, false, nk, hd, qb, 1, p, nk, a.dout[qo:], ldq, 1, a.dv[koff+k0*ldk:], ldk)
				a.be.sgemmSerial(false, false, qb, hd, nk, scale, dp, nk, a.k[koff+k0*ldk:], ldk, 1, a.dq[qo:], ldq)
				a.be.sgemmSerial(true, false, nk, hd, qb, scale, dp, nk, a.q[qo:], ldq, 1, a.dk[koff+k0*ldk:], ldk)
			}
		}
	}
}
