package kernels

// BF16Matmul is an optional Backend interface: GEMM with bfloat16 operands, float32
// accumulation and a float32 result — the bf16 compute path for frozen weights
// (bnb_4bit_compute_dtype / bf16: true / --compute-dtype bfloat16). A backend
// without it computes in float32.
type BF16Matmul interface {
	// BF16Ready reports whether GemmBF16 can run here (library present, CPU support), and why not.
	BF16Ready() error
	// AllocBF16 returns a zeroed buffer of n bfloat16 bit patterns usable by the ops below; FreeBF16 releases it.
	AllocBF16(n int) []uint16
	FreeBF16(x []uint16)
	// UploadBF16: dst[n] = src[n], dst from AllocBF16, src host memory.
	UploadBF16(dst, src []uint16)
	// ToBF16: dst[n] = bf16(src[n]) rounded to nearest even; src from Alloc, dst from AllocBF16.
	ToBF16(dst []uint16, src []float32)
	// GemmBF16: C[m,n] = alpha·op(A)[m,k]·op(B)[k,n] + beta·C, A and B bfloat16 (from AllocBF16), C float32 from Alloc; row-major, lda/ldb/ldc row strides as stored.
	GemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int)
}

// HostBF16 is an optional BF16Matmul extension: the backend's bf16 buffers are host
// memory, so host bf16 slices — frozen weights as they are stored — are GemmBF16
// operands as they are (no staging copy, no upload). A device backend leaves it out
// (or reports false) and weights are uploaded per use.
type HostBF16 interface {
	BF16InHostMemory() bool
}
