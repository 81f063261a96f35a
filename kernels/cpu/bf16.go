package cpu

import (
	"fmt"
	"github.com/preftune/preftune/internal/goroutine"
	"github.com/preftune/preftune/kernels/cpu/vec"
	"math"
	"sync"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/cpu/dnnl"
)

var (
	_ kernels.BF16Matmul = (*Backend)(nil)
	_ kernels.HostBF16   = (*Backend)(nil)
)

var (
	bf16Once sync.Once
	bf16Err  error
	bf16Info string
)

// BF16Ready loads oneDNN and runs one small product to see that this CPU takes it.
func (b *Backend) BF16Ready() error {
	bf16Once.Do(func() {
		info, err := dnnl.Load(b.threads)
		if err != nil {
			bf16Err = err
			return
		}
		one := uint16(0x3f80) // 1.0
		a, w := []uint16{one, one}, []uint16{one, one}
		c := []float32{0}
		if err := dnnl.GemmBF16(false, true, 1, 1, 2, 1, a, 2, w, 2, 0, c, 1); err != nil {
			bf16Err = err
			return
		}
		if c[0] != 2 {
			bf16Err = fmt.Errorf("onednn: bf16 GEMM self-check gave %g, want 2", c[0])
			return
		}
		bf16Info = info
	})
	if bf16Err == nil {
		dnnl.Load(b.threads) // this backend's thread count
	}
	return bf16Err
}

// BF16Info describes the bf16 GEMM library once BF16Ready succeeded.
func BF16Info() string { return bf16Info }

func (b *Backend) AllocBF16(n int) []uint16 { return make([]uint16, n) }

// BF16InHostMemory: this backend's memory is the host's (kernels.HostBF16).
func (b *Backend) BF16InHostMemory() bool { return true }
func (b *Backend) FreeBF16(x []uint16)    {}
func (b *Backend) UploadBF16(dst, src []uint16) {
	copy(dst[:len(src)], src)
}

// ToBF16 rounds to nearest even (NaN stays NaN), in parallel chunks.
func (b *Backend) ToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := len(src)
	conv := toBF16
	if b.vec {
		conv = vec.ToBF16 // the same bits, vectorised
	}
	goroutine.Ranges(n, min(b.threads, n/(1<<15)), func(lo, hi int) { conv(dst[lo:hi], src[lo:hi]) })
}

func toBF16(dst []uint16, src []float32) {
	for i, f := range src {
		u := math.Float32bits(f)
		if u&0x7fffffff > 0x7f800000 {
			dst[i] = uint16(u>>16) | 0x40 // quiet NaN
			continue
		}
		dst[i] = uint16((u + 0x7fff + (u>>16)&1) >> 16)
	}
}

// GemmBF16 runs oneDNN's dnnl_gemm_bf16bf16f32. BF16Ready must have succeeded; a failure
// after that is a programmer error (shapes), so it panics as the other kernels do.
func (b *Backend) GemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, w []uint16, ldb int, beta float32, c []float32, ldc int) {
	if err := dnnl.GemmBF16(transA, transB, m, n, k, alpha, a, lda, w, ldb, beta, c, ldc); err != nil {
		panic(fmt.Sprintf("cpu: GemmBF16 %dx%dx%d: %v", m, n, k, err))
	}
}
