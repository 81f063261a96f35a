package model

import (
	"github.com/preftune/preftune/kernels"
)

// Frozen base weights in compact storage (Options.Storage): a linear, the embedding or
// the head whose weight is a *kernels.Packed instead of a float32 slice. Packed weights
// live in host memory; each use expands a chunk of rows to float32 on the host, uploads
// it into one reused backend scratch buffer and multiplies there with Sgemm, so the
// arithmetic is the float32 path's on the same values (bf16/f16 widen exactly; 4-bit
// dequantizes as bitsandbytes does). A backend that can multiply packed weights directly
// would take this over behind an optional interface.

// packedScratchElems bounds the float32 rows expanded at once (64 MiB), unless one
// biased linear needs more (a bias is added by LinearForward over the whole matrix).
const packedScratchElems = 16 << 20

type packedScratch struct {
	host []float32 // staging rows on the host
	dev  []float32 // the same rows in backend memory
}

// scratchFor returns host and backend scratch of at least n elements.
func (m *Model) packedScratch(n int) ([]float32, []float32) {
	s := &m.pk
	if len(s.dev) < n {
		if s.dev != nil {
			m.be.Free(s.dev)
		}
		s.dev = m.be.Alloc(n)
		s.host = make([]float32, n)
	}
	return s.host[:n], s.dev[:n]
}

// chunkRows is the number of rows of w expanded per GEMM.
func chunkRows(w *kernels.Packed) int {
	return max(1, min(w.Rows, packedScratchElems/w.Cols))
}

// expand puts rows [r0, r1) of w as float32 into backend scratch and returns it.
func (m *Model) expand(w *kernels.Packed, r0, r1 int) []float32 {
	n := (r1 - r0) * w.Cols
	host, dev := m.packedScratch(max(n, chunkRows(w)*w.Cols))
	w.DequantizeRows(host, r0, r1, m.be.Threads())
	m.be.Upload(dev[:n], host[:n])
	return dev[:n]
}

// packedLinearForward: out[N,OC] (= or +=) x[N,C]·Wᵀ + bias with W packed [OC,C].
func (m *Model) packedLinearForward(out, x []float32, w *kernels.Packed, bias []float32, n int, accumulate bool) {
	oc, c := w.Rows, w.Cols
	if bias != nil { // the whole matrix at once so LinearForward adds the bias
		m.be.LinearForward(out[:n*oc], x[:n*c], m.expand(w, 0, oc), bias, n, c, oc, 1, accumulate)
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	step := chunkRows(w)
	for r0 := 0; r0 < oc; r0 += step {
		r1 := min(oc, r0+step)
		wc := m.expand(w, r0, r1)
		m.be.Sgemm(false, true, n, r1-r0, c, 1, x, c, wc, c, beta, out[r0:], oc) // out[:, r0:r1] = x·W[r0:r1]ᵀ
	}
}

// packedLinearBackward: dx[N,C] (+= or = when write) dy[N,OC]·W with W packed [OC,C].
func (m *Model) packedLinearBackward(dx, dy []float32, w *kernels.Packed, n int, write bool) {
	oc, c := w.Rows, w.Cols
	step := chunkRows(w)
	for r0 := 0; r0 < oc; r0 += step {
		r1 := min(oc, r0+step)
		wc := m.expand(w, r0, r1)
		beta := float32(1)
		if write && r0 == 0 {
			beta = 0
		}
		m.be.Sgemm(false, false, n, c, r1-r0, 1, dy[r0:], oc, wc, c, beta, dx, c) // dx += dy[:, r0:r1]·W[r0:r1]
	}
}

// packedEmbedding: out[N,C] = table[ids[N]] for a packed table, from the host copy of the ids.
func (m *Model) packedEmbedding(out []float32, hostIDs []int32, w *kernels.Packed, n int) {
	c := w.Cols
	host, _ := m.packedScratch(max(n*c, chunkRows(w)*w.Cols))
	for i, id := range hostIDs[:n] {
		w.DequantizeRows(host[i*c:(i+1)*c], int(id), int(id)+1, 1)
	}
	m.be.Upload(out[:n*c], host[:n*c])
}

// baseForward is the frozen-or-trainable base projection of li: out (= or +=) x·Wᵀ + b.
func (m *Model) baseForward(li *linear, out, x []float32, n int, accumulate bool) {
	if li.pw != nil {
		m.packedLinearForward(out, x, li.pw, li.b, n, accumulate)
		return
	}
	m.be.LinearForward(out[:n*li.out], x[:n*li.in], li.w, li.b, n, li.in, li.out, 1, accumulate)
}

// headForward: logits[R,V] = h[R,C]·headᵀ.
func (m *Model) headForward(logits, h []float32, r int) {
	if m.headP != nil {
		m.packedLinearForward(logits, h, m.headP, nil, r, false)
		return
	}
	a := &m.arch
	m.be.LinearForward(logits[:r*a.Vocab], h[:r*a.Hidden], m.head, nil, r, a.Hidden, a.Vocab, 1, false)
}

// embedForward: out[N,C] = embed[ids]; hostIDs is the host copy of ids.
func (m *Model) embedForward(out []float32, ids, hostIDs []int32, n int) {
	a := &m.arch
	if m.embedP != nil {
		m.packedEmbedding(out, hostIDs, m.embedP, n)
		return
	}
	m.be.EmbeddingForward(out[:n*a.Hidden], ids[:n], m.embed, n, a.Hidden, a.Vocab)
}

// PackedBytes is the host memory of the packed (compactly stored) base weights.
func (m *Model) PackedBytes() int64 {
	var b int64
	for _, t := range m.tensors {
		if t.Packed != nil {
			b += t.Packed.Bytes()
		}
	}
	return b
}
