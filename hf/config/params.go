package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Param is one trainable tensor of the model as Hugging Face names it.
type Param struct {
	Name  string
	Shape []int // PyTorch layout: Linear weights are [out, in]
}

// Parameters lists the model's tensors in transformers' named_parameters() order:
// embeddings; per layer attention (q, k, v, o projections, biases after their weight,
// Qwen3's q_norm/k_norm), MLP (gate, up, down), the two norms; final norm; lm_head unless
// tied.
func (c *Config) Parameters() []Param {
	H, I, V, D := c.HiddenSize, c.IntermediateSize, c.VocabSize, c.HeadDim
	ps := []Param{{"model.embed_tokens.weight", []int{V, H}}}
	linear := func(name string, out, in int, bias bool) {
		ps = append(ps, Param{name + ".weight", []int{out, in}})
		if bias {
			ps = append(ps, Param{name + ".bias", []int{out}})
		}
	}
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		linear(p+"self_attn.q_proj", c.QDim(), H, c.QKVBias)
		linear(p+"self_attn.k_proj", c.KVDim(), H, c.QKVBias)
		linear(p+"self_attn.v_proj", c.KVDim(), H, c.QKVBias)
		linear(p+"self_attn.o_proj", H, c.QDim(), c.OProjBias)
		if c.QKNorm {
			ps = append(ps, Param{p + "self_attn.q_norm.weight", []int{D}}, Param{p + "self_attn.k_norm.weight", []int{D}})
		}
		linear(p+"mlp.gate_proj", I, H, c.MLPBias)
		linear(p+"mlp.up_proj", I, H, c.MLPBias)
		linear(p+"mlp.down_proj", H, I, c.MLPBias)
		ps = append(ps, Param{p + "input_layernorm.weight", []int{H}}, Param{p + "post_attention_layernorm.weight", []int{H}})
	}
	ps = append(ps, Param{"model.norm.weight", []int{H}})
	if !c.TieWordEmbeddings {
		ps = append(ps, Param{"lm_head.weight", []int{V, H}})
	}
	return ps
}

// ParameterCount is the number of distinct trainable values (a tied head counts once),
// the figure model cards and num_parameters() report.
func (c *Config) ParameterCount() int64 {
	var n int64
	for _, p := range c.Parameters() {
		e := int64(1)
		for _, d := range p.Shape {
			e *= int64(d)
		}
		n += e
	}
	return n
}

// ShapeMismatch is a tensor present under the expected name with the wrong shape.
type ShapeMismatch struct {
	Name      string
	Got, Want []int
}

// MismatchError lists every difference between a config's expected tensors and the
// tensors of a checkpoint.
type MismatchError struct {
	Missing    []string // expected, absent (in parameter order)
	Unexpected []string // present, not expected (sorted)
	Shapes     []ShapeMismatch
}

func (e *MismatchError) Error() string {
	var parts []string
	if n := len(e.Missing); n > 0 {
		parts = append(parts, fmt.Sprintf("%d missing: %s", n, strings.Join(e.Missing, ", ")))
	}
	if n := len(e.Unexpected); n > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected: %s", n, strings.Join(e.Unexpected, ", ")))
	}
	if n := len(e.Shapes); n > 0 {
		var s []string
		for _, m := range e.Shapes {
			s = append(s, fmt.Sprintf("%s is %v, config wants %v", m.Name, m.Got, m.Want))
		}
		parts = append(parts, fmt.Sprintf("%d with the wrong shape: %s", n, strings.Join(s, "; ")))
	}
	return "weights do not match config.json: " + strings.Join(parts, "; ")
}

// ignoredTensor reports checkpoint entries that are not parameters: rotary inverse
// frequencies some exporters save as buffers.
func ignoredTensor(name string) bool {
	return strings.HasSuffix(name, "rotary_emb.inv_freq")
}

// CheckTensors compares the tensors of a checkpoint (name -> shape, e.g. from
// safetensors Model.Shapes) with Parameters and returns a *MismatchError listing every
// missing, unexpected and wrongly shaped tensor at once, or nil. A tied model may still
// carry lm_head.weight (some exporters write it); it is accepted if its shape is right.
func (c *Config) CheckTensors(shapes map[string][]int) error {
	e := &MismatchError{}
	expected := map[string]bool{}
	for _, p := range c.Parameters() {
		expected[p.Name] = true
		got, ok := shapes[p.Name]
		if !ok {
			e.Missing = append(e.Missing, p.Name)
			continue
		}
		if !sameShape(got, p.Shape) {
			e.Shapes = append(e.Shapes, ShapeMismatch{p.Name, got, p.Shape})
		}
	}
	for name, got := range shapes {
		switch {
		case expected[name], ignoredTensor(name):
		case name == "lm_head.weight" && c.TieWordEmbeddings:
			if want := []int{c.VocabSize, c.HiddenSize}; !sameShape(got, want) {
				e.Shapes = append(e.Shapes, ShapeMismatch{name, got, want})
			}
		default:
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Shapes) == 0 {
		return nil
	}
	sort.Strings(e.Unexpected)
	sort.Slice(e.Shapes, func(i, j int) bool { return e.Shapes[i].Name < e.Shapes[j].Name })
	return e
}

func sameShape(a, b []int) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }
