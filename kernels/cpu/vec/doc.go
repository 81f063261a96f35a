// Package vec holds the element-wise inner loops of the CPU backend written in C, so
// that GCC vectorises them (AVX-512, AVX2+FMA or SSE2, chosen at load time through
// target_clones): the row log-softmax and its backward, SwiGLU and its backward, the
// attention probabilities of a block of queries, and AdamW. Go has no SIMD in its
// standard toolchain, and these loops (one exp per element) take a third of a small
// model's step when written in scalar Go.
//
// Each function works on one contiguous range and is called by the CPU backend's
// workers, one cgo call per chunk (~100 ns, against chunks of tens of microseconds).
// The exp is the backend's expf (same range reduction and degree-7 polynomial) so the
// results agree with the Go loops to a few ulps.
//
// Without cgo, or with the build tag noblas or novec, Available is false and the
// backend keeps its Go loops.
package vec
