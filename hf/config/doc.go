// Package config reads a Hugging Face config.json for the Llama-family causal language
// models preftune trains (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM) and derives what the engine needs from it: sizes with every
// transformers default resolved, attention layout (GQA groups, head_dim, biases, Qwen3's
// q/k norms, sliding windows per layer), RoPE theta and scaling, special token ids, the
// full list of tensor names and shapes a checkpoint must hold, and the parameter count.
//
//	cfg, err := config.Load(modelDir)                  // or config.Parse(bytes, name)
//	weights, err := safetensors.OpenModel(modelDir)
//	err = cfg.CheckTensors(weights.Shapes())           // every mismatch in one error
//	for _, p := range cfg.Parameters() { ... p.Name, p.Shape ... }
//
// Defaults follow the transformers config classes when a field is absent (for example
// tie_word_embeddings false, rope_theta 10000, Qwen3 head_dim 128, Mistral sliding_window
// 4096), except the five structural sizes (hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, vocab_size), which must be present: a silent
// 7B-sized default is never what a user means. Every error names the file and the field
// and wraps ErrInvalid.
package config
