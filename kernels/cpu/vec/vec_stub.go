//go:build !cgo || noblas || novec

package vec

// Available reports whether the C loops are compiled in (not in this build).
const Available = false

// The functions below are never called when Available is false.

func LSMForward(x []float32, label int32, lse, logp, ent, mean, lsp2 *float32) {
	panic("vec: not available")
}
func LSMBackward(d, x []float32, label int32, g, lse float32) { panic("vec: not available") }
func SwiGLUForward(out, gate, up []float32)                   { panic("vec: not available") }
func SwiGLUBackward(dgate, dup, dout, gate, up []float32)     { panic("vec: not available") }
func AttnProbs(s []float32, seg, parent []int32, lse []float32, i0, qb, k0, nk, w int, fresh bool) {
	panic("vec: not available")
}
func AdamW(p, g, m, v []float32, beta1, beta2, c1, c2, decay, bc2sqrt, eps, step float32) {
	panic("vec: not available")
}
func ToBF16(dst []uint16, src []float32) {
	panic("vec: not available")
}
