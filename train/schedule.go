package train

import "math"

// schedule is transformers' get_scheduler(name, warmup, total): the multiplier of the
// peak learning rate after `step` scheduler steps (step 0 is the first optimizer step).
type schedule struct {
	name          string
	warmup, total int
}

// warmupSteps is transformers' TrainingArguments.get_warmup_steps: warmup_steps when
// positive, else ceil(warmup_ratio·total).
func warmupSteps(steps int, ratio float64, total int) int {
	if steps > 0 {
		return steps
	}
	return int(math.Ceil(ratio * float64(total)))
}

func (s schedule) factor(step int) float64 {
	w, t := s.warmup, s.total
	if s.name != "constant" && step < w {
		return float64(step) / float64(max(1, w))
	}
	switch s.name {
	case "constant", "constant_with_warmup":
		return 1
	case "linear":
		return max(0, float64(t-step)/float64(max(1, t-w)))
	case "cosine":
		// num_cycles = 0.5: half a cosine from 1 to 0
		progress := float64(step-w) / float64(max(1, t-w))
		return max(0, 0.5*(1+math.Cos(math.Pi*2*0.5*progress)))
	}
	return 1 // unreachable: config.Validate accepts only the names above
}
