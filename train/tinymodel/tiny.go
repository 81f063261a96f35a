// Package tinymodel writes small random Hugging Face model dirs for tests of the trainer and
// the CLI: a Qwen2 decoder (tied embeddings, q/k/v biases) initialised as transformers
// does (normal(0, 0.02) weights, unit norm weights, zero biases), deterministic in the
// seed.
package tinymodel

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/preftune/preftune/hf/safetensors"
)

// Spec sizes a model. Heads is 4 and KV heads 2; Hidden must be a multiple of 8.
type Spec struct {
	Vocab, Hidden, Layers int
	Seed                  uint64
	DType                 safetensors.DType // F32 (default) or BF16
}

// WriteQwen2 writes config.json and model.safetensors into dir.
func WriteQwen2(dir string, s Spec) error {
	if s.DType == "" {
		s.DType = safetensors.F32
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	heads, kv, ffn := 4, 2, 2*s.Hidden
	hd := s.Hidden / heads
	dt := map[safetensors.DType]string{safetensors.F32: "float32", safetensors.BF16: "bfloat16", safetensors.F16: "float16"}[s.DType]
	cfg := map[string]any{
		"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "vocab_size": s.Vocab,
		"hidden_size": s.Hidden, "intermediate_size": ffn, "num_hidden_layers": s.Layers,
		"num_attention_heads": heads, "num_key_value_heads": kv, "hidden_act": "silu",
		"max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
		"tie_word_embeddings": true, "torch_dtype": dt,
		"use_sliding_window": false, "sliding_window": 4096, "max_window_layers": s.Layers,
		"bos_token_id": 151643, "eos_token_id": 151645,
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(s.Seed, 1))
	var ts []safetensors.Tensor
	add := func(name string, fill func() float32, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = fill()
		}
		ts = append(ts, safetensors.Tensor{Name: name, DType: s.DType, Shape: shape, F32: d})
	}
	normal := func() float32 { return float32(rng.NormFloat64() * 0.02) }
	one := func() float32 { return 1 }
	zero := func() float32 { return 0 }
	C := s.Hidden
	add("model.embed_tokens.weight", normal, s.Vocab, C)
	for l := 0; l < s.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", one, C)
		add(p+"post_attention_layernorm.weight", one, C)
		add(p+"self_attn.q_proj.weight", normal, heads*hd, C)
		add(p+"self_attn.q_proj.bias", zero, heads*hd)
		add(p+"self_attn.k_proj.weight", normal, kv*hd, C)
		add(p+"self_attn.k_proj.bias", zero, kv*hd)
		add(p+"self_attn.v_proj.weight", normal, kv*hd, C)
		add(p+"self_attn.v_proj.bias", zero, kv*hd)
		add(p+"self_attn.o_proj.weight", normal, C, heads*hd)
		add(p+"mlp.gate_proj.weight", normal, ffn, C)
		add(p+"mlp.up_proj.weight", normal, ffn, C)
		add(p+"mlp.down_proj.weight", normal, C, ffn)
	}
	add("model.norm.weight", one, C)
	return safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
}

// CopyTokenizer copies tokenizer.json and tokenizer_config.json from src into dir.
func CopyTokenizer(src, dir string) error {
	for _, n := range []string{"tokenizer.json", "tokenizer_config.json"} {
		raw, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
