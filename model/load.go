package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/hf/config"
	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels"
)

// Load builds a model from a Hugging Face model dir: config.json plus model.safetensors
// (or a sharded index). Every parameter must be present with its expected shape;
// F32, BF16 and F16 weights are read as float32. config.json's sizes are checked
// against the safetensors headers before anything is allocated (Inspect), and every
// value is checked to be finite as it is read (*NonFiniteError names the tensor and
// the first bad index). A tied model's lm_head.weight, when the
// file has one, is ignored (as transformers does).
func Load(dir string, be kernels.Backend, opt Options) (*Model, error) {
	if err := CheckNotAdapter(dir); err != nil {
		return nil, err
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	// Every config-derived size is checked against the headers before allocating
	// (pre-quantized 4-bit weights at their logical shape).
	ck, err := inspect(dir, cfg, st)
	if err != nil {
		return nil, err
	}
	plan, err := planStorage(dir, ck.Arch, st, opt)
	if err != nil {
		return nil, err
	}
	opt.packNames = plan.names
	m, err := New(ck.Arch, be, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := readTensors(st, m.tensors, dir); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.loadPacked(st, plan, dir); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// tensorSource is what readTensors needs from a safetensors file or model.
type tensorSource interface {
	Tensor(name string) (safetensors.TensorInfo, bool)
	ReadFloat32(name string, dst []float32) error
}

func readTensors(st tensorSource, ts []Tensor, where string) error {
	var missing []string
	for _, t := range ts {
		if t.Data == nil {
			continue // kept packed: loadPacked fills it
		}
		info, ok := st.Tensor(t.Name)
		if !ok {
			missing = append(missing, t.Name)
			continue
		}
		if !slices.Equal(info.Shape, t.Shape) {
			return fmt.Errorf("%s: tensor %s has shape %v, config.json implies %v", where, t.Name, info.Shape, t.Shape)
		}
		if err := st.ReadFloat32(t.Name, t.Data); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := checkFinite(info.File, t.Name, t.Shape, t.Data); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 3 {
			more = fmt.Sprintf(" and %d more", len(missing)-3)
			missing = missing[:3]
		}
		return fmt.Errorf("%s: missing tensors %q%s", where, missing, more)
	}
	return nil
}

// AdapterConfig is the part of PEFT's adapter_config.json the model reads.
type AdapterConfig struct {
	PeftType      string          `json:"peft_type"`
	R             int             `json:"r"`
	LoraAlpha     float64         `json:"lora_alpha"`
	LoraDropout   float64         `json:"lora_dropout"`
	UseRSLoRA     bool            `json:"use_rslora"`
	TargetModules json.RawMessage `json:"target_modules"` // a list of names or a string
	FanInFanOut   bool            `json:"fan_in_fan_out"`
	Bias          string          `json:"bias"`
	UseDoRA       bool            `json:"use_dora"`
	RankPattern   json.RawMessage `json:"rank_pattern"`
	AlphaPattern  json.RawMessage `json:"alpha_pattern"`
	ModulesToSave json.RawMessage `json:"modules_to_save"`
	BaseModel     string          `json:"base_model_name_or_path"`
}

// ReadAdapterConfig reads dir/adapter_config.json (a PEFT LoRA adapter) into a LoRAConfig.
func ReadAdapterConfig(dir string) (*LoRAConfig, error) {
	path := filepath.Join(dir, "adapter_config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseAdapterConfig(path, raw)
}

// ParseAdapterConfig parses the bytes of an adapter_config.json (a PEFT LoRA
// adapter) into a LoRAConfig; name (the file's path) prefixes every error.
// ReadAdapterConfig is this after reading the file.
func ParseAdapterConfig(name string, raw []byte) (*LoRAConfig, error) {
	path := name
	var ac AdapterConfig
	var err error
	if err := json.Unmarshal(raw, &ac); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case ac.PeftType != "" && ac.PeftType != "LORA":
		return nil, fmt.Errorf("%s: peft_type: %q is not supported (only LORA)", path, ac.PeftType)
	case ac.R <= 0:
		return nil, fmt.Errorf("%s: r: %d must be positive", path, ac.R)
	case ac.FanInFanOut:
		return nil, fmt.Errorf("%s: fan_in_fan_out: true is not supported", path)
	case ac.UseDoRA:
		return nil, fmt.Errorf("%s: use_dora: true is not supported", path)
	case ac.Bias != "" && ac.Bias != "none":
		return nil, fmt.Errorf("%s: bias: %q is not supported (only \"none\")", path, ac.Bias)
	}
	if err := checkModulesToSave(ac.ModulesToSave); err != nil {
		return nil, fmt.Errorf("%s: modules_to_save: %w", path, err)
	}
	c := &LoRAConfig{R: ac.R, Alpha: ac.LoraAlpha, Dropout: ac.LoraDropout, RSLoRA: ac.UseRSLoRA}
	if c.RankPattern, err = orderedNumbers(ac.RankPattern); err != nil {
		return nil, fmt.Errorf("%s: rank_pattern: %w", path, err)
	}
	if c.AlphaPattern, err = orderedNumbers(ac.AlphaPattern); err != nil {
		return nil, fmt.Errorf("%s: alpha_pattern: %w", path, err)
	}
	if err := c.checkPatterns(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var one string
	if err := json.Unmarshal(ac.TargetModules, &one); err == nil {
		c.Targets = ParseTargets(one)
	} else if err := json.Unmarshal(ac.TargetModules, &c.Targets); err != nil {
		return nil, fmt.Errorf("%s: target_modules: want a string or a list of strings: %w", path, err)
	}
	if _, err := c.targetSet(); err != nil {
		return nil, fmt.Errorf("%s: target_modules: %w", path, err)
	}
	return c, nil
}

// LoadAdapter reads dir/adapter_model.safetensors (PEFT names,
// base_model.model.<module>.lora_A.weight / lora_B.weight) into the model's adapters.
// The model must have been built with the adapter's LoRAConfig (ReadAdapterConfig).
func (m *Model) LoadAdapter(dir string) error {
	if m.lora == nil {
		return errors.New("model: LoadAdapter on a model built without LoRA")
	}
	path := filepath.Join(dir, "adapter_model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, t := range m.loraTensors {
		want[t.Name] = true
	}
	for _, info := range f.Tensors() {
		if !want[info.Name] {
			return fmt.Errorf("%s: tensor %s is not an adapter of this model (check target_modules and the base model)", path, info.Name)
		}
	}
	return readTensors(f, m.loraTensors, path)
}

// SaveAdapter writes the adapters as a PEFT adapter dir: adapter_config.json and
// adapter_model.safetensors (float32), each written atomically.
func (m *Model) SaveAdapter(dir, baseModel string) error {
	if m.lora == nil {
		return errors.New("model: SaveAdapter on a model built without LoRA")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m.be.Sync()
	ts := make([]safetensors.Tensor, len(m.loraTensors))
	for i, t := range m.loraTensors {
		ts[i] = safetensors.Tensor{Name: t.Name, DType: safetensors.F32, Shape: t.Shape, F32: t.Data}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	set, _ := m.lora.targetSet()
	var targets []string
	for _, n := range linearNames {
		if set[n] {
			targets = append(targets, n)
		}
	}
	cfg := map[string]any{
		"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": BaseModelRef(baseModel),
		"r": m.lora.R, "lora_alpha": m.lora.Alpha, "lora_dropout": m.lora.Dropout, "use_rslora": m.lora.RSLoRA,
		"target_modules": targets, "bias": "none", "fan_in_fan_out": false, "inference_mode": true,
		"rank_pattern": patternJSON(m.lora.RankPattern), "alpha_pattern": patternJSON(m.lora.AlphaPattern),
		"modules_to_save": nil,
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "adapter_config.json"), append(raw, '\n'), 0o644)
}
