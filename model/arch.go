package model

import (
	"fmt"

	"github.com/preftune/preftune/kernels"
)

// Arch is what the forward pass needs to know about a checkpoint, read from its
// config.json (see FromConfig). Every supported architecture is the same pre-norm
// decoder; the differences are flags.
type Arch struct {
	ModelType   string // "llama", "qwen2", "qwen3", "mistral"
	Vocab       int
	Hidden      int // C
	Layers      int
	Heads       int // NH
	KVHeads     int // NKV; NH must be a multiple
	HeadDim     int // HD; may differ from Hidden/Heads (Qwen3)
	FFN         int // F (intermediate_size)
	MaxPos      int // max_position_embeddings: positions must be < MaxPos
	Eps         float32
	RopeTheta   float64
	RopeScaling *kernels.RopeScaling // nil: none
	Tied        bool                 // lm_head shares model.embed_tokens.weight
	QKVBias     bool                 // q/k/v projections have biases (Qwen2; attention_bias)
	OBias       bool                 // o_proj has a bias (Llama attention_bias)
	MLPBias     bool                 // gate/up/down projections have biases (Llama mlp_bias)
	QKNorm      bool                 // Qwen3: RMSNorm over HD on q and k, before RoPE
	// Windows[l] > 0 is layer l's sliding window: a query sees keys k with q-k < window
	// (transformers' masking_utils convention); nil or 0 is full causal attention.
	Windows []int
}

// window is the sliding window of layer l (0 = full causal attention).
func (a *Arch) window(l int) int {
	if l < len(a.Windows) {
		return a.Windows[l]
	}
	return 0
}

func (a *Arch) qDim() int  { return a.Heads * a.HeadDim }
func (a *Arch) kvDim() int { return a.KVHeads * a.HeadDim }

// Validate checks the sizes are usable.
func (a *Arch) Validate() error {
	switch {
	case a.Vocab <= 0, a.Hidden <= 0, a.Layers <= 0, a.Heads <= 0, a.KVHeads <= 0, a.HeadDim <= 0, a.FFN <= 0:
		return fmt.Errorf("model: sizes must be positive: %+v", *a)
	case a.Heads%a.KVHeads != 0:
		return fmt.Errorf("model: num_attention_heads %d is not a multiple of num_key_value_heads %d", a.Heads, a.KVHeads)
	case a.HeadDim%2 != 0:
		return fmt.Errorf("model: head_dim %d must be even for RoPE", a.HeadDim)
	case a.MaxPos <= 0:
		return fmt.Errorf("model: max_position_embeddings %d must be positive", a.MaxPos)
	case !(a.Eps > 0):
		return fmt.Errorf("model: rms_norm_eps %v must be positive", a.Eps)
	case len(a.Windows) > 0 && len(a.Windows) != a.Layers:
		return fmt.Errorf("model: %d sliding windows for %d layers", len(a.Windows), a.Layers)
	}
	for l, w := range a.Windows {
		if w < 0 {
			return fmt.Errorf("model: layer %d: sliding window %d must not be negative", l, w)
		}
	}
	return nil
}
