package train

import (
	"fmt"
	"strings"

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
	if err := mergeLoRA(m); err != nil {
		return err
	}
	if err := SaveModel(outDir, modelDir, m.Tensors()); err != nil {
		return err
	}
	return copyFiles(modelDir, outDir, TokenizerFiles)
}

// mergeLoRA adds scale·B·A into every adapted base weight (float64 accumulation).
func mergeLoRA(m *model.Model) error {
	base := map[string]model.Tensor{}
	for _, t := range m.Tensors() {
		base[t.Name] = t
	}
	lora := map[string]model.Tensor{}
	for _, t := range m.Trainable() {
		lora[t.Name] = t
	}
	scale := m.LoRA().Scale()
	for name, a := range lora {
		prefix, ok := strings.CutSuffix(name, ".lora_A.weight")
		if !ok {
			continue
		}
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
