// Package cpu is the CPU implementation of kernels.Backend.
//
// GEMM goes to OpenBLAS (cblas_sgemm), loaded with dlopen at first use so
// that OPENBLAS_CORETYPE can be set before OpenBLAS initialises (see package
// kernels/cpu/openblas). Without cgo, with the build tag noblas, with
// PREFTUNE_NOBLAS=1, or when libopenblas cannot be loaded, a blocked,
// parallel pure-Go GEMM is used instead (correct, roughly 15–30× slower).
//
// Every other kernel is Go, split over a fixed pool of worker goroutines
// started by New (the caller's goroutine is worker 0). A parallel loop
// allocates nothing: each kernel fills an argument struct kept in the
// Backend and hands the pool a pointer to it. Scratch (the pure-Go GEMM's
// packing panel, per-worker partial sums, attention's two [128,T] score
// blocks) is allocated by New or grown on the first call with a larger T.
//
// Threads: New(threads) uses threads Go workers and runs OpenBLAS
// single-threaded: Sgemm splits a large product into panels of C's rows (or
// columns) that the workers compute with one OpenBLAS call each, so the
// pool's workers are the only threads doing work. (With OpenBLAS's own
// threads, they spin waiting for the next GEMM while Go loops run, two pools
// on the same cores; Options.BLASThreads or PREFTUNE_BLAS_THREADS > 1 brings
// that mode back for comparison.) Attention is parallel across heads: each
// worker takes (row, head, query block) items forward and (row, kv head)
// items backward, calling single-threaded GEMMs on its own scratch.
//
// Element-wise loops with an exp per element (log-softmax and its backward,
// SwiGLU, attention probabilities) and AdamW run in C from package
// kernels/cpu/vec, which GCC vectorises (AVX-512 / AVX2 / SSE2 clones picked
// at load time); the Go versions remain for builds without cgo and with
// Options.NoVec or PREFTUNE_NOVEC=1, and the kernel tests check both.
package cpu
