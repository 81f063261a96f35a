//go:build cgo && !noblas && !novec

package vec

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "vec.h"
*/
import "C"

import "unsafe"

// Available reports whether the C loops are compiled in.
const Available = true

func f32(x []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(x))) }

func i32(x []int32) *C.int32_t { return (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(x))) }

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// LSMForward: one row x[V]: lse, logp = x[label] − lse (0 when label < 0) and, for each
// non-nil pointer, the entropy, the mean logit and log Σ p².
func LSMForward(x []float32, label int32, lse, logp, ent, mean, lsp2 *float32) {
	C.vec_lsm_fwd(f32(x), C.int(len(x)), C.int(label), (*C.float)(lse), (*C.float)(logp), (*C.float)(ent), (*C.float)(mean), (*C.float)(lsp2))
}

// LSMBackward: d[V] = −g·e^(x−lse), then d[label] += g (d may alias x; label ≥ 0).
func LSMBackward(d, x []float32, label int32, g, lse float32) {
	C.vec_lsm_bwd(f32(d), f32(x), C.int(len(x)), C.int(label), C.float(g), C.float(lse))
}

// SwiGLUForward: out[n] = silu(gate)·up.
func SwiGLUForward(out, gate, up []float32) {
	C.vec_swiglu_fwd(f32(out), f32(gate), f32(up), C.int(len(out)))
}

// SwiGLUBackward: dgate[n] += dout·up·silu'(gate), dup[n] += dout·silu(gate); either may be nil.
func SwiGLUBackward(dgate, dup, dout, gate, up []float32) {
	C.vec_swiglu_bwd(f32(dgate), f32(dup), f32(dout), f32(gate), f32(up), C.int(len(dout)))
}

// AttnProbs: scores s[qb,nk] → probabilities in place (see cpu.attnRowProbs); parent may be nil.
func AttnProbs(s []float32, seg, parent []int32, lse []float32, i0, qb, k0, nk, window int, fresh bool) {
	C.vec_attn_probs(f32(s), i32(seg), i32(parent), f32(lse), C.int(i0), C.int(qb), C.int(k0), C.int(nk), C.int(window), b2i(fresh))
}

// AdamW: one AdamW update over p, g, m, v[n] with the backend's precomputed constants.
func AdamW(p, g, m, v []float32, beta1, beta2, c1, c2, decay, bc2sqrt, eps, step float32) {
	C.vec_adamw(f32(p), f32(g), f32(m), f32(v), C.int(len(p)), C.float(beta1), C.float(beta2), C.float(c1), C.float(c2),
		C.float(decay), C.float(bc2sqrt), C.float(eps), C.float(step))
}

// ToBF16: dst[i] = src[i] rounded to bf16 (nearest even; NaN stays a quiet NaN).
func ToBF16(dst []uint16, src []float32) {
	C.vec_to_bf16((*C.uint16_t)(unsafe.Pointer(unsafe.SliceData(dst))), f32(src), C.int(len(src)))
}
