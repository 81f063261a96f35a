package model

import (
	"fmt"

	"github.com/preftune/preftune/kernels"
)

// KVCache holds the rotated keys and the values of every token B sequences (rows)
// have seen, layer by layer, in backend buffers, so that generating a token runs the
// model on that token only: the new token's query attends to the cached keys instead
// of recomputing the prefix. The forward through it is the training layer's own code
// (layerForwardOn): the layer writes its k and v projections straight into the cache,
// and attention goes through the backend's kernels.CachedAttention, or
// kernels.CachedAttentionFallback built from core ops.
//
// The cache is step-major: step j of row b is entry j·B+b of each layer's [Cap,B,NKV·HD]
// buffer, so one decoding step for every row is one contiguous block. Rows of
// different prompt lengths are left-padded: row b's first real step is start[b], its
// token at step j has position j − start[b], and the steps before start[b] are never
// attended to. It also owns the scratch of the incremental forward (one layer's
// activations, reused layer after layer). A cache belongs to the model that made it;
// Reset starts new sequences; Close releases its buffers.
type KVCache struct {
	m      *Model
	rows   int         // B
	cap    int         // steps it can hold
	n      int         // steps filled
	k, v   [][]float32 // per layer [cap, B, NKV·HD]; k after RoPE (and q/k norm)
	start  []int32     // [B] first real step of each row (backend)
	hstart []int32     // the same on the host

	attn   kernels.CachedAttention // the backend's, or nil (then fb)
	fb     *kernels.CachedAttentionFallback
	sample kernels.TokenSampler // the backend's, or nil (host sampling)

	// the last step's final norm and logits, and the sampling buffers [B]
	hn, rstd, logits []float32
	next             []int32   // sampled ids (backend)
	uni              []float32 // uniform draws (backend)
	hnext            []int32
	huni             []float32

	// scratch for chunks of up to chunk steps (grown on demand)
	chunk      int
	arena      []float32 // backs s, x, u
	s          layerActs
	x, u       []float32 // residual [chunk·B, C]; adapters [chunk·B, r]
	ids, pos   []int32   // [chunk·B] (backend)
	hids, hpos []int32   // the same staged on the host
}

// kvStep is one forward through a cache: steps t0 … t0+t−1 of every row.
type kvStep struct {
	c     *KVCache
	t0, t int
}

// attend: att[T,B,NH·HD] from the queries q[T,B,NH·HD] against layer l's cache.
func (k *kvStep) attend(m *Model, l int, att, q []float32) {
	c := k.c
	a := &m.arch
	steps := k.t0 + k.t
	KD := a.kvDim()
	K, V := c.k[l][:steps*c.rows*KD], c.v[l][:steps*c.rows*KD]
	if c.attn != nil {
		c.attn.AttentionForwardCached(att, q, K, V, c.start, k.t0, k.t, c.rows, a.Heads, a.KVHeads, a.HeadDim, a.window(l))
		return
	}
	c.fb.Forward(att, q, K, V, c.hstart, k.t0, k.t, c.rows, a.window(l))
}

// NewKVCache returns an empty one-row cache for sequences of up to capacity tokens
// (prompt and generated tokens together); capacity 0 or beyond
// max_position_embeddings means max_position_embeddings.
func (m *Model) NewKVCache(capacity int) *KVCache {
	if capacity <= 0 || capacity > m.arch.MaxPos {
		capacity = m.arch.MaxPos
	}
	return m.NewBatchKVCache(1, capacity)
}

// NewBatchKVCache returns an empty cache for rows sequences of up to steps steps each
// (the longest prompt plus the generated tokens; a left-padded row's padding counts).
func (m *Model) NewBatchKVCache(rows, steps int) *KVCache {
	a := &m.arch
	rows, steps = max(rows, 1), max(steps, 1)
	be := m.be
	c := &KVCache{m: m, rows: rows, cap: steps, k: make([][]float32, a.Layers), v: make([][]float32, a.Layers)}
	KD := a.kvDim()
	for l := range c.k {
		c.k[l] = be.Alloc(steps * rows * KD)
		c.v[l] = be.Alloc(steps * rows * KD)
	}
	c.start, c.hstart = be.AllocInt32(rows), make([]int32, rows)
	c.attn, _ = be.(kernels.CachedAttention)
	if c.attn == nil {
		c.fb = kernels.NewCachedAttentionFallback(be, steps, rows, a.Heads, a.KVHeads, a.HeadDim)
	}
	c.sample, _ = be.(kernels.TokenSampler)
	c.hn, c.rstd, c.logits = be.Alloc(rows*a.Hidden), be.Alloc(rows), be.Alloc(rows*a.Vocab)
	c.next, c.uni = be.AllocInt32(rows), be.Alloc(rows)
	c.hnext, c.huni = make([]int32, rows), make([]float32, rows)
	return c
}

