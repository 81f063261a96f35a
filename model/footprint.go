package model

// Footprint is the memory a built model holds, in bytes, by kind (the preflight's
// estimates are checked against it).
type Footprint struct {
	Params, Grads         int64 // base parameters and their gradients (nil under LoRA or Frozen)
	LoRAParams, LoRAGrads int64
	Activations           int64 // the planned activation buffer (float32)
	ActivationInts        int64 // its int32 inputs (ids, positions, …)
	Host                  int64 // host staging buffers of a planned batch
	Tables                int64 // RoPE cos/sin tables
}

// Footprint reports what the model holds now.
func (m *Model) Footprint() Footprint {
	A, h := &m.acts, &m.host
	f4 := func(bs ...[]float32) (n int64) {
		for _, b := range bs {
			n += 4 * int64(len(b))
		}
		return n
	}
	i4 := func(bs ...[]int32) (n int64) {
		for _, b := range bs {
			n += 4 * int64(len(b))
		}
		return n
	}
	return Footprint{
		Params: f4(m.params), Grads: f4(m.grads), LoRAParams: f4(m.loraParams), LoRAGrads: f4(m.loraGrads),
		Activations:    f4(A.buf),
		ActivationInts: i4(A.ids, A.pos, A.seg, A.lab, A.idx, A.tseq, A.par),
		Host:           i4(h.ids, h.pos, h.seg, h.par, h.idx, h.lab, h.tseq) + f4(h.outLogp, h.outEnt, h.outMeanL, h.outLSP2),
		Tables:         f4(m.cos, m.sin),
	}
}

// Modules is the set of linear module names (q_proj … down_proj) the config targets.
func (c *LoRAConfig) Modules() (map[string]bool, error) { return c.targetSet() }
