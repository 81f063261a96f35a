package model

import (
	"fmt"
	"math"
)

// KVCache holds the rotated keys and the values of every token a sequence has seen,
// layer by layer, so that generating a token runs the model on that token only: the
// new token's query attends to the cached keys instead of recomputing the prefix.
// It also owns the scratch buffers of the incremental forward. A cache belongs to
// the model that made it (NewKVCache) and to one sequence; Reset starts a new one.
type KVCache struct {
	arch Arch
	cap  int         // tokens it can hold (≤ MaxPos)
	n    int         // tokens cached
	k, v [][]float32 // per layer [cap, NKV·HD]; k after RoPE (and q/k norm)

	// scratch for a chunk of up to chunk tokens (grown on demand)
	chunk                   int
	pos                     []int32
	x, h, q, kr, vr, att    []float32
	qr, kn, rstd, rq, rk    []float32
	gate, up, act, u, score []float32
}

// NewKVCache returns an empty cache for sequences of up to capacity tokens (prompt and
// generated tokens together); capacity 0 or beyond max_position_embeddings means
// max_position_embeddings.
func (m *Model) NewKVCache(capacity int) *KVCache {
	a := m.arch
	if capacity <= 0 || capacity > a.MaxPos {
		capacity = a.MaxPos
	}
	c := &KVCache{arch: a, cap: capacity, k: make([][]float32, a.Layers), v: make([][]float32, a.Layers)}
	for l := range c.k {
		c.k[l] = make([]float32, capacity*a.kvDim())
		c.v[l] = make([]float32, capacity*a.kvDim())
	}
	c.score = make([]float32, capacity)
	return c
}

// Len is the number of cached tokens: the position the next token will take.
func (c *KVCache) Len() int { return c.n }

// Cap is the number of tokens the cache can hold.
func (c *KVCache) Cap() int { return c.cap }

// Reset empties the cache for a new sequence (the memory is kept).
func (c *KVCache) Reset() { c.n = 0 }

// grow makes the chunk scratch hold n tokens.
func (c *KVCache) grow(n int, rmax int) {
	if n <= c.chunk {
		return
	}
	a := &c.arch
	C, F, QD, KD := a.Hidden, a.FFN, a.qDim(), a.kvDim()
	c.chunk = n
	c.pos = make([]int32, n)
	c.x, c.h = make([]float32, n*C), make([]float32, n*C)
	c.q, c.kr, c.vr, c.att = make([]float32, n*QD), make([]float32, n*KD), make([]float32, n*KD), make([]float32, n*QD)
	c.rstd = make([]float32, n)
	if a.QKNorm {
		c.qr, c.kn = make([]float32, n*QD), make([]float32, n*KD)
		c.rq, c.rk = make([]float32, n*a.Heads), make([]float32, n*a.KVHeads)
	}
	c.gate, c.up, c.act = make([]float32, n*F), make([]float32, n*F), make([]float32, n*F)
	c.u = make([]float32, n*rmax)
}

