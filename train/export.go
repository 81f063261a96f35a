package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/model"
)

// Export merges a PEFT LoRA adapter into its base model and writes the merged model
// to outDir as save_pretrained does (model.safetensors, sharded past 5 GB, in the base
// model's dtype; config.json and the tokenizer files copied): on every adapted linear
// W ← W + scale·B·A, as PEFT's merge_and_unload computes it.
func Export(modelDir, adapterDir, outDir string) error {
	lc, err := model.ReadAdapterConfig(adapterDir)
	if err != nil {
		return fmt.Errorf("adapter: %w", err)
	}
	if err := exportPreflight(modelDir, lc); err != nil {
		return err
	}
	be, err := openBackend("", 0)
	if err != nil {
		return err
	}
	defer be.Close()
	m, err := model.Load(modelDir, be, model.Options{LoRA: lc, Frozen: true})
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := m.LoadAdapter(adapterDir); err != nil {
		return fmt.Errorf("adapter: %w", err)
	}
	ts := m.Tensors()
	quantized := false
	for i, t := range ts {
		if t.Packed == nil {
			continue
		}
		// a bitsandbytes 4-bit base: merged into its dequantized weights, which are saved
		// in their 16-bit dtype (transformers' dequantize(); re-quantizing would add a
		// second rounding of the adapter's contribution)
		quantized = true
		ts[i].Data = make([]float32, t.Packed.Rows*t.Packed.Cols)
		t.Packed.DequantizeRows(ts[i].Data, 0, t.Packed.Rows, 0)
	}
	if err := mergeLoRAInto(m, ts); err != nil {
		return err
	}
	if err := SaveModel(outDir, modelDir, ts); err != nil {
		return &WriteError{err}
	}
	if quantized {
		if err := dropQuantizationConfig(outDir); err != nil {
			return &WriteError{err}
		}
	}
	if err := copyFiles(modelDir, outDir, TokenizerFiles); err != nil {
		return &WriteError{err}
	}
	return nil
}

// dropQuantizationConfig removes quantization_config from dir/config.json: the merged
// model is 16-bit.
func dropQuantizationConfig(dir string) error {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	delete(cfg, "quantization_config")
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(out, '\n'), 0o644)
}

// mergeLoRA adds scale·B·A into every adapted base weight (float64 accumulation).
func mergeLoRA(m *model.Model) error { return mergeLoRAInto(m, m.Tensors()) }

// mergeLoRAInto is mergeLoRA into the base tensors ts (m's, with float32 Data).
func mergeLoRAInto(m *model.Model, ts []model.Tensor) error {
	base := map[string]model.Tensor{}
	for _, t := range ts {
		base[t.Name] = t
	}
	lora := map[string]model.Tensor{}
	for _, t := range m.Trainable() {
		lora[t.Name] = t
	}
	for name, a := range lora {
		prefix, ok := strings.CutSuffix(name, ".lora_A.weight")
		if !ok {
			continue
		}
		scale := m.LoRA().ModuleScale(strings.TrimPrefix(prefix, "base_model.model."))
		b, ok := lora[prefix+".lora_B.weight"]
		if !ok {
			return fmt.Errorf("adapter: %s has no lora_B", prefix)
		}
		wName := strings.TrimPrefix(prefix, "base_model.model.") + ".weight"
		w, ok := base[wName]
		if !ok {
			return fmt.Errorf("adapter: %s adapts %s, which the model lacks", name, wName)
		}
		r, in, out := a.Shape[0], a.Shape[1], b.Shape[0]
		if b.Shape[1] != r || w.Shape[0] != out || w.Shape[1] != in {
			return fmt.Errorf("adapter: %s shapes A %v B %v do not fit W %v", prefix, a.Shape, b.Shape, w.Shape)
		}
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				var s float64
				for k := 0; k < r; k++ {
					s += float64(b.Data[o*r+k]) * float64(a.Data[k*in+i])
				}
				w.Data[o*in+i] += float32(scale * s)
			}
		}
	}
	return nil
}
