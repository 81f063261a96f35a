package loss

import (
	"fmt"
	"math"
)

func init() {
	register("orpo", FamilyOwn, false, orpoLoss)
	register("simpo", FamilyOwn, false, func(b *Batch, p Params) (*Result, error) { return cpoLoss(b, p, true) })
	register("cpo", FamilyOwn, false, func(b *Batch, p Params) (*Result, error) { return cpoLoss(b, p, false) })
}

// prepareReferenceFree validates a paired batch for the reference-free trainers (ORPO, CPO,
// SimPO), which have their own NLL term and none of the DPO-only options.
func prepareReferenceFree(b *Batch, p Params, name string) (*pairInputs, error) {
	if p.LDAlpha != nil || p.UseWeighting || p.RPOAlpha != 0 {
		return nil, fmt.Errorf("ld_alpha, use_weighting and rpo_alpha apply only to DPO-family losses; %s has its own NLL term", name)
	}
	return preparePairs(b, p, false)
}

// orpoLoss is ORPO (Hong et al. 2024) as TRL's ORPOTrainer computes it (trl/trainer/
// orpo_trainer.py, moved to trl/experimental/orpo; the formula is the same in every version).
// With mean per-token log-probs a_c = πc/T_c, a_r = πr/T_r (both must be < 0):
//
//	log_odds_i = (a_c − a_r) − (log(1 − e^{a_c}) − log(1 − e^{a_r}))
//	Loss = NLL − β·mean_i log σ(log_odds_i),  NLL = −Σ_i πc_i / Σ_i T_c,i
//
// Metrics: rewards/* are β·a (mean log-probs, no reference), logps/* are a, nll_loss,
// log_odds_ratio = mean log σ(log_odds), log_odds_chosen = mean log_odds.
func orpoLoss(b *Batch, p Params) (*Result, error) {
	in, err := prepareReferenceFree(b, p, "orpo")
	if err != nil {
		return nil, err
	}
	n := float64(in.n)
	nll := chosenNLL(in)
	r := &Result{
		DPolicyChosen:   make([]float64, in.n),
		DPolicyRejected: make([]float64, in.n),
	}
	var ratioSum, oddsSum float64
	avgChosen, avgRejected := make([]float64, in.n), make([]float64, in.n)
	for i := 0; i < in.n; i++ {
		ac := in.policyChosen[i] / in.chosenTokens[i]
		ar := in.policyRejected[i] / in.rejectedTokens[i]
		if !(ac < 0) || !(ar < 0) {
			return nil, fmt.Errorf("pair %d: ORPO needs mean log-probs below 0 (probability below 1), got chosen %v, rejected %v", i, ac, ar)
		}
		avgChosen[i], avgRejected[i] = ac, ar
		odds := (ac - ar) - (log1mExp(ac) - log1mExp(ar))
		ratio := logSigmoid(odds)
		ratioSum += ratio
		oddsSum += odds
		// d log_odds/d a = 1/(1 − e^a) for a_c and −1/(1 − e^a) for a_r.
		g := -p.Beta * sigmoid(-odds) / n
		r.DPolicyChosen[i] = g*(-1/math.Expm1(ac))/in.chosenTokens[i] - 1/in.chosenTokenTotal
		r.DPolicyRejected[i] = g * (1 / math.Expm1(ar)) / in.rejectedTokens[i]
	}
	r.Loss = nll - p.Beta*ratioSum/n
	r.Metrics = referenceFreeMetrics(avgChosen, avgRejected, p.Beta, b)
	r.Metrics["nll_loss"] = nll
	r.Metrics["log_odds_ratio"] = ratioSum / n
	r.Metrics["log_odds_chosen"] = oddsSum / n
	return r, nil
}

// referenceFreeMetrics are the rewards/logps metrics of ORPO, CPO and SimPO: the reward is
// β × the policy log-prob the loss uses (mean per token for ORPO/SimPO, summed for CPO).
func referenceFreeMetrics(chosen, rejected []float64, beta float64, b *Batch) map[string]float64 {
	n := float64(len(chosen))
	var rc, rr, acc, lc, lr float64
	for i := range chosen {
		c, r := beta*chosen[i], beta*rejected[i]
		rc += c
		rr += r
		if c > r {
			acc++
		}
		lc += chosen[i]
		lr += rejected[i]
	}
	m := map[string]float64{
		"rewards/chosen":     rc / n,
		"rewards/rejected":   rr / n,
		"rewards/accuracies": acc / n,
		"rewards/margins":    (rc - rr) / n,
		"logps/chosen":       lc / n,
		"logps/rejected":     lr / n,
	}
	addLogitsMetrics(m, b)
	return m
}

// cpoLoss is TRL's CPOTrainer (trl/experimental/cpo/cpo_trainer.py, newest; formulas unchanged
// since v0.8) for loss_type "sigmoid" (registered here as "cpo") and "simpo":
//
//	cpo:   x_i = β·(πc − πr)                          (summed log-probs)
//	simpo: x_i = β·(πc/T_c − πr/T_r) − γ              (mean log-probs; TRL writes β·(Δ − γ/β))
//	Loss = mean_i [−(1−ε)·log σ(x_i) − ε·log σ(−x_i)] + CPOAlpha·NLL
//
// NLL = −Σ πc / Σ T_c (TRL's cross-entropy over the chosen tokens). TRL's CPOTrainer keeps the
// NLL term for simpo too (cpo_alpha, default 1); the SimPO paper has none — set CPOAlpha = 0
// for pure SimPO. AlphaPO's reward transform (TRL's alpha ≠ 0) is not implemented.
// Metrics: rewards/* = β × the log-probs the loss uses, logps/* likewise, nll_loss (0 when
// CPOAlpha is 0, as TRL logs it).
func cpoLoss(b *Batch, p Params, simpo bool) (*Result, error) {
	name := "cpo"
	if simpo {
		name = "simpo"
	}
	in, err := prepareReferenceFree(b, p, name)
	if err != nil {
		return nil, err
	}
	n := float64(in.n)
	lpc, lpr := in.policyChosen, in.policyRejected
	if simpo {
		lpc, lpr = make([]float64, in.n), make([]float64, in.n)
		for i := 0; i < in.n; i++ {
			lpc[i] = in.policyChosen[i] / in.chosenTokens[i]
			lpr[i] = in.policyRejected[i] / in.rejectedTokens[i]
		}
	}
	r := &Result{
		DPolicyChosen:   make([]float64, in.n),
		DPolicyRejected: make([]float64, in.n),
	}
	nll := 0.0
	if p.CPOAlpha != 0 {
		nll = chosenNLL(in)
	}
	for i := 0; i < in.n; i++ {
		x := p.Beta * (lpc[i] - lpr[i])
		if simpo {
			x -= p.SimPOGamma
		}
		l, d := smoothedLogistic(x, p.LabelSmoothing)
		r.Loss += l / n
		gc, gr := d*p.Beta/n, -d*p.Beta/n
		if simpo {
			gc /= in.chosenTokens[i]
			gr /= in.rejectedTokens[i]
		}
		r.DPolicyChosen[i] = gc - p.CPOAlpha/in.chosenTokenTotal
		r.DPolicyRejected[i] = gr
	}
	r.Loss += p.CPOAlpha * nll
	r.Metrics = referenceFreeMetrics(lpc, lpr, p.Beta, b)
	r.Metrics["nll_loss"] = nll
	return r, nil
}
