//go:build !cgo || noblas

package openblas

import "errors"

// Load reports that OpenBLAS is unavailable in this build (no cgo, or the
// noblas build tag).
func Load(threads int) (string, error) {
	return "", errors.New("openblas: not available in this build (no cgo or tag noblas)")
}

// Threads returns 0: OpenBLAS is not available in this build.
func Threads() int { return 0 }

// SetThreads does nothing: OpenBLAS is not available in this build.
func SetThreads(n int) {}

// Config returns "": OpenBLAS is not available in this build.
func Config() string { return "" }

// Sgemm panics: Load never succeeds in this build.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("openblas: not available in this build")
}
