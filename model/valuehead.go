package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
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
	Weight []float32 // score.weight [1, Hidden]
	Grad   []float32 // its gradient
}

// ValueHeadName is the head's tensor name in a transformers checkpoint.
const ValueHeadName = "score.weight"

// NewValueHead returns a head initialised as transformers' _init_weights does for a
// freshly added score layer: normal(0, std) (std = initializer_range, 0.02 by default),
// here from a seeded PCG stream.
func NewValueHead(hidden int, std float64, seed uint64) *ValueHead {
	v := &ValueHead{Hidden: hidden, Weight: make([]float32, hidden), Grad: make([]float32, hidden)}
	r := rand.New(rand.NewPCG(seed, 0x73636f7265))
	for i := range v.Weight {
		v.Weight[i] = float32(r.NormFloat64() * std)
	}
	return v
}

// Tensors returns the head as a trainable tensor named score.weight.
func (v *ValueHead) Tensors() []Tensor {
	return []Tensor{{Name: ValueHeadName, Shape: []int{1, v.Hidden}, Data: v.Weight, Grad: v.Grad}}
}

// Forward writes scores[i] = h[i]·w for the rows of h ([len(scores), Hidden]),
// accumulating in float64.
func (v *ValueHead) Forward(scores, h []float32) {
	C := v.Hidden
	for i := range scores {
		var s float64
		for j, x := range h[i*C : (i+1)*C] {
			s += float64(x) * float64(v.Weight[j])
		}
		scores[i] = float32(s)
	}
}

// Backward takes d(loss)/d(scores) and writes dh[i] = dscores[i]·w (the gradient of
// the hidden rows, for Model.BackwardHidden) and accumulates Grad += Σ dscores[i]·h[i].
func (v *ValueHead) Backward(dh, dscores, h []float32) {
	C := v.Hidden
	for i, d := range dscores {
		row := h[i*C : (i+1)*C]
		out := dh[i*C : (i+1)*C]
		for j, x := range row {
			out[j] = d * v.Weight[j]
			v.Grad[j] += d * x
		}
	}
}

// FinalHidden returns the final-norm hidden states at the latest Forward's loss rows
// ([M, Hidden]: the positions with Labels ≥ 0 in row-major order, or the Targets in
// order), the input of the LM head and of a ValueHead. The slice is the model's and is
// valid until the next Forward or Backward.
func (m *Model) FinalHidden() ([]float32, error) {
	if !m.last.ok {
		return nil, errors.New("model: FinalHidden without a Forward")
	}
	m.be.Sync()
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
	for _, x := range dh {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return errors.New("model: BackwardHidden got a non-finite gradient")
		}
	}
	clear(m.acts.dlogp[:lf.m])
	m.hiddenGrad = dh
	m.backward()
	m.hiddenGrad = nil
	return nil
}
