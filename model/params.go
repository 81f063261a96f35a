package model

import (
	"fmt"

	"github.com/preftune/preftune/kernels"
)

// Tensor is one named parameter: a view into the model's flat parameter buffer and,
// when it is trainable, into the flat gradient buffer.
type Tensor struct {
	Name  string // Hugging Face name, or PEFT name for LoRA tensors
	Shape []int
	Data  []float32
	Grad  []float32 // nil when frozen
	// Packed holds a frozen weight kept in compact storage (Options.Storage); Data is nil then.
	Packed *kernels.Packed
}

// Linear module names as in transformers (and as PEFT's target_modules spell them).
var linearNames = [...]string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// linear is one projection y[N,out] = x[N,in]·Wᵀ + b (+ LoRA).
type linear struct {
	path    string // module path, e.g. "model.layers.0.self_attn.q_proj"
	mod     string // "q_proj"
	in, out int
	w, b    []float32       // W [out,in], b [out] (nil: no bias)
	dw, db  []float32       // grads; nil when frozen
	pw      *kernels.Packed // frozen W in compact storage (w nil), or nil
	lora    *adapter        // nil: no adapter on this module
	off     int             // offset of w in the flat parameter (and gradient) buffer
}

// adapter is a LoRA pair on one linear: y += scale·B·A·dropout(x).
type adapter struct {
	r      int       // rank (LoRAConfig.ModuleRank)
	scale  float32   // factor on B·A (LoRAConfig.ModuleScale)
	a, b   []float32 // A [r,in], B [out,r]
	da, db []float32 // grads
	u      []float32 // activation u[N,r] = dropout(x)·Aᵀ, saved for backward
	mask   []float32 // dropout multiplier [N,in] (0 or 1/(1-p)); nil without dropout
}

// layer holds one decoder layer's parameters and saved activations.
type layer struct {
	ln1, ln2, dln1, dln2         []float32 // input_layernorm, post_attention_layernorm [C]
	qnorm, knorm, dqnorm, dknorm []float32 // Qwen3 [HD]
	q, k, v, o, gate, up, down   linear
	acts                         layerActs
	gu, dgu                      []float32       // Options.FuseGateUp: gate_proj and up_proj weights as one [2F,C] (and its grad)
	guP                          *kernels.Packed // the same for packed gate_proj and up_proj
}

func (l *layer) linears() []*linear {
	return []*linear{&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}
}

// carver hands out consecutive slices of one buffer; with buf == nil it only counts.
type carver struct {
	buf []float32
	off int
}

func (c *carver) take(n int) []float32 {
	if n == 0 {
		return nil
	}
	o := c.off
	c.off += n
	if c.buf == nil {
		return nil
	}
	return c.buf[o:c.off:c.off]
}

// layoutParams assigns every base parameter its slice of params (and grads, when
// non-nil), in transformers' named_parameters() order, and returns the tensors. With params nil it only
// counts (the returned total is the buffer size).
func (m *Model) layoutParams(params, grads []float32) (int, []Tensor) {
	a := &m.arch
	pc := &carver{buf: params}
	gc := &carver{buf: grads}
	var ts []Tensor
	add := func(name string, shape ...int) (p, g []float32) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		if m.packNames[name] { // kept packed: no float32 storage, filled by Load
			ts = append(ts, Tensor{Name: name, Shape: shape})
			return nil, nil
		}
		p = pc.take(n)
		if grads != nil {
			g = gc.take(n)
		}
		ts = append(ts, Tensor{Name: name, Shape: shape, Data: p, Grad: g})
		return p, g
	}
	C, F := a.Hidden, a.FFN
	m.embed, m.dembed = add("model.embed_tokens.weight", a.Vocab, C)
	m.layers = make([]layer, a.Layers)
	for i := range m.layers {
		L := &m.layers[i]
		p := fmt.Sprintf("model.layers.%d.", i)
		lin := func(li *linear, path, mod string, in, out int, bias bool) {
			*li = linear{path: path + mod, mod: mod, in: in, out: out, off: pc.off}
			li.w, li.dw = add(li.path+".weight", out, in)
			if bias {
				li.b, li.db = add(li.path+".bias", out)
			}
		}
		sa := p + "self_attn."
		lin(&L.q, sa, "q_proj", C, a.qDim(), a.QKVBias)
		lin(&L.k, sa, "k_proj", C, a.kvDim(), a.QKVBias)
		lin(&L.v, sa, "v_proj", C, a.kvDim(), a.QKVBias)
		lin(&L.o, sa, "o_proj", a.qDim(), C, a.OBias)
		if a.QKNorm {
			L.qnorm, L.dqnorm = add(sa+"q_norm.weight", a.HeadDim)
			L.knorm, L.dknorm = add(sa+"k_norm.weight", a.HeadDim)
		}
		mlp := p + "mlp."
		lin(&L.gate, mlp, "gate_proj", C, F, a.MLPBias)
		lin(&L.up, mlp, "up_proj", C, F, a.MLPBias)
		lin(&L.down, mlp, "down_proj", F, C, a.MLPBias)
		L.ln1, L.dln1 = add(p+"input_layernorm.weight", C)
		L.ln2, L.dln2 = add(p+"post_attention_layernorm.weight", C)
	}
	m.normW, m.dnormW = add("model.norm.weight", C)
	if a.Tied {
		m.head, m.dhead = m.embed, m.dembed
	} else {
		m.head, m.dhead = add("lm_head.weight", a.Vocab, C)
	}
	return pc.off, ts
}
