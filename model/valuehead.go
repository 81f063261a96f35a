package model

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/preftune/preftune/kernels"
)

// ValueHead is a sequence-classification head with one label, as transformers'
// LlamaForSequenceClassification / Qwen2ForSequenceClassification build it for a
// reward model: score = nn.Linear(hidden, 1, bias=False) applied to the final-norm
// hidden state; a sequence's reward is the score at its last non-padding token.
// The head lives outside the decoder: run Forward on a batch whose only loss rows
// (Labels ≥ 0) are the last tokens, read FinalHidden, score it here, and take the
// gradient back through Backward and Model.BackwardHidden.
type ValueHead struct {
	Hidden int
	Weight []float32 // score.weight [1, Hidden] (backend memory)
	Grad   []float32 // its gradient

	be          kernels.Backend
	scores, dsc []float32 // [M] backend buffers, grown on demand
	dh          []float32 // [M, Hidden] d(loss)/d(FinalHidden)
	hostScores  []float32
}

// ValueHeadName is the head's tensor name in a transformers checkpoint.
const ValueHeadName = "score.weight"

// NewValueHead returns a head on be initialised as transformers' _init_weights does
// for a freshly added score layer: normal(0, std) (std = initializer_range, 0.02 by
// default), here from a seeded PCG stream.
func NewValueHead(be kernels.Backend, hidden int, std float64, seed uint64) *ValueHead {
	v := &ValueHead{Hidden: hidden, be: be, Weight: be.Alloc(hidden), Grad: be.Alloc(hidden)}
	w := make([]float32, hidden)
	r := rand.New(rand.NewPCG(seed, 0x73636f7265))
	for i := range w {
		w[i] = float32(r.NormFloat64() * std)
	}
	be.Upload(v.Weight, w)
	return v
}

// Tensors returns the head as a trainable tensor named score.weight.
func (v *ValueHead) Tensors() []Tensor {
	return []Tensor{{Name: ValueHeadName, Shape: []int{1, v.Hidden}, Data: v.Weight, Grad: v.Grad}}
}

func (v *ValueHead) grow(m int) {
	if len(v.scores) < m {
		if v.scores != nil {
			v.be.Free(v.scores)
			v.be.Free(v.dsc)
			v.be.Free(v.dh)
		}
		v.scores, v.dsc, v.dh = v.be.Alloc(m), v.be.Alloc(m), v.be.Alloc(m*v.Hidden)
		v.hostScores = make([]float32, m)
	}
}

// Forward returns scores[i] = h[i]·w for the rows of h ([M, Hidden], backend memory,
// e.g. Model.FinalHidden); the slice is valid until the next Forward.
func (v *ValueHead) Forward(h []float32) ([]float32, error) {
	m := len(h) / v.Hidden
	v.grow(m)
	v.be.LinearForward(v.scores[:m], h, v.Weight, nil, m, v.Hidden, 1, 1, false)
	if err := v.be.Sync(); err != nil {
		return nil, fmt.Errorf("value head: %w", err)
	}
	copy(v.hostScores[:m], v.scores[:m])
	return v.hostScores[:m], nil
}

// Backward takes d(loss)/d(scores) (host) for the rows h of the latest Forward,
// accumulates Grad += Σ dscores[i]·h[i] and returns dh[i] = dscores[i]·w (backend
// memory), the input of Model.BackwardHidden.
func (v *ValueHead) Backward(dscores, h []float32) []float32 {
	m := len(dscores)
	v.grow(m)
	v.be.Upload(v.dsc[:m], dscores)
	dh := v.dh[:m*v.Hidden]
	v.be.Zero(dh)
	v.be.LinearBackward(dh, v.Grad, nil, v.dsc[:m], h[:m*v.Hidden], v.Weight, m, v.Hidden, 1, 1)
	return dh
}

// FinalHidden returns the final-norm hidden states at the latest Forward's loss rows
// ([M, Hidden]: the positions with Labels ≥ 0 in row-major order, or the Targets in
// order), the input of the LM head and of a ValueHead. The slice is the model's and is
// valid until the next Forward or Backward.
func (m *Model) FinalHidden() ([]float32, error) {
	if !m.last.ok {
		return nil, errors.New("model: FinalHidden without a Forward")
	}
	return m.acts.hc[:m.last.m*m.arch.Hidden], nil
}

// BackwardHidden is Backward for a loss on FinalHidden instead of the log-probs: dh
// ([M, Hidden]) is d(loss)/d(FinalHidden) and the LM head gets no gradient. It
// accumulates the trainable parameters' gradients like Backward.
func (m *Model) BackwardHidden(dh []float32) error {
	if err := m.canBackward(); err != nil {
		return err
	}
	lf := m.last
	if want := lf.m * m.arch.Hidden; len(dh) != want {
		return fmt.Errorf("model: BackwardHidden got %d values for %d rows of %d", len(dh), lf.m, m.arch.Hidden)
	}
	m.be.Zero(m.acts.dlogp[:lf.m])
	m.hiddenGrad = dh
	err := m.backward()
	m.hiddenGrad = nil
	return err
}
