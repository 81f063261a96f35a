package loss

import "math"

// softplus returns log(1 + e^x) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// logSigmoid returns log σ(x) = −softplus(−x), accurate for large |x|.
func logSigmoid(x float64) float64 { return -softplus(-x) }

// sigmoid returns σ(x) = 1/(1+e^−x) without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// sigmoidSlope returns σ'(x) = σ(x)·σ(−x), accurate in both tails (σ(x)·(1 − σ(x)) loses
// every digit once σ(x) rounds to 1).
func sigmoidSlope(x float64) float64 { return sigmoid(x) * sigmoid(-x) }

// log1mExp returns log(1 − e^x) for x < 0 (ORPO's log1p(−exp(x))), choosing the accurate form.
func log1mExp(x float64) float64 {
	if x > -math.Ln2 {
		return math.Log(-math.Expm1(x))
	}
	return math.Log1p(-math.Exp(x))
}

// tokenCount returns n as a float, clamped below at 1 as TRL clamps completion lengths.
func tokenCount(n int) float64 {
	if n < 1 {
		return 1
	}
	return float64(n)
}

// mean returns the arithmetic mean of xs (0 for an empty slice).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
