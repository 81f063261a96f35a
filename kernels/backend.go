package kernels

// Backend is the one seam between the model and the hardware. Every op the
// model needs is a method; buffers are plain Go slices (see doc.go).
//
// Shape letters: N tokens (= B rows × T positions), C hidden, OC out
// features, NH query heads, NKV key/value heads, HD head dim, F ffn width,
// V vocab. All tensors are row-major and contiguous unless a leading
// dimension is given.
//
// Gradient convention: every *Backward method ACCUMULATES (+=) into every
// gradient it is given — parameter grads and input grads alike (as in llm.c),
// so the caller zeroes gradient buffers (Zero) before a backward pass and
// residual branches need no extra adds. Exceptions, marked "writes" or
// "in place": RoPEBackward (rotates the gradient in place) and
// LogSoftmaxGatherBackward (writes dlogits, may alias logits). A nil gradient
// slice means "do not compute this gradient".
//
// Errors: kernels panic on programmer errors only (slice too short for the
// shapes given, id or position outside its table). The model validates user
// data (token ids < V, sequence length ≤ max positions) before calling.
//
// A Backend is not safe for concurrent use by several goroutines; each op is
// parallel internally.
type Backend interface {
	// Name describes the backend, e.g. "cpu (openblas SkylakeX, 16 threads)".
	Name() string
	// Threads is the number of worker threads the backend uses.
	Threads() int
	// Alloc returns a zeroed float32 buffer of n elements usable by every op.
	Alloc(n int) []float32
	// AllocInt32 returns a zeroed int32 buffer of n elements.
	AllocInt32(n int) []int32
	// Free releases a buffer from Alloc (after which it must not be used); FreeInt32 one from AllocInt32.
	Free(x []float32)
	FreeInt32(x []int32)
	// Upload: dst[n] = src[n], dst from Alloc, src any host slice (the only op that reads host memory); UploadInt32 likewise.
	Upload(dst, src []float32)
	UploadInt32(dst, src []int32)
	// Sync waits until all previously issued ops have finished and their
	// results are visible to the host (a no-op on the CPU), and reports a
	// failure of any of them (a device error, a kernel fault).
	Sync() error
	// Close releases the backend's workers and scratch memory.
	Close()

	// Sgemm: C[m,n] = alpha·op(A)[m,k]·op(B)[k,n] + beta·C; row-major, op(X)=Xᵀ when transX; lda/ldb/ldc are row strides of A, B, C as stored.
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

	// LinearForward: out[N,OC] (= or += when accumulate) scale·(inp[N,C]·W[OC,C]ᵀ + bias[OC]); bias may be nil.
	LinearForward(out, inp, w, bias []float32, n, c, oc int, scale float32, accumulate bool)
	// LinearBackward: dinp[N,C] += scale·dout[N,OC]·W; dw[OC,C] += scale·doutᵀ·inp; dbias[OC] += scale·Σ_n dout; any grad may be nil.
	LinearBackward(dinp, dw, dbias, dout, inp, w []float32, n, c, oc int, scale float32)

	// EmbeddingForward: out[N,C] = table[V,C][ids[N]]; ids must lie in [0,V).
	EmbeddingForward(out []float32, ids []int32, table []float32, n, c, v int)
	// EmbeddingBackward: dtable[V,C][ids[n]] += dout[N,C][n] (scatter-add; repeated ids sum).
	EmbeddingBackward(dtable []float32, ids []int32, dout []float32, n, c, v int)

	// RMSNormForward: out[N,C] = inp·rstd[N]·w[C], rstd = 1/sqrt(mean(inp²)+eps) saved; out may alias inp. Qwen3 q/k norm: N·NH rows of width HD.
	RMSNormForward(out, rstd, inp, w []float32, n, c int, eps float32)
	// RMSNormBackward: dinp[N,C] += ∂, dw[C] += ∂ (dw may be nil) from dout[N,C], inp[N,C], w[C], rstd[N].
	RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, n, c int)

	// RoPEForward: x[N,H,HD] rotated in place (HF rotate-half layout) at positions pos[N] using cos/sin[maxPos,HD/2] (see RopeTables).
	RoPEForward(x []float32, pos []int32, cos, sin []float32, n, h, hd int)
	// RoPEBackward: dx[N,H,HD] rotated back in place (inverse rotation = the exact gradient of RoPEForward).
	RoPEBackward(dx []float32, pos []int32, cos, sin []float32, n, h, hd int)

	// AttentionForward: out[B,T,NH,HD] = softmax(q·kᵀ/sqrt(HD) + mask)·v with q[B,T,NH,HD], k,v[B,T,NKV,HD], seg[B·T], window (0 = none); saves lse[B,NH,T].
	AttentionForward(out, lse, q, k, v []float32, seg []int32, b, t, nh, nkv, hd, window int)
	// AttentionBackward: dq[B,T,NH,HD], dk,dv[B,T,NKV,HD] += ∂ from dout[B,T,NH,HD] and the forward's q, k, v, out, lse, seg, window (scores recomputed).
	AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, seg []int32, b, t, nh, nkv, hd, window int)

	// SwiGLUForward: out[n] = silu(gate[n])·up[n] over n = N·F elements.
	SwiGLUForward(out, gate, up []float32, n int)
	// SwiGLUBackward: dgate[n] += dout·up·silu'(gate), dup[n] += dout·silu(gate).
	SwiGLUBackward(dgate, dup, dout, gate, up []float32, n int)

	// Add: out[n] = a[n] + b[n] (residual forward); out may alias a or b.
	Add(out, a, b []float32)
	// Axpy: y[n] += alpha·x[n] (residual backward with alpha 1).
	Axpy(y []float32, alpha float32, x []float32)
	// Scale: x[n] *= alpha.
	Scale(x []float32, alpha float32)
	// Zero: x[n] = 0.
	Zero(x []float32)
	// Copy: dst[n] = src[n]; len(dst) must be ≥ len(src).
	Copy(dst, src []float32)
	// Mul: out[n] = a[n]·b[n]; out may alias a or b.
	Mul(out, a, b []float32)
	// MulAcc: y[n] += a[n]·b[n].
	MulAcc(y, a, b []float32)
	// DropoutMask: mask[n] = 0 with probability p, else 1/(1−p), from a counter-based hash of (key, i): the same key gives the same mask on every backend.
	DropoutMask(mask []float32, p float32, key uint64)

	// SegmentSum: out[S] WRITES Σ_{i<n: seg[i]=s} x[i] (float64 accumulation) for s < S; seg[i] outside [0,S) is skipped (per-sequence sums of per-token values).
	SegmentSum(out, x []float32, seg []int32, n, s int)
	// Gather: out[i] = x[idx[i]] for i < n (spreading a per-sequence gradient over its tokens).
	Gather(out, x []float32, idx []int32, n int)

	// LogSoftmaxGatherForward: logp[N] = log_softmax(logits[N,V])[labels[N]] (0 where label < 0), lse[N] saved; the non-nil fields of st [N] filled.
	LogSoftmaxGatherForward(logp, lse []float32, st LogitStats, logits []float32, labels []int32, n, v int)
	// LogSoftmaxGatherBackward: dlogits[N,V] WRITES dlogp[N]·(onehot(label) − softmax(logits)) (rows with label < 0 get 0); dlogits may alias logits.
	LogSoftmaxGatherBackward(dlogits, dlogp, logits, lse []float32, labels []int32, n, v int)

	// AdamWStep: one torch.optim.AdamW step (decoupled decay, bias correction) on flat p, g, m, v[n]; step counts from 1.
	AdamWStep(p, g, m, v []float32, step int, lr, beta1, beta2, eps, weightDecay float32)
	// SGDStep: torch.optim.SGD step on flat p, g[n]: d = g + wd·p; buf = momentum·buf + d (buf = d at step 1); p -= lr·buf; buf nil when momentum = 0.
	SGDStep(p, g, buf []float32, step int, lr, momentum, weightDecay float32)
	// SumSquares: Σ x[n]² in float64 (one call over the flat gradient buffer gives the global norm for clipping).
	SumSquares(x []float32) float64
}