// Len is the number of cached steps: the position the next token of a one-row cache takes.
func (c *KVCache) Len() int { return c.n }

// Cap is the number of steps the cache can hold.
func (c *KVCache) Cap() int { return c.cap }

// Rows is the number of sequences the cache holds.
func (c *KVCache) Rows() int { return c.rows }

// Reset empties the cache for new sequences (the memory is kept).
func (c *KVCache) Reset() {
	c.n = 0
	clear(c.hstart)
	c.m.be.UploadInt32(c.start, c.hstart)
}

// Close releases the cache's backend buffers; it must not be used after.
func (c *KVCache) Close() {
	be := c.m.be
	for l := range c.k {
		be.Free(c.k[l])
		be.Free(c.v[l])
	}
	for _, x := range [][]float32{c.hn, c.rstd, c.logits, c.uni} {
		be.Free(x)
	}
	be.FreeInt32(c.start)
	be.FreeInt32(c.next)
	c.freeScratch()
	if c.fb != nil {
		c.fb.Free()
	}
	c.k, c.v, c.fb = nil, nil, nil
}

func (c *KVCache) freeScratch() {
	if c.arena == nil {
		return
	}
	be := c.m.be
	be.Free(c.arena)
	be.FreeInt32(c.ids)
	be.FreeInt32(c.pos)
	c.arena, c.ids, c.pos, c.chunk = nil, nil, nil, 0
}

// grow makes the chunk scratch hold t steps of every row.
func (c *KVCache) grow(t int) {
	if t <= c.chunk {
		return
	}
	c.freeScratch()
	m := c.m
	a := &m.arch
	n := t * c.rows
	C, F, QD, KD := a.Hidden, a.FFN, a.qDim(), a.kvDim()
	rmax := 0
	if m.lora != nil {
		rmax = m.lora.MaxRank()
	}
	carve := func(cv *carver) {
		s := &c.s
		*s = layerActs{}
		s.h1, s.rstd1 = cv.take(n*C), cv.take(n)
		if a.QKNorm {
			s.qr, s.kr, s.rq, s.rk = cv.take(n*QD), cv.take(n*KD), cv.take(n*a.Heads), cv.take(n*a.KVHeads)
		}
		s.q, s.att = cv.take(n*QD), cv.take(n*QD) // k, v: views of the cache
		s.xmid, s.h2, s.rstd2 = cv.take(n*C), cv.take(n*C), cv.take(n)
		if m.fuseGU {
			s.gu, s.act = cv.take(2*n*F), cv.take(n*F)
		} else {
			s.gate, s.up, s.act = cv.take(n*F), cv.take(n*F), cv.take(n*F)
		}
		c.x = cv.take(n * C)
		c.u = cv.take(n * rmax)
	}
	count := &carver{}
	carve(count)
	c.arena = m.be.Alloc(count.off)
	carve(&carver{buf: c.arena})
	c.ids, c.pos = m.be.AllocInt32(n), m.be.AllocInt32(n)
	c.hids, c.hpos = make([]int32, n), make([]int32, n)
	c.chunk = t
}

