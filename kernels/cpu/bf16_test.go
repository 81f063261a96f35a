package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
)

// GemmBF16 against a float64 product of the same bf16 values, all four transposes and
// strided operands; ToBF16 against the safetensors rounding (PyTorch's).
func TestGemmBF16(t *testing.T) {
	be := New(2)
	defer be.Close()
	if err := be.BF16Ready(); err != nil {
		t.Skipf("no bf16 GEMM here: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m, n, k := 37, 29, 70
	for _, tc := range []struct{ ta, tb bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		ar, ac := m, k
		if tc.ta {
			ar, ac = k, m
		}
		br, bc := k, n
		if tc.tb {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+3, bc+5, n+2
		af := make([]float32, ar*lda)
		bf := make([]float32, br*ldb)
		for i := range af {
			af[i] = safetensors.RoundTo(safetensors.BF16, float32(rng.NormFloat64()))
		}
		for i := range bf {
			bf[i] = safetensors.RoundTo(safetensors.BF16, float32(rng.NormFloat64()))
		}
		a, b := be.AllocBF16(len(af)), be.AllocBF16(len(bf))
		be.ToBF16(a, af)
		be.ToBF16(b, bf)
		for i := range af {
			if a[i] != safetensors.BF16Bits(af[i]) {
				t.Fatalf("ToBF16 %g: %04x, want %04x", af[i], a[i], safetensors.BF16Bits(af[i]))
			}
		}
		c := make([]float32, m*ldc)
		for i := range c {
			c[i] = 1
		}
		be.GemmBF16(tc.ta, tc.tb, m, n, k, 0.5, a, lda, b, ldb, 2, c, ldc)
		at := func(i, p int) float64 {
			if tc.ta {
				return float64(af[p*lda+i])
			}
			return float64(af[i*lda+p])
		}
		bt := func(p, j int) float64 {
			if tc.tb {
				return float64(bf[j*ldb+p])
			}
			return float64(bf[p*ldb+j])
		}
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					s += at(i, p) * bt(p, j)
				}
				want := 0.5*s + 2
				if e := math.Abs(float64(c[i*ldc+j]) - want); !(e <= 1e-4*(1+math.Abs(want))) {
					t.Fatalf("ta=%v tb=%v c[%d,%d] = %g, want %g", tc.ta, tc.tb, i, j, c[i*ldc+j], want)
				}
			}
		}
	}
}
