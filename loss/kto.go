package loss

import (
	"fmt"
	"math"
)

func init() {
	register("kto", FamilyUnpaired, true, func(b *Batch, p Params) (*Result, error) { return runUnpaired(b, p, true) })
	register("apo_zero_unpaired", FamilyUnpaired, true, func(b *Batch, p Params) (*Result, error) { return runUnpaired(b, p, false) })
}

// runUnpaired computes TRL's KTOTrainer losses (trl/trainer/kto_trainer.py, _compute_loss of the
// newest TRL; the formulas are unchanged since v0.8) on B unpaired examples, with
// r_i = Policy[i] − Ref[i] (summed log-probs):
//
//	kto, desirable:            ℓ_i = DesirableWeight   · (1 − σ(β·(r_i − z)))
//	kto, undesirable:          ℓ_i = UndesirableWeight · (1 − σ(β·(z − r_i)))
//	apo_zero_unpaired, desir.: ℓ_i = DesirableWeight   · (1 − σ(β·r_i))
//	apo_zero_unpaired, undes.: ℓ_i = UndesirableWeight · σ(β·r_i)
//
// z is the detached KL baseline max(0, mean_j(PolicyKL[j] − RefKL[j])) over the mismatched
// (prompt, completion) pairs; no gradient flows through it (KTO paper eq. 8, TRL's .detach()).
// When PolicyKL is nil, z = 0 (TRL's calculate_KL = False). The loss is mean_i ℓ_i over all B
// examples (TRL's losses.nanmean()).
//
// Metrics: kl; rewards/chosen, logps/chosen (means over desirable examples), rewards/rejected,
// logps/rejected (over undesirable ones), rewards/margins when both kinds are present, and with
// Batch.LogitsSum logits/chosen and logits/rejected: the token-mean of the vocabulary-mean logit
// over the desirable (undesirable) completions (TRL KTOTrainer: chosen_logits[mask].mean(-1).sum()
// divided by the number of chosen completion tokens).
func runUnpaired(b *Batch, p Params, kto bool) (*Result, error) {
	if b == nil {
		return nil, fmt.Errorf("nil batch")
	}
	n := len(b.Policy)
	if n == 0 {
		return nil, fmt.Errorf("empty batch: Policy has no values")
	}
	if !(p.Beta > 0) || math.IsInf(p.Beta, 0) {
		return nil, fmt.Errorf("beta must be a positive number, got %v", p.Beta)
	}
	if err := checkLen("Policy", b.Policy, n); err != nil {
		return nil, err
	}
	if len(b.Desirable) != n {
		return nil, fmt.Errorf("Desirable has %d labels, want %d", len(b.Desirable), n)
	}
	if p.LDAlpha != nil || p.UseWeighting || p.RPOAlpha != 0 {
		return nil, fmt.Errorf("ld_alpha, use_weighting and rpo_alpha apply only to DPO-family losses")
	}
	ref := make([]float64, n)
	if !p.ReferenceFree {
		if err := checkLen("Ref", b.Ref, n); err != nil {
			return nil, fmt.Errorf("reference log-probs: %w", err)
		}
		copy(ref, b.Ref)
	}
	kl := 0.0
	if kto && b.PolicyKL != nil {
		m := len(b.PolicyKL)
		if err := checkLen("PolicyKL", b.PolicyKL, m); err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, fmt.Errorf("PolicyKL is empty")
		}
		refKL := make([]float64, m)
		if !p.ReferenceFree {
			if err := checkLen("RefKL", b.RefKL, m); err != nil {
				return nil, err
			}
			copy(refKL, b.RefKL)
		}
		for j := 0; j < m; j++ {
			kl += b.PolicyKL[j] - refKL[j]
		}
		kl = math.Max(0, kl/float64(m))
	}
	r := &Result{DPolicy: make([]float64, n), Metrics: map[string]float64{}}
	if !p.ReferenceFree {
		r.DRef = make([]float64, n)
	}
	var nChosen, nRejected, rewChosen, rewRejected, lpChosen, lpRejected float64
	for i := 0; i < n; i++ {
		logratio := b.Policy[i] - ref[i]
		var l, d float64 // ℓ_i and dℓ_i/d logratio
		if b.Desirable[i] {
			z := p.Beta * (logratio - kl)
			if !kto {
				z = p.Beta * logratio
			}
			l, d = p.DesirableWeight*(1-sigmoid(z)), -p.DesirableWeight*sigmoidSlope(z)*p.Beta
			nChosen++
			rewChosen += p.Beta * logratio
			lpChosen += b.Policy[i]
		} else {
			if kto {
				z := p.Beta * (kl - logratio)
				l, d = p.UndesirableWeight*(1-sigmoid(z)), p.UndesirableWeight*sigmoidSlope(z)*p.Beta
			} else {
				z := p.Beta * logratio
				l, d = p.UndesirableWeight*sigmoid(z), p.UndesirableWeight*sigmoidSlope(z)*p.Beta
			}
			nRejected++
			rewRejected += p.Beta * logratio
			lpRejected += b.Policy[i]
		}
		r.Loss += l / float64(n)
		r.DPolicy[i] = d / float64(n)
		if r.DRef != nil {
			r.DRef[i] = -d / float64(n)
		}
	}
	r.Metrics["kl"] = kl
	if len(b.LogitsSum) == n {
		var lc, lr, tc, tr float64
		for i := 0; i < n; i++ {
			if b.Desirable[i] {
				lc, tc = lc+b.LogitsSum[i], tc+float64(b.Tokens[i])
			} else {
				lr, tr = lr+b.LogitsSum[i], tr+float64(b.Tokens[i])
			}
		}
		if tc > 0 {
			r.Metrics["logits/chosen"] = lc / tc
		}
		if tr > 0 {
			r.Metrics["logits/rejected"] = lr / tr
		}
	}
	if nChosen > 0 {
		r.Metrics["rewards/chosen"] = rewChosen / nChosen
		r.Metrics["logps/chosen"] = lpChosen / nChosen
	}
	if nRejected > 0 {
		r.Metrics["rewards/rejected"] = rewRejected / nRejected
		r.Metrics["logps/rejected"] = lpRejected / nRejected
	}
	if nChosen > 0 && nRejected > 0 {
		r.Metrics["rewards/margins"] = rewChosen/nChosen - rewRejected/nRejected
	}
	return r, nil
}
