package cpu

// Temporary stubs; replaced by the real kernels.

func (be *Backend) Name() string { panic("todo") }

func (be *Backend) Threads() int { panic("todo") }

func (be *Backend) Alloc(n int) []float32 { panic("todo") }

func (be *Backend) AllocInt32(n int) []int32 { panic("todo") }

func (be *Backend) Sync() // Close releases the backend's workers and scratch memory. { panic("todo") }

func (be *Backend) Close() // Sgemm: C[m,n] = alpha·op(A)[m,k]·op(B)[k,n] + beta·C; row-major, op(X)=Xᵀ when transX; lda/ldb/ldc are row strides of A, B, C as stored. { panic("todo") }

func (be *Backend) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) // LinearForward: out[N,OC] (= or += when accumulate) scale·(inp[N,C]·W[OC,C]ᵀ + bias[OC]); bias may be nil. { panic("todo") }

func (be *Backend) LinearForward(out, inp, w, bias []float32, n, c, oc int, scale float32, accumulate bool) // LinearBackward: dinp[N,C] += scale·dout[N,OC]·W; dw[OC,C] += scale·doutᵀ·inp; dbias[OC] += scale·Σ_n dout; any grad may be nil. { panic("todo") }

func (be *Backend) LinearBackward(dinp, dw, dbias, dout, inp, w []float32, n, c, oc int, scale float32) // EmbeddingForward: out[N,C] = table[V,C][ids[N]]; ids must lie in [0,V). { panic("todo") }

func (be *Backend) EmbeddingForward(out []float32, ids []int32, table []float32, n, c, v int) // EmbeddingBackward: dtable[V,C][ids[n]] += dout[N,C][n] (scatter-add; repeated ids sum). { panic("todo") }

func (be *Backend) EmbeddingBackward(dtable []float32, ids []int32, dout []float32, n, c, v int) // RMSNormForward: out[N,C] = inp·rstd[N]·w[C], rstd = 1/sqrt(mean(inp²)+eps) saved; out may alias inp. Qwen3 q/k norm: N·NH rows of width HD. { panic("todo") }

func (be *Backend) RMSNormForward(out, rstd, inp, w []float32, n, c int, eps float32) // RMSNormBackward: dinp[N,C] += ∂, dw[C] += ∂ (dw may be nil) from dout[N,C], inp[N,C], w[C], rstd[N]. { panic("todo") }

func (be *Backend) RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, n, c int) // RoPEForward: x[N,H,HD] rotated in place (HF rotate-half layout) at positions pos[N] using cos/sin[maxPos,HD/2] (see RopeTables). { panic("todo") }

func (be *Backend) RoPEForward(x []float32, pos []int32, cos, sin []float32, n, h, hd int) // RoPEBackward: dx[N,H,HD] rotated back in place (inverse rotation = the exact gradient of RoPEForward). { panic("todo") }

func (be *Backend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, n, h, hd int) // AttentionForward: out[B,T,NH,HD] = softmax(q·kᵀ/sqrt(HD) + mask)·v with q[B,T,NH,HD], k,v[B,T,NKV,HD], seg[B·T], window (0 = none); saves lse[B,NH,T]. { panic("todo") }

func (be *Backend) AttentionForward(out, lse, q, k, v []float32, seg []int32, b, t, nh, nkv, hd, window int) // AttentionBackward: dq[B,T,NH,HD], dk,dv[B,T,NKV,HD] += ∂ from dout[B,T,NH,HD] and the forward's q, k, v, out, lse, seg, window (scores recomputed). { panic("todo") }

func (be *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, seg []int32, b, t, nh, nkv, hd, window int) // SwiGLUForward: out[n] = silu(gate[n])·up[n] over n = N·F elements. { panic("todo") }

func (be *Backend) SwiGLUForward(out, gate, up []float32, n int) // SwiGLUBackward: dgate[n] += dout·up·silu'(gate), dup[n] += dout·silu(gate). { panic("todo") }

func (be *Backend) SwiGLUBackward(dgate, dup, dout, gate, up []float32, n int) // Add: out[n] = a[n] + b[n] (residual forward); out may alias a or b. { panic("todo") }

func (be *Backend) Add(out, a, b []float32) // Axpy: y[n] += alpha·x[n] (residual backward with alpha 1). { panic("todo") }

func (be *Backend) Axpy(y []float32, alpha float32, x []float32) // Scale: x[n] *= alpha. { panic("todo") }

func (be *Backend) Scale(x []float32, alpha float32) // Zero: x[n] = 0. { panic("todo") }

func (be *Backend) Zero(x []float32) // Copy: dst[n] = src[n]; len(dst) must be ≥ len(src). { panic("todo") }

func (be *Backend) Copy(dst, src []float32) // LogSoftmaxGatherForward: logp[N] = log_softmax(logits[N,V])[labels[N]] (0 where label < 0), lse[N] saved; entropy[N] of the softmax when non-nil. { panic("todo") }

func (be *Backend) LogSoftmaxGatherForward(logp, lse, entropy, logits []float32, labels []int32, n, v int) // LogSoftmaxGatherBackward: dlogits[N,V] WRITES dlogp[N]·(onehot(label) − softmax(logits)) (rows with label < 0 get 0); dlogits may alias logits. { panic("todo") }

func (be *Backend) LogSoftmaxGatherBackward(dlogits, dlogp, logits, lse []float32, labels []int32, n, v int) // AdamWStep: one torch.optim.AdamW step (decoupled decay, bias correction) on flat p, g, m, v[n]; step counts from 1. { panic("todo") }

func (be *Backend) AdamWStep(p, g, m, v []float32, step int, lr, beta1, beta2, eps, weightDecay float32) // SGDStep: torch.optim.SGD step on flat p, g[n]: d = g + wd·p; buf = momentum·buf + d (buf = d at step 1); p -= lr·buf; buf nil when momentum = 0. { panic("todo") }

func (be *Backend) SGDStep(p, g, buf []float32, step int, lr, momentum, weightDecay float32) // SumSquares: Σ x[n]² in float64 (sum over all grad buffers, sqrt, for global-norm clipping). { panic("todo") }

func (be *Backend) SumSquares(x []float32) float64 { panic("todo") }
