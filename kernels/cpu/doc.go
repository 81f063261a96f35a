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
// Threads: New(threads) uses threads Go workers and gives OpenBLAS the same
// count (openblas_set_num_threads, a process-wide setting: the last New
// wins). Go loops and OpenBLAS calls never run at the same time, so the two
// pools together keep threads cores busy rather than twice that.
package cpu
