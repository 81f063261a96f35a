//go:build !cgo || noblas

package dnnl

import "errors"

// Load reports that this build has no oneDNN (built without cgo or with -tags noblas).
func Load(threads int) (string, error) {
	return "", errors.New("onednn: this build has no cgo")
}

// GemmBF16 is unavailable in this build.
func GemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) error {
	return errors.New("onednn: this build has no cgo")
}