// LogitStats are optional per-row statistics of the next-token distribution that
// LogSoftmaxGatherForward fills while the logits are at hand; nil fields are skipped.
type LogitStats struct {
	Entropy   []float32 // [N] −Σ p·log p
	MeanLogit []float32 // [N] Σ_v logits / V (TRL's logits/chosen metric)
	LogSumP2  []float32 // [N] log Σ_v p² = logsumexp(2·logits) − 2·lse (WPO weights)
}

// SharedPromptAttention is an optional Backend interface: attention where a completion
// also sees the keys of a prompt stored once (Batch.Parents). Without it the model
// lays prompts out once per completion.
type SharedPromptAttention interface {
	// AttentionForwardShared: AttentionForward where query i also sees the keys j ≤ i of segment parent[i] ≥ 0 (a prompt shared by several completions); parent[B·T] nil = AttentionForward.
	AttentionForwardShared(out, lse, q, k, v []float32, seg, parent []int32, b, t, nh, nkv, hd, window int)
	// AttentionBackwardShared: the backward of AttentionForwardShared; the shared keys' dk, dv accumulate every query that saw them.
	AttentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse []float32, seg, parent []int32, b, t, nh, nkv, hd, window int)
}

// FusedSwiGLU is an optional Backend interface: SwiGLU on the output of one fused
// gate|up projection. Without it the model runs gate_proj and up_proj separately.
type FusedSwiGLU interface {
	// SwiGLUForwardFused: out[N,F] = silu(gu[:, :F])·gu[:, F:] from the fused gate|up projection gu[N,2F].
	SwiGLUForwardFused(out, gu []float32, n, f int)
	// SwiGLUBackwardFused: dgu[N,2F] WRITES (dgate | dup) from dout[N,F] and gu[N,2F] (no zeroing pass needed).
	SwiGLUBackwardFused(dgu, dout, gu []float32, n, f int)
}
