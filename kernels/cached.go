package kernels

import "fmt"

// CachedAttention is an optional Backend interface: attention of the newest tokens of
// B sequences against their KV cache (generation). Without it the model uses
// CachedAttentionFallback, which gathers the cache into the training layout and runs
// AttentionForward.
//
// The cache is step-major: step j of row b lives at (j·B+b)·NKV·HD, so the keys and
// values of one decoding step for every row are one contiguous [B,NKV,HD] block (the
// model's layer code writes its k and v projections straight into it), and the
// queries of the T newest steps are q[T,B,NH,HD] in the same order.
type CachedAttention interface {
	// AttentionForwardCached: out[T,B,NH,HD] = softmax(q·kᵀ/sqrt(HD))·v for the queries q[T,B,NH,HD] of cache steps t0…t0+T−1 against k,v[≥(t0+T)·B·NKV·HD] (step-major); query (i,b) sees steps j with start[b] ≤ j ≤ t0+i and, when window > 0, j > t0+i−window; a query that sees no step gets 0.
	AttentionForwardCached(out, q, k, v []float32, start []int32, t0, t, b, nh, nkv, hd, window int)
}

// TokenSampler is an optional Backend interface: picking each row's next token where
// the logits are, so a decoding step sends B ids to the host instead of B·V logits.
// Without it the model syncs and runs SampleRow on the host over the same logits.
type TokenSampler interface {
	// SampleTokens: ids[B] WRITES SampleRow(logits[b·V:(b+1)·V], temperature, topP, u[b]) for every row b (u[b] ∈ [0,1) is row b's uniform draw; unread when temperature is 0).
	SampleTokens(ids []int32, logits, u []float32, b, v int, temperature, topP float64)
}

// CachedAttentionFallback computes AttentionForwardCached from core ops: the cache
// rows a batch can see are gathered (EmbeddingForward as a row gather) into
// [B, t0+T] training rows with segment −1 before each row's start, AttentionForward
// runs over them, and the outputs of the T newest steps are gathered back. It costs
// O(B·(t0+T)²) per call instead of O(B·T·(t0+T)) and needs scratch for the gathered
// rows, which it allocates from the backend for up to maxSteps steps of b rows.
type CachedAttentionFallback struct {
	be                    Backend
	steps, b, nh, nkv, hd int
	q, k, v, out, lse     []float32
	seg, idxQ, idxKV, idx []int32 // [b·steps] ×3, [steps·b] (out gather)
	host                  struct{ seg, idxQ, idxKV, idx []int32 }
}

// NewCachedAttentionFallback allocates the fallback's scratch on be for up to maxSteps
// cache steps of b rows with nh query heads, nkv key/value heads of width hd.
func NewCachedAttentionFallback(be Backend, maxSteps, b, nh, nkv, hd int) *CachedAttentionFallback {
	f := &CachedAttentionFallback{be: be, steps: maxSteps, b: b, nh: nh, nkv: nkv, hd: hd}
	n := maxSteps * b
	f.q, f.out = be.Alloc(n*nh*hd), be.Alloc(n*nh*hd)
	f.k, f.v = be.Alloc(n*nkv*hd), be.Alloc(n*nkv*hd)
	f.lse = be.Alloc(n * nh)
	f.seg, f.idxQ, f.idxKV, f.idx = be.AllocInt32(n), be.AllocInt32(n), be.AllocInt32(n), be.AllocInt32(n)
	f.host.seg, f.host.idxQ, f.host.idxKV, f.host.idx = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	return f
}

// Free releases the scratch.
func (f *CachedAttentionFallback) Free() {
	for _, x := range [][]float32{f.q, f.out, f.k, f.v, f.lse} {
		f.be.Free(x)
	}
	for _, x := range [][]int32{f.seg, f.idxQ, f.idxKV, f.idx} {
		f.be.FreeInt32(x)
	}
	*f = CachedAttentionFallback{}
}

// Forward is AttentionForwardCached; start is given on the host as well (hstart, the
// same values as the backend's start) since the gather tables are built there.
func (f *CachedAttentionFallback) Forward(out, q, k, v []float32, hstart []int32, t0, t, b, window int) {
	J := t0 + t
	if J > f.steps || b != f.b {
		panic(fmt.Sprintf("kernels: cached attention fallback sized for %d steps of %d rows, called with %d of %d", f.steps, f.b, J, b))
	}
	QD, KD := f.nh*f.hd, f.nkv*f.hd
	h := &f.host
	for r := 0; r < b; r++ {
		for j := 0; j < J; j++ {
			i := r*J + j
			h.idxKV[i] = int32(j*b + r)
			h.idxQ[i] = int32(max(0, j-t0)*b + r) // steps before t0: any query (its output is not read)
			h.seg[i] = 0
			if j < int(hstart[r]) {
				h.seg[i] = -1
			}
		}
	}
	for i := 0; i < t; i++ {
		for r := 0; r < b; r++ {
			h.idx[i*b+r] = int32(r*J + t0 + i)
		}
	}
	n := b * J
	be := f.be
	be.UploadInt32(f.seg[:n], h.seg[:n])
	be.UploadInt32(f.idxQ[:n], h.idxQ[:n])
	be.UploadInt32(f.idxKV[:n], h.idxKV[:n])
	be.UploadInt32(f.idx[:t*b], h.idx[:t*b])
	be.EmbeddingForward(f.k[:n*KD], f.idxKV[:n], k[:n*KD], n, KD, n)
	be.EmbeddingForward(f.v[:n*KD], f.idxKV[:n], v[:n*KD], n, KD, n)
	be.EmbeddingForward(f.q[:n*QD], f.idxQ[:n], q[:t*b*QD], n, QD, t*b)
	be.AttentionForward(f.out[:n*QD], f.lse[:n*f.nh], f.q[:n*QD], f.k[:n*KD], f.v[:n*KD], f.seg[:n], b, J, f.nh, f.nkv, f.hd, window)
	be.EmbeddingForward(out[:t*b*QD], f.idx[:t*b], f.out[:n*QD], t*b, QD, n)
}
