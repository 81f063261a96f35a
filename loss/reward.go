package loss

import (
	"fmt"
	"math"
)

func init() {
	register("bradley_terry", FamilyReward, false, bradleyTerryLoss)
}

// bradleyTerryLoss is the reward-model loss of TRL's RewardTrainer (trl/trainer/
// reward_trainer.py, compute_loss; unchanged in form since v0.1, the newest adds the metrics
// below), used by `stage: rm`. With r_c = RewardChosen[i], r_r = RewardRejected[i] (the value
// head on each sequence's last token) and m_i = Margin[i] (0 when Margin is nil):
//
//	Loss = mean_i −log σ(r_c − r_r − m_i) + CenterRewardsCoefficient · mean_i (r_c + r_r)²
//
// The gradient is with respect to the rewards (DRewardChosen, DRewardRejected); the trainer
// backpropagates it through the value head. Metrics: TRL's accuracy (mean of r_c > r_r),
// margin (mean r_c − r_r, without m), min_reward / mean_reward / max_reward over all 2B rewards,
// and the same as rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins for the
// shared trainer log.
func bradleyTerryLoss(b *Batch, p Params) (*Result, error) {
	if b == nil {
		return nil, fmt.Errorf("nil batch")
	}
	n := len(b.RewardChosen)
	if n == 0 {
		return nil, fmt.Errorf("empty batch: RewardChosen has no values")
	}
	if err := checkLen("RewardChosen", b.RewardChosen, n); err != nil {
		return nil, err
	}
	if err := checkLen("RewardRejected", b.RewardRejected, n); err != nil {
		return nil, err
	}
	if b.Margin != nil {
		if err := checkLen("Margin", b.Margin, n); err != nil {
			return nil, err
		}
	}
	c := p.CenterRewardsCoefficient
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("center_rewards_coefficient must be finite, got %v", c)
	}
	nf := float64(n)
	r := &Result{
		DRewardChosen:   make([]float64, n),
		DRewardRejected: make([]float64, n),
	}
	var sumC, sumR, acc float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		rc, rr := b.RewardChosen[i], b.RewardRejected[i]
		m := 0.0
		if b.Margin != nil {
			m = b.Margin[i]
		}
		x := rc - rr - m
		center := rc + rr
		r.Loss += (-logSigmoid(x) + c*center*center) / nf
		g := -sigmoid(-x)
		r.DRewardChosen[i] = (g + 2*c*center) / nf
		r.DRewardRejected[i] = (-g + 2*c*center) / nf
		sumC += rc
		sumR += rr
		if rc > rr {
			acc++
		}
		lo = math.Min(lo, math.Min(rc, rr))
		hi = math.Max(hi, math.Max(rc, rr))
	}
	r.Metrics = map[string]float64{
		"accuracy":           acc / nf,
		"margin":             (sumC - sumR) / nf,
		"min_reward":         lo,
		"mean_reward":        (sumC + sumR) / (2 * nf),
		"max_reward":         hi,
		"rewards/chosen":     sumC / nf,
		"rewards/rejected":   sumR / nf,
		"rewards/accuracies": acc / nf,
		"rewards/margins":    (sumC - sumR) / nf,
	}
	return r, nil
}
