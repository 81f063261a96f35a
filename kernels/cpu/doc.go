// Package cpu is the CPU implementation of kernels.Backend.
//
// GEMM goes to OpenBLAS (cblas_sgemm), loaded with dlopen at first use so
// that OPENBLAS_CORETYPE can be set first (see package
// kernels/cpu/openblas); without cgo, with the build tag noblas, or when
// libopenblas cannot be loaded, a blocked, parallel pure-Go GEMM is used.
// Every other kernel is Go, split over a fixed pool of worker goroutines.
package cpu
