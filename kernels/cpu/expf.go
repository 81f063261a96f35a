package cpu

import "math"

// expf is a fast float32 e^x (relative error below 2e-7 over the float32
// range): x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by
// its Taylor polynomial to r⁸, times 2^k built from float64 bits (so float32
// subnormals and overflow to +Inf come out right). NaN propagates.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < -104:
		return 0
	case x > 89:
		return float32(math.Inf(1))
	}
	const (
		log2e = 1.4426950408889634
		ln2hi = 0.693145751953125
		ln2lo = 1.4286068203094172321e-06
	)
	kf := math.Floor(float64(x)*log2e + 0.5)
	r := float64(x) - kf*ln2hi - kf*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	return float32(p * math.Float64frombits(uint64(int64(kf)+1023)<<52))
}

// sigmoid is 1/(1+e^-x) in float32.
func sigmoid(x float32) float32 {
	return 1 / (1 + expf(-x))
}
