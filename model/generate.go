package model

import (
	"errors"

	"fmt"
	"github.com/preftune/preftune/kernels"
	"math"
	"math/rand/v2"
	"slices"
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	MaxNewTokens int     // tokens to generate at most (> 0)
	Temperature  float64 // 0: greedy (argmax); > 0: sample from softmax(logits/T)
	TopP         float64 // nucleus sampling: keep the most likely tokens up to this mass; 0 or ≥ 1: off
	Seed         uint64  // sampling stream (PCG); the same seed gives the same tokens
	// StopIDs end generation when one of them is generated (it is kept in the output),
	// typically the tokenizer's EOS.
	StopIDs []int32
	// NoAdapters generates with the base model (LoRA adapters off): the DPO reference.
	NoAdapters bool
	// KeepLogits records the logits each generated token was chosen from.
	KeepLogits bool
	// FirstRow is the index of the first prompt in the whole input (GenerateBatch):
	// prompt i samples from the stream of row FirstRow+i.
	FirstRow int
	// Rows, when set, is the row index of each prompt (GenerateBatch): prompt i samples
	// from the stream of row Rows[i] (batches of rows taken out of order).
	Rows []int
	// RowMaxNewTokens, when set, caps each prompt's new tokens further (0 or above
	// MaxNewTokens: MaxNewTokens), e.g. at the end of the model's context.
	RowMaxNewTokens []int
}

// Generation is what Generate returns.
type Generation struct {
	IDs     []int32     // generated tokens (the stop token included when one was hit)
	Stopped bool        // generation ended on a stop token, not on MaxNewTokens
	Logits  [][]float32 // [len(IDs)][V] with KeepLogits

	done bool // generation of this row has ended
}

// Generate continues prompt token by token with a KV cache: one prefill over the
// prompt, then one incremental step per new token. With Temperature 0 it picks the
// most likely token (the lowest id on a tie); otherwise it samples from the softmax
// of logits/Temperature restricted to the top-p nucleus, as transformers'
// TemperatureLogitsWarper and TopPLogitsWarper do (kernels.SampleRow). cache may be
// nil (a cache sized for the prompt plus MaxNewTokens is made) or a one-row cache of
// this model to reuse; it is reset first. It is GenerateBatch of one row: the
// sampling stream is row FirstRow's.
func (m *Model) Generate(prompt []int32, opt GenerateOptions, cache *KVCache) (*Generation, error) {
	gs, err := m.generate([][]int32{prompt}, opt, cache)
	if err != nil {
		return nil, err
	}
	return gs[0], nil
}

// GenerateBatch is Generate over several prompts at once: the rows are left-padded to
// the longest prompt and decoded in lockstep through one batched KV cache (one
// forward per step for all rows), each row stopping at a stop id or MaxNewTokens. Row
// i samples from its own stream, derived from (Seed, FirstRow+i), so a row's tokens
// do not depend on which other rows share its batch or on the batch size.
func (m *Model) GenerateBatch(prompts [][]int32, opt GenerateOptions) ([]*Generation, error) {
	return m.generate(prompts, opt, nil)
}

func (m *Model) generate(prompts [][]int32, opt GenerateOptions, cache *KVCache) ([]*Generation, error) {
	a := &m.arch
	switch {
	case len(prompts) == 0:
		return nil, errors.New("model: Generate needs a non-empty prompt")
	case opt.MaxNewTokens <= 0:
		return nil, fmt.Errorf("model: max new tokens %d must be positive", opt.MaxNewTokens)
	case opt.Temperature < 0 || math.IsNaN(opt.Temperature) || math.IsInf(opt.Temperature, 0):
		return nil, fmt.Errorf("model: temperature %v must be finite and ≥ 0", opt.Temperature)
	case opt.TopP < 0 || math.IsNaN(opt.TopP):
		return nil, fmt.Errorf("model: top-p %v must be in (0,1]", opt.TopP)
	}
	B := len(prompts)
	switch {
	case opt.Rows != nil && len(opt.Rows) != B:
		return nil, fmt.Errorf("model: %d row indices for %d prompts", len(opt.Rows), B)
	case opt.RowMaxNewTokens != nil && len(opt.RowMaxNewTokens) != B:
		return nil, fmt.Errorf("model: %d per-row token limits for %d prompts", len(opt.RowMaxNewTokens), B)
	}
	limit := make([]int, B)
	for b := range limit {
		limit[b] = opt.MaxNewTokens
		if opt.RowMaxNewTokens != nil && opt.RowMaxNewTokens[b] > 0 {
			limit[b] = min(limit[b], opt.RowMaxNewTokens[b])
		}
	}
	which := func(b int) string {
		if B == 1 {
			return ""
		}
		return fmt.Sprintf("prompt %d: ", b)
	}
	tmax := 0
	for b, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("model: %sGenerate needs a non-empty prompt", which(b))
		}
		for i, id := range p {
			if id < 0 || int(id) >= a.Vocab {
				return nil, fmt.Errorf("model: %stoken %d = %d is outside the vocabulary [0,%d)", which(b), i, id, a.Vocab)
			}
		}
		// the last generated token is never fed back: len+MaxNewTokens−1 positions
		if need := len(p) + limit[b] - 1; need > a.MaxPos {
			return nil, fmt.Errorf("model: %sprompt (%d tokens) plus %d new tokens exceeds max_position_embeddings %d",
				which(b), len(p), limit[b], a.MaxPos)
		}
		tmax = max(tmax, len(p))
	}
	steps := tmax + opt.MaxNewTokens - 1
	if cache == nil {
		cache = m.NewBatchKVCache(B, steps)
		defer cache.Close()
	}
	switch {
	case cache.m != m:
		return nil, errors.New("model: Generate with a KV cache made by another model")
	case cache.rows != B:
		return nil, fmt.Errorf("model: KV cache has %d rows, generation %d", cache.rows, B)
	case cache.cap < steps:
		return nil, fmt.Errorf("model: KV cache holds %d tokens, generation needs %d", cache.cap, steps)
	}
	V := a.Vocab
	fo := ForwardOptions{NoAdapters: opt.NoAdapters, Eval: true}
	rows := make([]*rowSampler, B)
	for b := range rows {
		row := opt.FirstRow + b
		if opt.Rows != nil {
			row = opt.Rows[b]
		}
		rows[b] = newRowSampler(opt, uint64(row), V, cache.sample == nil)
	}
	gens := make([]*Generation, B)
	for b := range gens {
		gens[b] = &Generation{}
	}
	m.prefill(cache, prompts, fo)
	feed := make([]int32, B)
	active := B
	for {
		ids, err := m.pickTokens(cache, rows, gens, opt)
		if err != nil {
			return nil, err
		}
		for b, g := range gens {
			if g.done {
				continue
			}
			if opt.KeepLogits {
				g.Logits = append(g.Logits, slices.Clone(cache.logits[b*V:(b+1)*V]))
			}
			id := ids[b]
			g.IDs = append(g.IDs, id)
			feed[b] = id
			switch {
			case slices.Contains(opt.StopIDs, id):
				g.Stopped, g.done = true, true
			case len(g.IDs) == limit[b]:
				g.done = true
			}
			if g.done {
				active--
			}
		}
		if active == 0 {
			return gens, nil
		}
		m.step(cache, feed, fo)
	}
}

