// Package openblas loads OpenBLAS at run time and exposes cblas_sgemm.
//
// The library is opened with dlopen on first use rather than linked, for one
// reason: OpenBLAS picks its CPU kernels in a constructor that runs when the
// library is loaded, reading OPENBLAS_CORETYPE from the environment. A linked
// library would initialise before any Go code runs. OpenBLAS 0.3.21 (Debian
// 12) does not recognise recent AVX-512 Xeons and falls back to a slow
// generic kernel; Load therefore sets OPENBLAS_CORETYPE=SkylakeX first when
// the variable is unset and the CPU reports avx512f. Set OPENBLAS_CORETYPE
// yourself to choose another kernel (kept as given; when it names an AVX2 core
// type such as Haswell on a CPU with AVX-512, the backend description says so:
// on a 2-core Zen 4 that halved the fp32 step), or PREFTUNE_OPENBLAS_NO_CORETYPE=1 to
// leave OpenBLAS's own detection alone (used by the benchmark that measures
// the fix). PREFTUNE_OPENBLAS names the library file to open; by default
// libopenblas.so.0, then libopenblas.so.
//
// Without cgo, or with the build tag noblas, Load always reports that
// OpenBLAS is unavailable and callers use their pure-Go GEMM.
package openblas
