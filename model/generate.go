package model

import (
	"errors"
	"fmt"
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
}

// Generation is what Generate returns.
type Generation struct {
	IDs     []int32     // generated tokens (the stop token included when one was hit)
	Stopped bool        // generation ended on a stop token, not on MaxNewTokens
	Logits  [][]float32 // [len(IDs)][V] with KeepLogits
}

// Generate continues prompt token by token with a KV cache: one prefill over the
// prompt, then one incremental step per new token. With Temperature 0 it picks the
// most likely token (the lowest id on a tie); otherwise it samples from the softmax
// of logits/Temperature restricted to the top-p nucleus, as transformers'
// TemperatureLogitsWarper and TopPLogitsWarper do. cache may be nil (a cache sized
// for the prompt plus MaxNewTokens is made) or a cache of this model to reuse; it is
// reset first.
func (m *Model) Generate(prompt []int32, opt GenerateOptions, cache *KVCache) (*Generation, error) {
	switch {
	case len(prompt) == 0:
		return nil, errors.New("model: Generate needs a non-empty prompt")
	case opt.MaxNewTokens <= 0:
		return nil, fmt.Errorf("model: max new tokens %d must be positive", opt.MaxNewTokens)
	case opt.Temperature < 0 || math.IsNaN(opt.Temperature) || math.IsInf(opt.Temperature, 0):
		return nil, fmt.Errorf("model: temperature %v must be finite and ≥ 0", opt.Temperature)
	case opt.TopP < 0 || math.IsNaN(opt.TopP):
		return nil, fmt.Errorf("model: top-p %v must be in (0,1]", opt.TopP)
	}
	total := len(prompt) + opt.MaxNewTokens
	// the last generated token is never fed back, so total−1 positions are needed
	if need := total - 1; need > m.arch.MaxPos {
		return nil, fmt.Errorf("model: prompt (%d tokens) plus %d new tokens exceeds max_position_embeddings %d",
			len(prompt), opt.MaxNewTokens, m.arch.MaxPos)
	}
	if cache == nil {
		cache = m.NewKVCache(total - 1)
	}
	cache.Reset()
	if cache.Cap() < total-1 {
		return nil, fmt.Errorf("model: KV cache holds %d tokens, generation needs %d", cache.Cap(), total-1)
	}
	V := m.arch.Vocab
	logits := make([]float32, V)
	fo := ForwardOptions{NoAdapters: opt.NoAdapters, Eval: true}
	if err := m.Extend(cache, prompt, fo, logits); err != nil {
		return nil, err
	}
	s := newSampler(opt, V)
	g := &Generation{}
	for step := 0; ; step++ {
		if opt.KeepLogits {
			g.Logits = append(g.Logits, slices.Clone(logits))
		}
		id := s.pick(logits)
		g.IDs = append(g.IDs, id)
		if slices.Contains(opt.StopIDs, id) {
			g.Stopped = true
			return g, nil
		}
		if len(g.IDs) == opt.MaxNewTokens {
			return g, nil
		}
		if err := m.Extend(cache, []int32{id}, fo, logits); err != nil {
			return nil, err
		}
	}
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

// sampler picks the next token from logits.
type sampler struct {
	temp, topP float64
	rng        *rand.Rand
	probs      []float64
	order      []int32
}

func newSampler(opt GenerateOptions, v int) *sampler {
	s := &sampler{temp: opt.Temperature, topP: opt.TopP}
	if s.temp > 0 {
		s.rng = rand.New(rand.NewPCG(opt.Seed, 0x67656e65726174))
		s.probs = make([]float64, v)
		s.order = make([]int32, v)
	}
	return s
}

// Argmax is the index of the largest value (the first one on a tie).
func Argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

func (s *sampler) pick(logits []float32) int32 {
	if s.temp == 0 {
		return Argmax(logits)
	}
	// softmax(logits/T) in float64
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = max(mx, float64(l))
	}
	var sum float64
	for i, l := range logits {
		e := math.Exp((float64(l) - mx) / s.temp)
		s.probs[i] = e
		sum += e
	}
	for i := range s.probs {
		s.probs[i] /= sum
		s.order[i] = int32(i)
	}
	order := s.order
	if s.topP <= 0 || s.topP >= 1 {
		return s.draw(order)
	}
	// candidates in decreasing probability (ties: lower id first), cut to the nucleus
	slices.SortStableFunc(order, func(a, b int32) int {
		switch pa, pb := s.probs[a], s.probs[b]; {
		case pa > pb:
			return -1
		case pa < pb:
			return 1
		}
		return 0
	})
	var cum float64
	for k, id := range order {
		cum += s.probs[id]
		if cum >= s.topP {
			order = order[:k+1]
			break
		}
	}
	return s.draw(order)
}

// draw samples one of the candidates in proportion to its probability.
func (s *sampler) draw(order []int32) int32 {
	var mass float64
	for _, id := range order {
		mass += s.probs[id]
	}
	u := s.rng.Float64() * mass
	for _, id := range order {
		u -= s.probs[id]
		if u < 0 {
			return id
		}
	}
	return order[len(order)-1]
}