// pickTokens chooses every active row's next token from cache.logits: on the backend
// (kernels.TokenSampler) when it has a sampler, else on the host with the same
// kernels.SampleRow; each active row draws one uniform number from its own stream.
func (m *Model) pickTokens(c *KVCache, rows []*rowSampler, gens []*Generation, opt GenerateOptions) ([]int32, error) {
	be := m.be
	B, V := c.rows, m.arch.Vocab
	if opt.Temperature > 0 {
		for b, r := range rows {
			c.huni[b] = 0
			if !gens[b].done {
				c.huni[b] = kernels.Unit32(r.rng.Float64())
			}
		}
	}
	if c.sample != nil {
		if opt.Temperature > 0 {
			be.Upload(c.uni, c.huni)
		}
		c.sample.SampleTokens(c.next, c.logits, c.uni, B, V, opt.Temperature, opt.TopP)
	}
	if err := be.Sync(); err != nil {
		return nil, fmt.Errorf("model: generate: %w", err)
	}
	if c.sample != nil {
		copy(c.hnext, c.next) // B ids, read after Sync
		return c.hnext, nil
	}
	for b, r := range rows {
		if !gens[b].done {
			c.hnext[b] = kernels.SampleRow(c.logits[b*V:(b+1)*V], opt.Temperature, opt.TopP, float64(c.huni[b]), r.probs, r.order)
		}
	}
	return c.hnext, nil
}

// rowSampler is one row's sampling stream (and host scratch when the backend has no
// sampler).
type rowSampler struct {
	rng   *rand.Rand
	probs []float64
	order []int32
}

// streamKey is the second PCG seed of row r's stream: row 0 keeps the stream a
// single Generate always used, and rows are a large odd constant apart, which puts
// their PCG states at unrelated points of its period.
func streamKey(r uint64) uint64 { return 0x67656e65726174 + r*0x9E3779B97F4A7C15 }

func newRowSampler(opt GenerateOptions, row uint64, v int, host bool) *rowSampler {
	r := &rowSampler{rng: rand.New(rand.NewPCG(opt.Seed, streamKey(row)))}
	if host && opt.Temperature > 0 {
		r.probs, r.order = make([]float64, v), make([]int32, v)
	}
	return r
}

// NextTokenLogits runs the whole sequence ids through Forward (no cache: every
// position is recomputed) and writes the logits at its last position to dst ([V]).
// It is the slow path Generate's cache is checked against.
func (m *Model) NextTokenLogits(ids []int32, opt ForwardOptions, dst []float32) error {
	V := m.arch.Vocab
	if len(dst) < V {
		return fmt.Errorf("model: logits buffer has %d entries, vocabulary is %d", len(dst), V)
	}
	n := len(ids)
	if n == 0 {
		return errors.New("model: NextTokenLogits needs at least one token")
	}
	b := &Batch{B: 1, T: n, IDs: slices.Clone(ids), Positions: make([]int32, n), Segments: make([]int32, n), Labels: make([]int32, n)}
	for i := range b.Labels {
		b.Positions[i] = int32(i)
		b.Labels[i] = Ignore
	}
	b.Labels[n-1] = 0 // only the last position goes through the LM head
	opt.Eval = true
	if _, err := m.Forward(b, opt); err != nil {
		return err
	}
	copy(dst[:V], m.acts.logits[:V])
	return nil
}

// sampler picks the next token from logits on the host: row 0's stream (FirstRow)
// and kernels.SampleRow, as Generate does.
type sampler struct {
	opt GenerateOptions
	row *rowSampler
}

func newSampler(opt GenerateOptions, v int) *sampler {
	return &sampler{opt: opt, row: newRowSampler(opt, uint64(opt.FirstRow), v, true)}
}

// Argmax is the index of the largest value (the first one on a tie).
func Argmax(x []float32) int32 { return kernels.Argmax(x) }

func (s *sampler) pick(logits []float32) int32 {
	var u float64
	if s.opt.Temperature > 0 {
		u = float64(kernels.Unit32(s.row.rng.Float64()))
	}
	return kernels.SampleRow(logits, s.opt.Temperature, s.opt.TopP, u, s.row.probs, s.row.order)
}
