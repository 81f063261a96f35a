package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/preftune/preftune/kernels/cpu/vec"
)

// TestToBF16VecBits: the C conversion gives the Go loop's bits on every class of input
// (ties to even both ways, NaNs, infinities, denormals, ±0, the overflow to Inf) and on
// random bit patterns; the Go loop itself is checked against float64 rounding.
func TestToBF16VecBits(t *testing.T) {
	if !vec.Available {
		t.Skip("C loops not compiled in")
	}
	bits := []uint32{0, 0x80000000, 0x00000001, 0x007fffff, 0x00008000, 0x00018000, 0x3f808000, 0x3f818000,
		0x3f80ffff, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7f800001, 0x7fc00000, 0xffffffff, 0x7fbfffff}
	r := rand.New(rand.NewSource(1))
	for len(bits) < 1<<16 {
		bits = append(bits, r.Uint32())
	}
	src := make([]float32, len(bits))
	for i, b := range bits {
		src[i] = math.Float32frombits(b)
	}
	want := make([]uint16, len(src))
	got := make([]uint16, len(src))
	toBF16(want, src)
	vec.ToBF16(got, src)
	for i := range src {
		if got[i] != want[i] {
			t.Fatalf("%#08x: C %#04x, Go %#04x", bits[i], got[i], want[i])
		}
		f := src[i]
		if f != f {
			if g := math.Float32frombits(uint32(want[i]) << 16); g == g {
				t.Fatalf("%#08x: NaN became %v", bits[i], g)
			}
			continue
		}
		// round to nearest even by hand in float64: the two bf16 neighbours of f
		lo := math.Float32frombits(bits[i] &^ 0xffff)
		hi := math.Float32frombits((bits[i] &^ 0xffff) + 0x10000)
		hi64 := float64(hi)
		if math.IsInf(hi64, 0) { // IEEE rounds past the largest bf16 as if to ±2^128, then overflows
			hi64 = math.Copysign(math.Ldexp(1, 128), hi64)
		}
		dl, dh := math.Abs(float64(f)-float64(lo)), math.Abs(hi64-float64(f))
		exp := lo
		if dh < dl || (dh == dl && (bits[i]>>16)&1 == 1) || math.IsInf(float64(f), 0) {
			exp = hi
		}
		if math.IsInf(float64(f), 0) || bits[i]&0xffff == 0 {
			exp = f
		}
		if g := math.Float32frombits(uint32(want[i]) << 16); g != exp {
			t.Fatalf("%#08x (%g): Go gives %g, nearest even is %g", bits[i], f, g, exp)
		}
	}
}
