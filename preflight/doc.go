// Package preflight estimates a run's peak memory before anything large is allocated
// and refuses, with exit-2 advice, a run that cannot fit in what the machine (or its
// cgroup, or the address-space limit) gives.
//
// The estimate is a sum of parts, each computed from the checkpoint's headers and the
// run's settings, the way the model and trainer allocate them:
//
//   - weights: every base tensor at its in-memory storage dtype (DType.Bytes: float32
//     today; bf16/f16 2 B; NF4/FP4 0.5 B a value + a float32 absmax per 64 values, or with
//     double quant a byte per 64 + a float32 per 64·256);
//   - adapters and gradients: LoRA's A and B (r·(in+out) per targeted linear) or, under full
//     fine-tuning, one float32 gradient per parameter; nothing for a frozen model;
//   - optimizer: AdamW's two float32 moments of every trainable value (SGD with momentum one);
//   - reference: a separate frozen reference model (weights, activations, tables);
//   - activations: model's planned buffer for the micro-batch's tokens (per layer saved
//     tensors, or one layer's with gradient checkpointing; the LM-head logits chunk
//     within the logits budget; the backward's scratch) plus its staging buffers;
//   - other: RoPE tables (max_position_embeddings · head_dim floats), a KV cache, and a
//     fixed allowance for the runtime, tokenizer and data.
//
// Available is the least of /proc/meminfo's MemAvailable, the cgroup's memory.max minus
// memory.current less its inactive file cache (v2, or v1's limit and usage), RLIMIT_AS
// minus the address space in use, and $PREFTUNE_MEMORY_LIMIT.
//
// The estimate is of resident memory: buffers the model allocates but a run never
// writes (a reference model's backward scratch, LoRA dropout masks under
// disable_dropout, activations past the run's busiest micro-batch) are left out. On the
// peer's small preset it is 7–21% above the measured peak RSS (full, full with gradient
// checkpointing, LoRA, LoRA with checkpointing; logps and score 15–18%).
package preflight
