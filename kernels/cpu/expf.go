package cpu

import "math"

// expf is a fast float32 e^x, relative error below 3e-7 for normal results.
// x is split as k·ln2 + r with k = round(x·log2e) (by the 1.5·2²³ rounding
// trick) and |r| ≤ ln2/2 (two-part ln2), e^r is its Taylor polynomial to r⁷
// (truncation < 6e-9) and 2^k is built in the exponent bits. x is clamped to
// [−87.33, 88.37], so tiny results stop at about 1.2e-38 (the smallest
// normal float32) and huge ones at about 2.5e38 instead of +Inf; NaN
// propagates. It is small enough for the compiler to inline into the
// softmax and SiLU loops.
func expf(x float32) float32 {
	x = min(max(x, -87.33), 88.37) // NaN stays NaN (and poisons r, so the result)
	const (
		log2e  = 1.44269504
		ln2hi  = 0.693145752 // 0x3f317200: exact with a few bits to spare
		ln2lo  = 1.42860677e-06
		shift  = 12582912 // 1.5·2²³: adding and subtracting rounds to an integer
		inv6   = 1.0 / 6
		inv24  = 1.0 / 24
		inv120 = 1.0 / 120
		inv720 = 1.0 / 720
		inv5k  = 1.0 / 5040
	)
	kf := (x*log2e + shift) - shift
	r := (x - kf*ln2hi) - kf*ln2lo
	p := 1 + r*(1+r*(0.5+r*(inv6+r*(inv24+r*(inv120+r*(inv720+r*inv5k))))))
	return p * math.Float32frombits(uint32(int32(kf)+127)<<23)
}
