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

	// bf16 compute (Options.ComputeBF16)
	hostB  []uint16  // staging bf16 rows on the host
	wB     []uint16  // bf16 weight rows in backend memory
	actB   []uint16  // an activation or gradient rounded to bf16 [N, in or out]
	ones   []float32 // [N] ones: bias = ones·biasᵀ as a rank-1 GEMM
	onesUp int       // how many of ones are uploaded
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

// packedLinearForward: out[N,OC] (= or +=) x[N,C]·Wᵀ + bias with W packed [OC,C], in
// chunks of rows of W; in bf16 (x rounded once) when Options.ComputeBF16 took effect.
func (m *Model) packedLinearForward(out, x []float32, w *kernels.Packed, bias []float32, n int, accumulate bool) {
	oc, c := w.Rows, w.Cols
	if bias != nil && m.bf16 == nil { // the whole matrix at once so LinearForward adds the bias
		m.be.LinearForward(out[:n*oc], x[:n*c], m.expand(w, 0, oc), bias, n, c, oc, 1, accumulate)
		return
	}
	xb := m.roundBF16(x, n*c)
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	for r0 := 0; r0 < oc; {
		r1 := m.gemmRows(true, n, -1, c, x, xb, 0, c, w, r0, beta, out[r0:], oc) // out[:, r0:r1] = x·W[r0:r1]ᵀ
		r0 = r1
	}
	if bias != nil { // bf16: out += ones[N]·bias[OC] (rank-1, float32)
		m.be.Sgemm(false, false, n, oc, 1, 1, m.onesN(n), 1, bias, oc, 1, out, oc)
	}
}

// packedLinearBackward: dx[N,C] (+= or = when write) dy[N,OC]·W with W packed [OC,C].
func (m *Model) packedLinearBackward(dx, dy []float32, w *kernels.Packed, n int, write bool) {
	oc, c := w.Rows, w.Cols
	dyb := m.roundBF16(dy, n*oc)
	for r0 := 0; r0 < oc; {
		beta := float32(1)
		if write && r0 == 0 {
			beta = 0
		}
		r0 = m.gemmRows(false, n, c, -1, dy, dyb, r0, oc, w, r0, beta, dx, c) // dx += dy[:, r0:r1]·W[r0:r1]
	}
}

// gemmRows multiplies by the next run of rows of W, [r0, r1), and returns r1: a chunk of
// at most chunkRows, or under bf16 compute on a host-memory backend the rest of the
// stored BF16 part holding r0, used in place. C[mm, nn] = A·op(W[r0:r1]) + beta·C with
// A [mm, kk] at offset aOff (row stride lda) in float32 (a), or in bf16 (ab) under bf16
// compute; the rows of W are the dimension given as −1 (nn with transW, else kk).
func (m *Model) gemmRows(transW bool, mm, nn, kk int, a []float32, ab []uint16, aOff, lda int, w *kernels.Packed, r0 int, beta float32, c []float32, ldc int) int {
	r1 := min(w.Rows, r0+chunkRows(w))
	var wb []uint16
	if m.bf16 != nil && m.bf16Host {
		if bits, end, ok := w.StoredBF16(r0); ok {
			wb, r1 = bits, end
		}
	}
	if transW {
		nn = r1 - r0
	} else {
		kk = r1 - r0
	}
	if m.bf16 != nil {
		if wb == nil {
			wb = m.expandBF16(w, r0, r1)
		}
		m.bf16.GemmBF16(false, transW, mm, nn, kk, 1, ab[aOff:], lda, wb, w.Cols, beta, c, ldc)
		return r1
	}
	m.be.Sgemm(false, transW, mm, nn, kk, 1, a[aOff:], lda, m.expand(w, r0, r1), w.Cols, beta, c, ldc)
	return r1
}

// roundBF16 is x[:n] rounded to bf16 in backend scratch under bf16 compute, else nil.
func (m *Model) roundBF16(x []float32, n int) []uint16 {
	if m.bf16 == nil {
		return nil
	}
	xb := growB(m.bf16, &m.pk.actB, max(n, len(m.pk.actB)))[:n]
	m.bf16.ToBF16(xb, x[:n])
	return xb
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

// bf16 compute: the activation (or output gradient) is rounded to bf16 once per call,
// the weight rows are bf16 (copied as stored, or 4-bit dequantized and rounded), and the
// backend's GemmBF16 accumulates in float32 (what PyTorch's CPU autocast does through
// oneDNN, and bitsandbytes with bnb_4bit_compute_dtype bfloat16).

func growB(be kernels.BF16Matmul, buf *[]uint16, n int) []uint16 {
	if len(*buf) < n {
		if *buf != nil {
			be.FreeBF16(*buf)
		}
		*buf = be.AllocBF16(n)
	}
	return (*buf)[:n]
}

// expandBF16 puts rows [r0, r1) of w as bf16 into backend scratch.
func (m *Model) expandBF16(w *kernels.Packed, r0, r1 int) []uint16 {
	s := &m.pk
	n := (r1 - r0) * w.Cols
	full := chunkRows(w) * w.Cols
	if len(s.hostB) < full {
		s.hostB = make([]uint16, full)
	}
	host, _ := m.packedScratch(full) // float32 staging for non-bf16 parts
	w.RowsBF16(s.hostB[:n], host, r0, r1, m.be.Threads())
	dev := growB(m.bf16, &s.wB, full)[:n]
	m.bf16.UploadBF16(dev, s.hostB[:n])
	return dev
}

// onesN is a backend vector of n ones.
func (m *Model) onesN(n int) []float32 {
	s := &m.pk
	if s.onesUp < n {
		if s.ones != nil {
			m.be.Free(s.ones)
		}
		s.ones = m.be.Alloc(n)
		host := make([]float32, n)
		for i := range host {
			host[i] = 1
		}
		m.be.Upload(s.ones, host)
		s.onesUp = n
	}
	return s.ones[:n]
}

// ComputeDType is the dtype the frozen weights' products run in: "bfloat16" when
// Options.ComputeBF16 took effect, else "float32".
func (m *Model) ComputeDType() string {
	if m.bf16 != nil {
		return "bfloat16"
	}
	return "float32"
}
