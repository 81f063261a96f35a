package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/model"
)

// ModelConfig is the demo model's config.json: a small Llama (about 1.9M parameters)
// over the demo tokenizer's vocabulary.
func ModelConfig(vocab, eos int, dtype string) map[string]any {
	return map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"vocab_size": vocab, "hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 4,
		"num_attention_heads": 4, "num_key_value_heads": 4, "hidden_act": "silu",
		"max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
		"tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false,
		"initializer_range": 0.02, "torch_dtype": dtype,
		"bos_token_id": nil, "eos_token_id": eos, "pad_token_id": eos,
	}
}

// InitWeights fills m's parameters as transformers' LlamaPreTrainedModel._init_weights
// does for a model trained from scratch: linear and embedding weights ~ N(0, std²),
// RMSNorm weights 1. The stream is PCG seeded with seed, in the tensors' order.
func InitWeights(m *model.Model, std float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x696e6974))
	for _, t := range m.Tensors() {
		if strings.HasSuffix(t.Name, "norm.weight") {
			for i := range t.Data {
				t.Data[i] = 1
			}
			continue
		}
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// SaveModel writes m's base weights to dir/model.safetensors in dtype (safetensors.F32
// or BF16) and cfg as dir/config.json (with torch_dtype set to match).
func SaveModel(m *model.Model, dir string, cfg map[string]any, dtype safetensors.DType) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	m.Backend().Sync()
	var ts []safetensors.Tensor
	for _, t := range m.Tensors() {
		ts = append(ts, safetensors.Tensor{Name: t.Name, DType: dtype, Shape: t.Shape, F32: t.Data})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	c := map[string]any{}
	for k, v := range cfg {
		c[k] = v
	}
	c["torch_dtype"] = map[safetensors.DType]string{safetensors.BF16: "bfloat16", safetensors.F16: "float16"}[dtype]
	if c["torch_dtype"] == "" {
		c["torch_dtype"] = "float32"
	}
	return writeJSON(filepath.Join(dir, "config.json"), c)
}

// writeJSON writes v indented, atomically.
func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: %s: %w", path, err)
	}
	return writeFileAtomic(path, append(raw, '\n'))
}

// writeFileAtomic writes data atomically (see atomicfile), with the demo's error prefix.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}