// Extend runs the model on ids, the next tokens of a one-row cache's sequence
// (positions Len() … Len()+len(ids)−1), appends their keys and values to the cache and
// writes the logits of the last of them to logits ([V]). The first call with the
// whole prompt is the prefill; each later call with one sampled token is a decode
// step. With opt.NoAdapters the LoRA adapters are skipped (the base model); dropout
// never applies. On an error (bad id, cache full) the cache is unchanged.
func (m *Model) Extend(c *KVCache, ids []int32, opt ForwardOptions, logits []float32) error {
	a := &m.arch
	n := len(ids)
	switch {
	case c == nil || c.m != m:
		return fmt.Errorf("model: Extend with a KV cache made by another model")
	case c.rows != 1:
		return fmt.Errorf("model: Extend with a %d-row KV cache (it extends one sequence)", c.rows)
	case n == 0:
		return fmt.Errorf("model: Extend with no tokens")
	case c.n+n > c.cap:
		return fmt.Errorf("model: sequence of %d tokens exceeds the KV cache's %d (max_position_embeddings %d)", c.n+n, c.cap, a.MaxPos)
	case len(logits) < a.Vocab:
		return fmt.Errorf("model: logits buffer has %d entries, vocabulary is %d", len(logits), a.Vocab)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= a.Vocab {
			return fmt.Errorf("model: token %d (position %d) = %d is outside the vocabulary [0,%d)", i, c.n+i, id, a.Vocab)
		}
	}
	c.grow(n)
	for i, id := range ids {
		c.hids[i], c.hpos[i] = id, int32(c.n+i)
	}
	m.extend(c, n, opt)
	if err := m.be.Sync(); err != nil {
		return fmt.Errorf("model: Extend: %w", err)
	}
	copy(logits[:a.Vocab], c.logits[:a.Vocab])
	return nil
}

// prefill starts c (reset) on prompts, one per row, left-padded to the longest; it
// leaves each row's next-token logits in c.logits. The caller validated the prompts
// (non-empty, ids in the vocabulary, lengths within the cache and the positions).
func (m *Model) prefill(c *KVCache, prompts [][]int32, opt ForwardOptions) {
	c.Reset()
	B := c.rows
	t := 0
	for _, p := range prompts {
		t = max(t, len(p))
	}
	c.grow(t)
	for b := 0; b < B; b++ {
		var p []int32
		if b < len(prompts) {
			p = prompts[b]
		}
		st := t - len(p)
		c.hstart[b] = int32(st)
		for i := 0; i < t; i++ {
			k := i*B + b
			c.hids[k], c.hpos[k] = 0, 0
			if i >= st {
				c.hids[k], c.hpos[k] = p[i-st], int32(i-st)
			}
		}
	}
	m.be.UploadInt32(c.start, c.hstart)
	m.extend(c, t, opt)
}

// step feeds one token per row (ids[B]) at the next step and leaves the next-token
// logits in c.logits.
func (m *Model) step(c *KVCache, ids []int32, opt ForwardOptions) {
	c.grow(1)
	for b := 0; b < c.rows; b++ {
		c.hids[b], c.hpos[b] = ids[b], int32(c.n)-c.hstart[b]
	}
	m.extend(c, 1, opt)
}

// extend runs the t staged steps (c.hids, c.hpos [t·B], step-major) through the layers
// into the cache and the LM head over the last step: c.logits [B,V]. Nothing is
// synced.
func (m *Model) extend(c *KVCache, t int, opt ForwardOptions) {
	a := &m.arch
	be := m.be
	B := c.rows
	n := t * B
	C, KD := a.Hidden, a.kvDim()
	be.UploadInt32(c.ids[:n], c.hids[:n])
	be.UploadInt32(c.pos[:n], c.hpos[:n])
	x := c.x[:n*C]
	m.embedForward(x, c.ids, c.hids, n)
	useLoRA := m.lora != nil && !opt.NoAdapters
	st := stepShape{b: B, t: t, n: n, lora: useLoRA, kv: &kvStep{c: c, t0: c.n, t: t}}
	if useLoRA {
		st.loraU = c.u
	}
	lo, hi := c.n*B*KD, (c.n+t)*B*KD
	for l := range m.layers {
		c.s.k, c.s.v = c.k[l][lo:hi], c.v[l][lo:hi]
		m.layerForwardOn(l, &c.s, x, x, c.pos[:n], st)
	}
	c.s.k, c.s.v = nil, nil
	// final norm and LM head on the last step of every row
	last := x[(t-1)*B*C : n*C]
	be.RMSNormForward(c.hn[:B*C], c.rstd[:B], last, m.normW, B, C, a.Eps)
	m.headForward(c.logits, c.hn, B)
	c.n += t
}
