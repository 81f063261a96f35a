package kernels

import (
	"math"
	"slices"
)

// Argmax is the index of the largest value (the first one on a tie; NaN never wins).
func Argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// SampleRow picks the next token from one row of logits. With temperature 0 it is
// Argmax. Otherwise it draws from softmax(logits/temperature) (float64) restricted,
// when 0 < topP < 1, to the nucleus: the most likely tokens (ties: lower id first) up
// to the first whose cumulative probability reaches topP, as transformers'
// TemperatureLogitsWarper and TopPLogitsWarper keep them. The draw is the inverse
// CDF at u·mass over the candidates (in id order without top-p, in the nucleus order
// with it), u ∈ [0,1) being the caller's uniform number, so the same u gives the same
// token on every backend. probs and order are scratch of at least len(logits).
func SampleRow(logits []float32, temperature, topP, u float64, probs []float64, order []int32) int32 {
	if temperature == 0 {
		return Argmax(logits)
	}
	v := len(logits)
	probs, order = probs[:v], order[:v]
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = max(mx, float64(l))
	}
	var sum float64
	for i, l := range logits {
		e := math.Exp((float64(l) - mx) / temperature)
		probs[i] = e
		sum += e
	}
	for i := range probs {
		probs[i] /= sum
		order[i] = int32(i)
	}
	if topP > 0 && topP < 1 {
		slices.SortStableFunc(order, func(a, b int32) int {
			switch pa, pb := probs[a], probs[b]; {
			case pa > pb:
				return -1
			case pa < pb:
				return 1
			}
			return 0
		})
		var cum float64
		for k, id := range order {
			cum += probs[id]
			if cum >= topP {
				order = order[:k+1]
				break
			}
		}
	}
	var mass float64
	for _, id := range order {
		mass += probs[id]
	}
	x := u * mass
	for _, id := range order {
		x -= probs[id]
		if x < 0 {
			return id
		}
	}
	return order[len(order)-1]
}

// Unit32 rounds a uniform number in [0,1) (e.g. rand.Float64) to the float32 that
// TokenSampler's u holds, staying below 1.
func Unit32(u float64) float32 {
	f := float32(u)
	if f >= 1 {
		f = math.Nextafter32(1, 0)
	}
	return f
}
