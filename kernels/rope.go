package kernels

import (
	"fmt"
	"math"
)

// RopeScaling is a config.json "rope_scaling" block. Type is its
// "rope_type" (or legacy "type"); the empty string and "default" mean no
// scaling. Supported: "default", "linear" (Factor) and "llama3" (Factor,
// LowFreqFactor, HighFreqFactor, OriginalMaxPositionEmbeddings).
type RopeScaling struct {
	Type                          string
	Factor                        float64
	LowFreqFactor                 float64
	HighFreqFactor                float64
	OriginalMaxPositionEmbeddings int
}

// RopeInvFreq returns the rotary inverse frequencies inv_freq[HD/2] for head
// dimension headDim and base theta (config "rope_theta"), following
// transformers' modeling_rope_utils (_compute_default_rope_parameters and
// _compute_llama3_parameters). The arithmetic is done in float32 in the same
// order as the PyTorch code so the tables match Hugging Face to the last bit
// or two. scaling may be nil. It returns an error for an invalid or
// unsupported configuration.
func RopeInvFreq(headDim int, theta float64, scaling *RopeScaling) ([]float32, error) {
	if headDim <= 0 || headDim%2 != 0 {
		return nil, fmt.Errorf("rope: head dimension %d must be positive and even", headDim)
	}
	if !(theta > 0) || math.IsInf(theta, 0) {
		return nil, fmt.Errorf("rope: rope_theta %v must be positive and finite", theta)
	}
	half := headDim / 2
	inv := make([]float32, half)
	base := float32(theta)
	for i := range inv {
		// 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
		e := float32(2*i) / float32(headDim)
		p := float32(math.Pow(float64(base), float64(e)))
		inv[i] = 1 / p
	}
	if scaling == nil {
		return inv, nil
	}
	switch scaling.Type {
	case "", "default":
		return inv, nil
	case "linear":
		if !(scaling.Factor > 0) {
			return nil, fmt.Errorf("rope: linear rope_scaling factor %v must be positive", scaling.Factor)
		}
		f := float32(scaling.Factor)
		for i := range inv {
			inv[i] /= f
		}
		return inv, nil
	case "llama3":
		s := scaling
		if !(s.Factor > 0) || s.OriginalMaxPositionEmbeddings <= 0 || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) {
			return nil, fmt.Errorf("rope: invalid llama3 rope_scaling %+v (need factor > 0, original_max_position_embeddings > 0, high_freq_factor > low_freq_factor > 0)", *s)
		}
		factor := float32(s.Factor)
		lowF := float32(s.LowFreqFactor)
		highF := float32(s.HighFreqFactor)
		old := float32(s.OriginalMaxPositionEmbeddings)
		lowWavelen := float64(s.OriginalMaxPositionEmbeddings) / s.LowFreqFactor
		highWavelen := float64(s.OriginalMaxPositionEmbeddings) / s.HighFreqFactor
		for i, f := range inv {
			wavelen := float32(2*math.Pi) / f
			w := float64(wavelen)
			switch {
			case w < highWavelen: // high frequency: unchanged
			case w > lowWavelen: // low frequency: divided by factor
				inv[i] = f / factor
			default: // medium: smooth interpolation
				smooth := (old/wavelen - lowF) / (highF - lowF)
				inv[i] = float32((1-smooth)*f/factor) + float32(smooth*f) // conversions forbid FMA fusion
			}
		}
		return inv, nil
	default:
		return nil, fmt.Errorf("rope: rope_scaling type %q is not supported (supported: default, linear, llama3)", scaling.Type)
	}
}

// RopeTables fills cos and sin [maxPos, HD/2] with cos/sin(pos·inv_freq[i])
// for pos in [0,maxPos), where HD/2 = len(invFreq). As in Hugging Face the
// angle is the float32 product float32(pos)·inv_freq; its cosine and sine are
// then rounded to float32. It panics if cos or sin is shorter than
// maxPos·len(invFreq).
func RopeTables(cos, sin, invFreq []float32, maxPos int) {
	half := len(invFreq)
	if len(cos) < maxPos*half || len(sin) < maxPos*half {
		panic(fmt.Sprintf("kernels.RopeTables: cos/sin have %d/%d elements, need %d", len(cos), len(sin), maxPos*half))
	}
	for p := 0; p < maxPos; p++ {
		row := p * half
		for i, f := range invFreq {
			a := float64(float32(p) * f)
			cos[row+i] = float32(math.Cos(a))
			sin[row+i] = float32(math.Sin(a))
		}
	}
}
