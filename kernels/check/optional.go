package check

import "github.com/preftune/preftune/kernels"

// The value Wrap returns is a struct embedding *Backend and one "part" per optional
// interface the inner implements; each part forwards its methods (checked) to the
// inner. One struct type per subset of the four interfaces, chosen by a bit mask.

func (b *Backend) checker() *Backend { return b }

const (
	hasShared = 1 << iota
	hasFused
	hasCached
	hasSample
)

func wrap(b *Backend) kernels.Backend {
	mask := 0
	if b.shared != nil {
		mask |= hasShared
	}
	if b.fused != nil {
		mask |= hasFused
	}
	if b.cached != nil {
		mask |= hasCached
	}
	if b.sample != nil {
		mask |= hasSample
	}
	sp, fp, cp, pp := sharedPart{b}, fusedPart{b}, cachedPart{b}, samplePart{b}
	switch mask {
	case hasShared:
		return &struct {
			*Backend
			sharedPart
		}{b, sp}
	case hasFused:
		return &struct {
			*Backend
			fusedPart
		}{b, fp}
	case hasShared | hasFused:
		return &struct {
			*Backend
			sharedPart
			fusedPart
		}{b, sp, fp}
	case hasCached:
		return &struct {
			*Backend
			cachedPart
		}{b, cp}
	case hasCached | hasShared:
		return &struct {
			*Backend
			sharedPart
			cachedPart
		}{b, sp, cp}
	case hasCached | hasFused:
		return &struct {
			*Backend
			fusedPart
			cachedPart
		}{b, fp, cp}
	case hasCached | hasShared | hasFused:
		return &struct {
			*Backend
			sharedPart
			fusedPart
			cachedPart
		}{b, sp, fp, cp}
	case hasSample:
		return &struct {
			*Backend
			samplePart
		}{b, pp}
	case hasSample | hasShared:
		return &struct {
			*Backend
			sharedPart
			samplePart
		}{b, sp, pp}
	case hasSample | hasFused:
		return &struct {
			*Backend
			fusedPart
			samplePart
		}{b, fp, pp}
	case hasSample | hasShared | hasFused:
		return &struct {
			*Backend
			sharedPart
			fusedPart
			samplePart
		}{b, sp, fp, pp}
	case hasSample | hasCached:
		return &struct {
			*Backend
			cachedPart
			samplePart
		}{b, cp, pp}
	case hasSample | hasCached | hasShared:
		return &struct {
			*Backend
			sharedPart
			cachedPart
			samplePart
		}{b, sp, cp, pp}
	case hasSample | hasCached | hasFused:
		return &struct {
			*Backend
			fusedPart
			cachedPart
			samplePart
		}{b, fp, cp, pp}
	case hasSample | hasCached | hasShared | hasFused:
		return &struct {
			*Backend
			sharedPart
			fusedPart
			cachedPart
			samplePart
		}{b, sp, fp, cp, pp}
	}
	return b
}

type sharedPart struct{ c *Backend }

func (p sharedPart) AttentionForwardShared(out, lse, q, k, v []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
	p.c.attentionForwardShared(out, lse, q, k, v, seg, parent, b, t, nh, nkv, hd, window)
}

func (p sharedPart) AttentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
	p.c.attentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse, seg, parent, b, t, nh, nkv, hd, window)
}

type fusedPart struct{ c *Backend }

func (p fusedPart) SwiGLUForwardFused(out, gu []float32, n, f int) {
	p.c.swiGLUForwardFused(out, gu, n, f)
}

func (p fusedPart) SwiGLUBackwardFused(dgu, dout, gu []float32, n, f int) {
	p.c.swiGLUBackwardFused(dgu, dout, gu, n, f)
}

type cachedPart struct{ c *Backend }

func (p cachedPart) AttentionForwardCached(out, q, k, v []float32, start []int32, t0, t, b, nh, nkv, hd, window int) {
	const op = "AttentionForwardCached"
	c := p.c
	c.count(op)
	c.f(op, "out", out, must)
	c.f(op, "q", q, must)
	c.f(op, "k", k, must)
	c.f(op, "v", v, must)
	c.i(op, "start", start, must)
	c.cached.AttentionForwardCached(out, q, k, v, start, t0, t, b, nh, nkv, hd, window)
}

type samplePart struct{ c *Backend }

func (p samplePart) SampleTokens(ids []int32, logits, u []float32, b, v int, temperature, topP float64) {
	const op = "SampleTokens"
	c := p.c
	c.count(op)
	c.i(op, "ids", ids, must)
	c.f(op, "logits", logits, must)
	c.f(op, "u", u, temperature == 0)
	c.sample.SampleTokens(ids, logits, u, b, v, temperature, topP)
}
