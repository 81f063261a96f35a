package safetensors

import "math"

// DType is a safetensors element type, spelled as in the header ("F32", "BF16", ...).
type DType string

// The element types of the safetensors format. All are little-endian on disk.
const (
	BOOL    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	F8E5M2  DType = "F8_E5M2"
	F8E4M3  DType = "F8_E4M3"
	I16     DType = "I16"
	U16     DType = "U16"
	F16     DType = "F16"
	BF16    DType = "BF16"
	I32     DType = "I32"
	U32     DType = "U32"
	F32     DType = "F32"
	F64     DType = "F64"
	I64     DType = "I64"
	U64     DType = "U64"
	unknown DType = ""
)

// dtypeSizes maps every dtype the format defines to its element size in bytes.
var dtypeSizes = map[DType]int{
	BOOL: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// Size is the element size in bytes, or 0 for a dtype the format does not define.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a dtype the safetensors format defines.
func (d DType) Valid() bool { return d.Size() > 0 }

// Float32Readable reports whether ReadFloat32 accepts tensors of this dtype.
func (d DType) Float32Readable() bool {
	switch d {
	case F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL:
		return true
	}
	return false
}

// bf16ToF32 widens a bfloat16 bit pattern: exact, the 16 bits become the high half.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f32ToBF16 rounds to the nearest bfloat16, ties to even, as PyTorch's CPU kernels do.
// Overflow rounds to ±Inf. Every NaN becomes 0xFFFF, the pattern PyTorch's vectorized
// x86 conversion writes (its scalar fallback writes 0x7FC0; both are NaN).
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7FFFFFFF > 0x7F800000 {
		return 0xFFFF
	}
	// Adding 0x7FFF plus the lowest kept bit rounds half-way cases to the even neighbour.
	b += 0x7FFF + (b>>16)&1
	return uint16(b >> 16)
}

// f16ToF32 widens an IEEE half-precision bit pattern exactly. NaNs keep sign and payload
// and get the quiet bit set, as x86 F16C (used by PyTorch) does.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1F
	mant := uint32(h) & 0x3FF
	switch {
	case exp == 0x1F && mant == 0:
		return math.Float32frombits(sign | 0x7F800000)
	case exp == 0x1F:
		return math.Float32frombits(sign | 0x7FC00000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		// Subnormal: value = mant * 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// f32ToF16 rounds to the nearest half-precision value, ties to even; overflow gives ±Inf,
// values below half the smallest subnormal give ±0, every NaN gives sign|0x7E00 (as F16C).
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	abs := b & 0x7FFFFFFF
	switch {
	case abs > 0x7F800000:
		return sign | 0x7E00
	case abs >= 0x477FF000:
		// 65520 = max half (65504) + half an ulp: at or above it rounds to infinity.
		return sign | 0x7C00
	case abs >= 0x38800000:
		// Normal half range (>= 2^-14): rebias the exponent, round the 13 dropped bits.
		v := abs - (112 << 23)
		v += 0xFFF + (v>>13)&1
		return sign | uint16(v>>13)
	case abs < 0x33000000:
		// Below 2^-25, half of the smallest subnormal: rounds to zero (2^-25 itself ties to 0).
		return sign
	}
	// Subnormal half: value/2^-24 rounded to an integer, ties to even.
	exp := abs >> 23
	mant := abs&0x7FFFFF | 0x800000
	shift := 126 - exp // mant * 2^(exp-150) / 2^-24 = mant >> (126-exp)
	q := mant >> shift
	rem := mant & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return sign | uint16(q)
}

// RoundTo rounds f to the nearest value of float dtype d (ties to even, as PyTorch's
// CPU .to(dtype) does) and widens it back: F32 and F64 keep f, BF16 and F16 round.
func RoundTo(d DType, f float32) float32 {
	switch d {
	case BF16:
		return bf16ToF32(f32ToBF16(f))
	case F16:
		return f16ToF32(f32ToF16(f))
	}
	return f
}

// BF16Bits is f rounded to bfloat16 (ties to even), as its bit pattern.
func BF16Bits(f float32) uint16 { return f32ToBF16(f) }

// FromBF16Bits widens a bfloat16 bit pattern to float32 (exact).
func FromBF16Bits(h uint16) float32 { return bf16ToF32(h) }

// FromF16Bits widens an IEEE half bit pattern to float32 (exact).
func FromF16Bits(h uint16) float32 { return f16ToF32(h) }

// F16Bits rounds f to the nearest IEEE half (ties to even) and returns its bits.
func F16Bits(f float32) uint16 { return f32ToF16(f) }
