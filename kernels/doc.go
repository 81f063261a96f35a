// Package kernels defines the compute seam of preftune's model engine: the
// Backend interface, whose methods are the forward/backward kernels a
// decoder-only transformer needs (GEMM, Linear, embedding, RMSNorm, RoPE,
// causal GQA attention, SwiGLU, log-softmax gather, AdamW/SGD), plus small
// pure helpers that build RoPE tables.
//
// The style follows karpathy/llm.c's train_gpt2.c: every layer is an
// XForward/XBackward pair with its shapes in one comment line; the model owns
// parameters, gradients and activations in buffers it plans once, and the
// kernels never allocate in the step loop (a backend preallocates scratch at
// construction and grows it only when a larger shape is first seen).
//
// # Buffers and backends
//
// Buffers are plain []float32 and []int32 slices. That is the only thing the
// interface assumes about memory: the CPU backend (package kernels/cpu) uses
// ordinary Go memory; a CUDA backend is a new folder (kernels/cuda)
// implementing the same interface with slices backed by unified (managed)
// memory, which is why the model should obtain its buffers from
// Backend.Alloc and call Backend.Sync before reading results on the host.
// No method takes a pointer into backend-private state or returns a value
// that needs a device round trip, except SumSquares, which returns a scalar.
//
// # Gradient convention
//
// Backward kernels accumulate (+=) into all gradients — parameter and input
// gradients alike — so the caller zeroes gradient buffers before a backward
// pass; a nil gradient slice skips that gradient (e.g. a frozen weight).
// Two documented exceptions write instead: RoPEBackward works in place on the
// gradient, and LogSoftmaxGatherBackward writes dlogits (in place over the
// logits is allowed), so the LM head can run in chunks of tokens without a
// second [N,V] buffer.
//
// # Attention
//
// AttentionForward takes q [B,T,NH,HD] and k, v [B,T,NKV,HD]; query head h
// reads kv head h/(NH/NKV) (transformers' repeat_kv). Key j (same row) is
// visible to query i when j ≤ i, seg[j] == seg[i] ≥ 0 and, with a window
// W > 0, j > i − W — i.e. W keys including itself, as transformers'
// masking_utils.sliding_window_overlay (kv_idx > q_idx − sliding_window) for
// Mistral. A per-token segment id lets packed sequences share a row; padding
// tokens carry seg −1 and get zero output, zero lse and zero gradients. The
// window counts row indices, not position ids. Only lse [B,NH,T] is saved:
// the backward recomputes the probabilities block by block (flash-attention
// style), which keeps saved memory at O(B·NH·T) rather than the
// 4·B·NH·T² bytes of a saved attention matrix (58 MB per sequence and
// layer at NH 14, T 1024).
//
// AttentionForwardShared/BackwardShared add a parent segment per query: key
// j ≤ i is also visible when seg[j] == parent[i] ≥ 0. A prompt shared by a
// chosen and a rejected completion is one segment, each completion another
// with the prompt as parent, so both completions attend to one copy of the
// prompt's keys and values and the backward accumulates both into it.
//
// # Generation
//
// CachedAttention (optional) attends the newest T steps of B rows to a step-major KV
// cache [steps, B, NKV, HD] with a per-row first step (left padding);
// CachedAttentionFallback computes the same from core ops (a row gather with
// EmbeddingForward, AttentionForward, a gather back). TokenSampler (optional) picks
// each row's next token on the device from a per-row uniform number; SampleRow is the
// one sampling rule (greedy, temperature, top-p) every backend and the host fallback
// apply, so a given uniform number gives the same token everywhere.
//
// # Log-probabilities of labels
//
// LogSoftmaxGatherForward/Backward work on any number of token rows, so the
// model can run the LM head in chunks of tokens (logits [chunk,V] in one
// reused buffer) for large vocabularies; the backward can overwrite the
// logits with dlogits in place.
//
// # Errors
//
// Kernels panic on programmer errors only: a slice shorter than its shape
// says, a token id or position outside its table. The model validates user
// data before calling. Helpers that interpret configuration (RopeInvFreq)
// return errors.
package kernels