// Extend runs the model on ids, the next tokens of the cached sequence (positions
// Len() … Len()+len(ids)−1), appends their keys and values to the cache and writes
// the logits of the last of them to logits ([V]). The first call with the whole
// prompt is the prefill; each later call with one sampled token is a decode step.
// With opt.NoAdapters the LoRA adapters are skipped (the base model); dropout never
// applies. On an error (bad id, cache full) the cache is unchanged.
func (m *Model) Extend(c *KVCache, ids []int32, opt ForwardOptions, logits []float32) error {
	a := &m.arch
	n := len(ids)
	switch {
	case c == nil || c.arch.Hidden != a.Hidden || len(c.k) != a.Layers:
		return fmt.Errorf("model: Extend with a KV cache made by another model")
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
	rmax := 0
	if m.lora != nil {
		rmax = m.lora.MaxRank()
	}
	c.grow(n, rmax)
	useLoRA := m.lora != nil && !opt.NoAdapters
	be := m.be
	C, F, QD, KD, HD := a.Hidden, a.FFN, a.qDim(), a.kvDim(), a.HeadDim
	p0 := c.n
	pos := c.pos[:n]
	for i := range pos {
		pos[i] = int32(p0 + i)
	}
	x, h := c.x[:n*C], c.h[:n*C]
	be.EmbeddingForward(x, ids, m.embed, n, C, a.Vocab)
	for l := range m.layers {
		L := &m.layers[l]
		be.RMSNormForward(h, c.rstd[:n], x, L.ln1, n, C, a.Eps)
		q, k := c.q[:n*QD], c.kr[:n*KD]
		if a.QKNorm {
			q, k = c.qr[:n*QD], c.kn[:n*KD]
		}
		m.inferLinear(&L.q, q, h, n, false, useLoRA, c.u)
		m.inferLinear(&L.k, k, h, n, false, useLoRA, c.u)
		// values go straight into the cache; keys after RoPE
		kc := c.k[l][p0*KD : (p0+n)*KD]
		vc := c.v[l][p0*KD : (p0+n)*KD]
		m.inferLinear(&L.v, vc, h, n, false, useLoRA, c.u)
		if a.QKNorm {
			be.RMSNormForward(c.q[:n*QD], c.rq[:n*a.Heads], q, L.qnorm, n*a.Heads, HD, a.Eps)
			be.RMSNormForward(c.kr[:n*KD], c.rk[:n*a.KVHeads], k, L.knorm, n*a.KVHeads, HD, a.Eps)
			q, k = c.q[:n*QD], c.kr[:n*KD]
		}
		be.RoPEForward(q, pos, m.cos, m.sin, n, a.Heads, HD)
		be.RoPEForward(k, pos, m.cos, m.sin, n, a.KVHeads, HD)
		be.Sync()
		copy(kc, k)
		c.attend(l, q, p0, n, a.window(l))
		// x += o_proj(att)
		m.inferLinear(&L.o, x, c.att[:n*QD], n, true, useLoRA, c.u)
		be.RMSNormForward(h, c.rstd[:n], x, L.ln2, n, C, a.Eps)
		m.inferLinear(&L.gate, c.gate[:n*F], h, n, false, useLoRA, c.u)
		m.inferLinear(&L.up, c.up[:n*F], h, n, false, useLoRA, c.u)
		be.SwiGLUForward(c.act[:n*F], c.gate[:n*F], c.up[:n*F], n*F)
		m.inferLinear(&L.down, x, c.act[:n*F], n, true, useLoRA, c.u)
	}
	// final norm and LM head on the last token only
	last := x[(n-1)*C : n*C]
	be.RMSNormForward(h[:C], c.rstd[:1], last, m.normW, 1, C, a.Eps)
	be.LinearForward(logits[:a.Vocab], h[:C], m.head, nil, 1, C, a.Vocab, 1, false)
	be.Sync()
	c.n += n
	return nil
}

// inferLinear: out[N,out] (= or +=) x[N,in]·Wᵀ + b, plus scale·B·A·x when the module has
// an adapter and adapters are on (no dropout: inference). u is [N,r] scratch.
func (m *Model) inferLinear(li *linear, out, x []float32, n int, accumulate, useLoRA bool, u []float32) {
	m.be.LinearForward(out[:n*li.out], x[:n*li.in], li.w, li.b, n, li.in, li.out, 1, accumulate)
	if !useLoRA || li.lora == nil {
		return
	}
	r := li.lora.r
	m.be.LinearForward(u[:n*r], x[:n*li.in], li.lora.a, nil, n, li.in, r, 1, false)
	m.be.LinearForward(out[:n*li.out], u[:n*r], li.lora.b, nil, n, r, li.out, li.lora.scale, true)
}

// attend computes c.att[N,NH·HD] for the n new queries q[N,NH·HD] at positions
// p0…p0+n−1 against the cached keys and values of layer l (which already include
// the new tokens): causal, with the sliding window (key j visible from query i iff
// j ≤ i and j > i − window) when window > 0. Scores and sums are float64 per query.
func (c *KVCache) attend(l int, q []float32, p0, n, window int) {
	a := &c.arch
	HD, NH := a.HeadDim, a.Heads
	KD := a.kvDim()
	group := NH / a.KVHeads
	scale := 1 / math.Sqrt(float64(HD))
	K, V := c.k[l], c.v[l]
	for i := 0; i < n; i++ {
		pi := p0 + i
		j0 := 0
		if window > 0 {
			j0 = max(0, pi-window+1)
		}
		for hh := 0; hh < NH; hh++ {
			qv := q[i*NH*HD+hh*HD : i*NH*HD+(hh+1)*HD]
			off := (hh / group) * HD
			s := c.score[:pi+1]
			mx := math.Inf(-1)
			for j := j0; j <= pi; j++ {
				kv := K[j*KD+off : j*KD+off+HD]
				var d float32
				for t, x := range qv {
					d += x * kv[t]
				}
				v := float64(d) * scale
				s[j] = float32(v)
				mx = max(mx, v)
			}
			var sum float64
			for j := j0; j <= pi; j++ {
				e := math.Exp(float64(s[j]) - mx)
				s[j] = float32(e)
				sum += e
			}
			out := c.att[i*NH*HD+hh*HD : i*NH*HD+(hh+1)*HD]
			clear(out)
			inv := float32(1 / sum)
			for j := j0; j <= pi; j++ {
				w := s[j] * inv
				vv := V[j*KD+off : j*KD+off+HD]
				for t := range out {
					out[t] += w * vv[t]
				}
			}
		}
	}
}
