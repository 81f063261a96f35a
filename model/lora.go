package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// LoRAConfig is a LoRA adapter set, with PEFT's semantics: on every targeted linear,
// y = W x + b + scale·B·A·dropout(x), scale = Alpha/R (Alpha/sqrt(R) with RSLoRA).
type LoRAConfig struct {
	R       int
	Alpha   float64
	Dropout float64 // probability; applied to the adapter input in training forwards only
	// Targets are module names as in PEFT's target_modules ("q_proj", "v_proj", ...);
	// "all" or "all-linear" means every linear layer except lm_head.
	Targets []string
	RSLoRA  bool
	Seed    uint64 // dropout mask stream and InitLoRA
}

// ParseTargets splits a PEFT-style target list: "q_proj,v_proj", "all", "all-linear".
func ParseTargets(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Scale is the factor on B·A.
func (c *LoRAConfig) Scale() float64 {
	if c.RSLoRA {
		return c.Alpha / math.Sqrt(float64(c.R))
	}
	return c.Alpha / float64(c.R)
}

// targetSet resolves Targets to module names.
func (c *LoRAConfig) targetSet() (map[string]bool, error) {
	set := map[string]bool{}
	for _, t := range c.Targets {
		switch t {
		case "all", "all-linear":
			for _, n := range linearNames {
				set[n] = true
			}
			continue
		case "lm_head":
			return nil, fmt.Errorf("model: LoRA target %q is not supported (adapters go on the decoder's linear layers)", t)
		}
		// PEFT also accepts a dotted suffix ("self_attn.q_proj"): match on the last part.
		base := t[strings.LastIndex(t, ".")+1:]
		if !slices.Contains(linearNames[:], base) {
			return nil, fmt.Errorf("model: unknown LoRA target module %q (want names from %s, or all-linear)", t, strings.Join(linearNames[:], ","))
		}
		set[base] = true
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("model: LoRA needs at least one target module")
	}
	return set, nil
}

func (m *Model) setupLoRA(c *LoRAConfig) error {
	if c.R <= 0 {
		return fmt.Errorf("model: LoRA rank r = %d must be positive", c.R)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		return fmt.Errorf("model: LoRA dropout %v must be in [0,1)", c.Dropout)
	}
	if math.IsNaN(c.Alpha) || math.IsInf(c.Alpha, 0) {
		return fmt.Errorf("model: LoRA alpha %v must be finite", c.Alpha)
	}
	set, err := c.targetSet()
	if err != nil {
		return err
	}
	m.loraScale = float32(c.Scale())
	layout := func(p, g []float32) (int, []Tensor) {
		pc, gc := &carver{buf: p}, &carver{buf: g}
		var ts []Tensor
		for i := range m.layers {
			for _, li := range m.layers[i].linears() {
				if !set[li.mod] {
					continue
				}
				ad := &adapter{}
				if p != nil {
					li.lora = ad
				}
				name := "base_model.model." + li.path
				ad.a, ad.da = pc.take(c.R*li.in), gc.take(c.R*li.in)
				ad.b, ad.db = pc.take(li.out*c.R), gc.take(li.out*c.R)
				ts = append(ts,
					Tensor{Name: name + ".lora_A.weight", Shape: []int{c.R, li.in}, Data: ad.a, Grad: ad.da},
					Tensor{Name: name + ".lora_B.weight", Shape: []int{li.out, c.R}, Data: ad.b, Grad: ad.db})
			}
		}
		return pc.off, ts
	}
	n, _ := layout(nil, nil)
	m.loraParams = m.be.Alloc(n)
	if !m.opt.Frozen {
		m.loraGrads = m.be.Alloc(n)
	}
	_, m.loraTensors = layout(m.loraParams, m.loraGrads)
	return nil
}

// LoRA returns the adapter configuration (nil under full fine-tuning).
func (m *Model) LoRA() *LoRAConfig { return m.lora }

// InitLoRA initializes the adapters as PEFT does by default: A ~ kaiming_uniform(a=√5),
// i.e. U(-1/sqrt(in), 1/sqrt(in)), and B = 0, so the adapted model starts equal to the base.
func (m *Model) InitLoRA(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x4c6f5241))
	for i := range m.layers {
		for _, li := range m.layers[i].linears() {
			if li.lora == nil {
				continue
			}
			bound := 1 / math.Sqrt(float64(li.in))
			for j := range li.lora.a {
				li.lora.a[j] = float32((2*rng.Float64() - 1) * bound)
			}
			clear(li.lora.b)
		}
	}
}
