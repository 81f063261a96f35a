package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
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
	// RankPattern and AlphaPattern are PEFT's rank_pattern and alpha_pattern, in the
	// file's order: the first key whose pattern matches a module's name (see
	// MatchPattern) gives that module its rank or alpha instead of R or Alpha.
	RankPattern, AlphaPattern []PatternValue
}

// PatternValue is one entry of rank_pattern or alpha_pattern.
type PatternValue struct {
	Key   string
	Value float64
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

// Scale is the factor on B·A of a module without a pattern entry.
func (c *LoRAConfig) Scale() float64 {
	return scaleOf(c.Alpha, c.R, c.RSLoRA)
}

func scaleOf(alpha float64, r int, rs bool) float64 {
	if rs {
		return alpha / math.Sqrt(float64(r))
	}
	return alpha / float64(r)
}

// ModuleRank is the rank of the adapter on the module named name (its name in the
// base model, e.g. "model.layers.0.self_attn.q_proj"): rank_pattern's, else R.
func (c *LoRAConfig) ModuleRank(name string) int {
	if v, ok := lookupPattern(c.RankPattern, name); ok {
		return int(v)
	}
	return c.R
}

// ModuleAlpha is the module's alpha: alpha_pattern's, else Alpha.
func (c *LoRAConfig) ModuleAlpha(name string) float64 {
	if v, ok := lookupPattern(c.AlphaPattern, name); ok {
		return v
	}
	return c.Alpha
}

// ModuleScale is the factor on B·A of the named module: its alpha over its rank (over
// the rank's square root with RSLoRA), as PEFT's LoraLayer.update_layer sets scaling.
func (c *LoRAConfig) ModuleScale(name string) float64 {
	return scaleOf(c.ModuleAlpha(name), c.ModuleRank(name), c.RSLoRA)
}

// MaxRank is the largest rank of any module.
func (c *LoRAConfig) MaxRank() int {
	r := c.R
	for _, p := range c.RankPattern {
		r = max(r, int(p.Value))
	}
	return r
}

// lookupPattern returns the value of the first entry matching name.
func lookupPattern(ps []PatternValue, name string) (float64, bool) {
	for _, p := range ps {
		if MatchPattern(p.Key, name) {
			return p.Value, true
		}
	}
	return 0, false
}

// MatchPattern is PEFT's get_pattern_key test: key, a regular expression, matches the
// whole module name or a dot-separated suffix of it (re.match(rf"(.*\.)?({key})$", name)).
// A key that is not a valid expression matches only the exact name.
func MatchPattern(key, name string) bool {
	if key == name {
		return true
	}
	re, err := regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`)
	return err == nil && re.MatchString(name)
}

// checkPatterns validates the pattern values.
func (c *LoRAConfig) checkPatterns() error {
	for _, p := range c.RankPattern {
		if p.Value <= 0 || p.Value != math.Trunc(p.Value) {
			return fmt.Errorf("model: rank_pattern %q: rank %v must be a positive integer", p.Key, p.Value)
		}
		if _, err := regexp.Compile(p.Key); err != nil {
			return fmt.Errorf("model: rank_pattern key %q: %w", p.Key, err)
		}
	}
	for _, p := range c.AlphaPattern {
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return fmt.Errorf("model: alpha_pattern %q: alpha %v must be finite", p.Key, p.Value)
		}
		if _, err := regexp.Compile(p.Key); err != nil {
			return fmt.Errorf("model: alpha_pattern key %q: %w", p.Key, err)
		}
	}
	return nil
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
	if err := c.checkPatterns(); err != nil {
		return err
	}
	set, err := c.targetSet()
	if err != nil {
		return err
	}
	layout := func(p, g []float32) (int, []Tensor) {
		pc, gc := &carver{buf: p}, &carver{buf: g}
		var ts []Tensor
		for i := range m.layers {
			for _, li := range m.layers[i].linears() {
				if !set[li.mod] {
					continue
				}
				r := c.ModuleRank(li.path)
				ad := &adapter{r: r, scale: float32(c.ModuleScale(li.path))}
				if p != nil {
					li.lora = ad
				}
				name := "base_model.model." + li.path
				ad.a, ad.da = pc.take(r*li.in), gc.take(r*li.in)
				ad.b, ad.db = pc.take(li.out*r), gc.take(li.out*r)
				ts = append(ts,
					Tensor{Name: name + ".lora_A.weight", Shape: []int{r, li.in}, Data: ad.a, Grad: ad.da},
					Tensor{Name: name + ".lora_B.weight", Shape: []int{li.out, r}, Data: ad.b, Grad: ad.db})
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
