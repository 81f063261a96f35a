// Package dnnl loads oneDNN (Debian libdnnl2, the library PyTorch's CPU bf16 path uses)
// at run time and exposes its BLAS-like dnnl_gemm_bf16bf16f32: C = α·op(A)·op(B) + β·C
// with bfloat16 A and B, float32 accumulation and a float32 C, row-major. On a CPU with
// AVX512-BF16 oneDNN runs it with vdpbf16ps; elsewhere it emulates or refuses, and the
// caller falls back to float32.
//
// As with OpenBLAS the library is opened with dlopen, so the binary builds and runs where
// oneDNN is not installed (then Available reports why). oneDNN threads through OpenMP
// (libgomp); Load sets omp_set_num_threads and a passive wait policy so its idle threads
// do not spin against OpenBLAS's and Go's.
package dnnl
