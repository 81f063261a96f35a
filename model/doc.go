// Package model is preftune's decoder engine for Hugging Face causal language models
// (Llama, Qwen2, Qwen3, Mistral): given token batches it computes the per-token
// log-probabilities of the labels, and given d(loss)/d(log-prob) per token it computes
// the gradients of every trainable parameter — all of them (full fine-tuning) or the
// LoRA adapters only. The model never sees the loss.
//
// It is written in the manner of karpathy/llm.c: all parameters live in one flat
// float32 buffer and all gradients in another; the activations of a step live in one
// buffer planned for the largest batch seen (grown once, never inside a step); every
// layer is an explicit forward/backward pair over kernels.Backend, the one seam to the
// hardware. The tests load tiny models and goldens produced by the PyTorch reference in
// reference/model and compare log-probs and every gradient.
//
// # Batches
//
// A Batch is B rows of T tokens, row-major. Each token has an id, a position (RoPE
// index), a segment id (tokens attend only to earlier tokens of the same segment of the
// same row; -1 marks padding) and a label: the token id predicted from this position,
// or a negative value when the position carries no loss (prompt, padding). Packed rows
// (several segments per row) work the same way. BuildBatch turns (prompt, completion)
// pairs into this layout: TRL's concatenated, right-padded form.
//
// # Preference pairs: shared prompts and packing
//
// BuildPairBatch lays out (prompt, chosen, rejected) pairs with explicit loss Targets
// (position, label, sequence) instead of Labels, and Output.SeqLogProbs sums the
// log-probs per sequence (chosen s, rejected len(pairs)+s); BackwardSeq takes
// d(loss)/d(sequence log-prob). PairLayout.SharePrompt stores each prompt once: the
// chosen and rejected completions follow it as segments that also attend to the
// prompt's segment (Batch.Parents), so the prompt's forward and backward run once and
// its activations' gradients accumulate both completions (the prompt's last token
// carries two targets). PairLayout.Pack puts the sequences end to end in rows (no
// padding). GroupByLength orders pairs by length in mega-batches. Every layout gives
// the log-probs and gradients of TRL's padded layout (pairs_test.go).
//
// # Training modes
//
// With Options.LoRA nil every parameter is trainable. With a LoRAConfig the base weights
// are frozen and only the adapters get gradients: on each targeted linear
// y = W x + b + scale·B·A·dropout(x), as PEFT's lora.Linear computes it (scale =
// alpha/r, or alpha/sqrt(r) with rsLoRA; dropout masks are drawn from a seeded stream).
// ForwardOptions.NoAdapters runs the base model, which gives DPO's reference
// log-probs without a second copy of the weights. Adapters load from and save to PEFT
// adapter dirs (ReadAdapterConfig, LoadAdapter, SaveAdapter); rank_pattern and
// alpha_pattern give modules their own rank and alpha as PEFT matches them
// (MatchPattern), modules_to_save is refused, and a saved adapter records an absolute
// base_model_name_or_path. A directory holding an adapter but no config.json is
// refused as a model with an AdapterDirError saying how to pass it.
//
// Options.FuseGateUp runs gate_proj and up_proj as one GEMM on their adjacent weights
// and SwiGLU on the fused output (fuse_test.go checks it against the plain path).
// Options.Frozen builds an inference-only model without gradient buffers (a reference
// model). FLOPs counts a step's matrix-multiply work (for MFU).
//
// Options.Checkpoint keeps only each layer's input and recomputes the layer in
// Backward (gradient checkpointing). The LM head runs only on labelled positions,
// in chunks bounded by Options.LogitsBudget.
//
// # Generation
//
// Generate and GenerateBatch decode with a KVCache: the prompts (left-padded to the
// longest, each row with its own positions) are prefilled in one forward, then every
// step runs one token per row. The forward is the training layer's (layerForwardOn)
// over the cache's one-layer scratch, with k and v written into the cache (backend
// buffers, step-major) and attention through kernels.CachedAttention or its core-op
// fallback; the next tokens are picked by kernels.TokenSampler or, without one, by
// kernels.SampleRow on the host. Each row samples from its own PCG stream of
// (Seed, row index), so its tokens do not depend on the batch it ran in.
//
// # Shapes
//
// N = B·T tokens, C hidden size, NH/NKV query/key-value heads, HD head dim, F ffn
// width, V vocabulary, r LoRA rank. Linear weights are [out, in] as in PyTorch.
package model
