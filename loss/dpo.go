package loss

import (
	"fmt"
	"math"
	"sort"
)

// The DPO family: TRL's DPOTrainer loss_type values. Unless a loss's comment says otherwise the
// formulas follow the newest TRL DPOTrainer (trl/trainer/dpo_trainer.py, _compute_loss, the
// 2025–2026 rewrite that computes everything from per-token log-probs and a completion mask).
// Notation, per pair i (all sums over completion tokens):
//
//	r_c = πc − refc, r_r = πr − refr          (log-ratios; πc = Σ log π_θ, after LD-DPO)
//	s_c = f(r_c), s_r = f(r_r)                (scores: f from f_divergence_type, identity by default)
//	δ = s_c − s_r,  β = Params.Beta,  ε = Params.LabelSmoothing,  T_c, T_r = token counts (≥ 1)
//
// Every loss is a per-pair ℓ_i; the batch loss is mean_i ℓ_i (times the WPO weight, see runPaired).
func init() {
	registerPaired("sigmoid", sigmoidLoss)
	registerPaired("hinge", hingeLoss)
	registerPaired("ipo", ipoLoss)
	registerPaired("exo_pair", exoPairLoss)
	registerPaired("nca_pair", ncaPairLoss)
	registerPaired("robust", robustLoss)
	registerPaired("bco_pair", bcoPairLoss)
	registerPaired("sppo_hard", sppoHardLoss)
	registerPaired("aot", aotLoss)
	registerPaired("aot_unpaired", aotUnpairedLoss)
	registerPaired("apo_zero", apoZeroLoss)
	registerPaired("apo_down", apoDownLoss)
	registerPaired("discopop", discopopLoss)
	registerPaired("sft", sftLoss)
	registerPaired("sigmoid_norm", sigmoidNormLoss)
}

// smoothedLogistic returns ℓ = −(1−ε)·log σ(x) − ε·log σ(−x) and dℓ/dx: the conservative
// (cDPO) binary cross-entropy against a label that is flipped with probability ε.
func smoothedLogistic(x, eps float64) (float64, float64) {
	l := -(1-eps)*logSigmoid(x) - eps*logSigmoid(-x)
	d := -(1-eps)*sigmoid(-x) + eps*sigmoid(x)
	return l, d
}

// sigmoidLoss is standard DPO with cDPO label smoothing:
//
//	ℓ = −(1−ε)·log σ(β·δ) − ε·log σ(−β·δ)
//
// Version note: the newest TRL DPOTrainer computes only −log σ(β·δ) for "sigmoid" and reads
// label_smoothing in robust/exo_pair/aot only; TRL v0.8–v0.2x applied ε to sigmoid as above
// (conservative DPO). We keep the cDPO form because the issue asks for it; with ε = 0 (the
// default) both versions agree exactly.
func sigmoidLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		delta := in.chosenScores[i] - in.rejectedScores[i]
		l, d := smoothedLogistic(in.beta*delta, in.labelSmoothing)
		t.loss[i] = l
		t.addScoreGrad(in, i, d*in.beta, -d*in.beta)
	}
	return t, nil
}

// hingeLoss is the SLiC hinge: ℓ = max(0, 1 − β·δ). At the kink the derivative is 0, as
// torch.relu's is.
func hingeLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		delta := in.chosenScores[i] - in.rejectedScores[i]
		m := 1 - in.beta*delta
		if m > 0 {
			t.loss[i] = m
			t.addScoreGrad(in, i, -in.beta, in.beta)
		}
	}
	return t, nil
}

// ipoLoss is IPO on length-normalised scores (mean per token):
//
//	ℓ = (s_c/T_c − s_r/T_r − 1/(2β))²
//
// Version note: TRL has always length-normalised IPO; before the rewrite it averaged the
// log-probs in concatenated_forward (so rewards/* metrics were per-token too), the newest TRL
// divides the scores by the completion lengths and logs summed rewards. We follow the newest.
func ipoLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		tc, tr := in.chosenTokens[i], in.rejectedTokens[i]
		x := in.chosenScores[i]/tc - in.rejectedScores[i]/tr - 1/(2*in.beta)
		t.loss[i] = x * x
		t.addScoreGrad(in, i, 2*x/tc, -2*x/tr)
	}
	return t, nil
}

// exoPairLoss is EXO-pref (Ji et al. 2024, eq. 16), the reverse KL between the model's pair
// distribution q = σ(±β·δ) and the smoothed label distribution p = (1−ε, ε):
//
//	ℓ = q_w·(log q_w − log(1−ε)) + q_l·(log q_l − log ε),  q_w = σ(β·δ), q_l = σ(−β·δ)
//
// ε must lie in (0, 1). Version note: TRL ≤ v0.2x replaced ε = 0 by 1e-3 for exo_pair; the newest
// TRL has no fallback (log 0 makes the loss infinite). We keep the 1e-3 fallback.
func exoPairLoss(in *pairInputs) (pairTerms, error) {
	eps := in.labelSmoothing
	if eps == 0 {
		eps = 1e-3
	}
	if !(eps > 0 && eps < 1) {
		return pairTerms{}, fmt.Errorf("label_smoothing (EXO's ε) must be in (0, 1), got %v", in.labelSmoothing)
	}
	logPw, logPl := math.Log1p(-eps), math.Log(eps)
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		x := in.beta * (in.chosenScores[i] - in.rejectedScores[i])
		qw, ql := sigmoid(x), sigmoid(-x)
		lqw, lql := logSigmoid(x), logSigmoid(-x)
		t.loss[i] = qw*(lqw-logPw) + ql*(lql-logPl)
		// dqw/dx = qw·ql, dql/dx = −qw·ql, dlog qw/dx = ql, dlog ql/dx = −qw; the ±qw·ql terms
		// cancel and log qw − log ql = x, leaving qw·ql·(x − log(1−ε) + log ε).
		d := sigmoidSlope(x) * (x - logPw + logPl)
		t.addScoreGrad(in, i, d*in.beta, -d*in.beta)
	}
	return t, nil
}

// ncaPairLoss is NCA (Chen et al. 2024) for pairs, with rewards u_c = β·s_c, u_r = β·s_r:
//
//	ℓ = −log σ(u_c) − ½·log σ(−u_c) − ½·log σ(−u_r)
func ncaPairLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		uc, ur := in.beta*in.chosenScores[i], in.beta*in.rejectedScores[i]
		t.loss[i] = -logSigmoid(uc) - 0.5*logSigmoid(-uc) - 0.5*logSigmoid(-ur)
		dc := -sigmoid(-uc) + 0.5*sigmoid(uc)
		dr := 0.5 * sigmoid(ur)
		t.addScoreGrad(in, i, dc*in.beta, dr*in.beta)
	}
	return t, nil
}

// robustLoss is robust DPO (Chowdhury et al. 2024), unbiased under label noise rate ε < ½:
//
//	ℓ = (−(1−ε)·log σ(β·δ) + ε·log σ(−β·δ)) / (1 − 2ε)
func robustLoss(in *pairInputs) (pairTerms, error) {
	eps := in.labelSmoothing
	if !(eps >= 0 && eps < 0.5) {
		return pairTerms{}, fmt.Errorf("label_smoothing (robust DPO's noise rate) must be in [0, 0.5), got %v", eps)
	}
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		x := in.beta * (in.chosenScores[i] - in.rejectedScores[i])
		t.loss[i] = (-(1-eps)*logSigmoid(x) + eps*logSigmoid(-x)) / (1 - 2*eps)
		d := (-(1-eps)*sigmoid(-x) - eps*sigmoid(x)) / (1 - 2*eps)
		t.addScoreGrad(in, i, d*in.beta, -d*in.beta)
	}
	return t, nil
}

// bcoPairLoss is paired BCO: ℓ = −log σ(β·s_c) − log σ(−β·s_r).
//
// Version note: TRL ≤ v0.2x subtracted a running mean of the rewards (a RunningMoments delta,
// state carried across steps) inside the sigmoids; the newest TRL DPOTrainer dropped it and so
// do we, which keeps the loss a pure function of the batch.
func bcoPairLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		uc, ur := in.beta*in.chosenScores[i], in.beta*in.rejectedScores[i]
		t.loss[i] = -logSigmoid(uc) - logSigmoid(-ur)
		t.addScoreGrad(in, i, -sigmoid(-uc)*in.beta, sigmoid(ur)*in.beta)
	}
	return t, nil
}

// sppoHardLoss is SPPO with hard probabilities (winner P = 1, loser P = 0):
//
//	ℓ = (s_c − 1/(2β))² + (s_r + 1/(2β))²
func sppoHardLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	h := 0.5 / in.beta
	for i := 0; i < in.n; i++ {
		a, b := in.chosenScores[i]-h, in.rejectedScores[i]+h
		t.loss[i] = a*a + b*b
		t.addScoreGrad(in, i, 2*a, 2*b)
	}
	return t, nil
}

// sortedOrder returns the indices that sort xs ascending; ties keep their batch order (TRL uses
// torch.sort, which is not guaranteed stable; the goldens use stable=True).
func sortedOrder(xs []float64) []int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	return idx
}

// aotLoss is AOT (Melnyk et al. 2024), paired form: sort the policy log-odds πc − πr and the
// reference log-odds refc − refr across the batch independently, and apply the cDPO logistic
// loss to the k-th smallest differences:
//
//	ℓ_k = −(1−ε)·log σ(β·Δ_k) − ε·log σ(−β·Δ_k),  Δ_k = sort(πc−πr)_k − sort(refc−refr)_k
//
// It uses log-probs, not f-divergence scores. ℓ_k is attributed to position k of the sorted
// batch; its gradient flows to the pairs that were sorted there.
func aotLoss(in *pairInputs) (pairTerms, error) {
	n := in.n
	pol, ref := make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		pol[i] = in.policyChosen[i] - in.policyRejected[i]
		ref[i] = in.refChosen[i] - in.refRejected[i]
	}
	po, ro := sortedOrder(pol), sortedOrder(ref)
	t := newPairTerms(n)
	for k := 0; k < n; k++ {
		l, d := smoothedLogistic(in.beta*(pol[po[k]]-ref[ro[k]]), in.labelSmoothing)
		t.loss[k] = l
		g := in.coef[k] * d * in.beta
		t.dPolicyChosen[po[k]] += g
		t.dPolicyRejected[po[k]] -= g
		t.dRefChosen[ro[k]] -= g
		t.dRefRejected[ro[k]] += g
	}
	return t, nil
}

// aotUnpairedLoss is AOT, unpaired form: sort the chosen log-ratios and the rejected log-ratios
// across the batch independently and apply the cDPO logistic loss to their k-th differences:
//
//	ℓ_k = −(1−ε)·log σ(β·Δ_k) − ε·log σ(−β·Δ_k),  Δ_k = sort(r_c)_k − sort(r_r)_k
func aotUnpairedLoss(in *pairInputs) (pairTerms, error) {
	n := in.n
	co, ro := sortedOrder(in.chosenLogratios), sortedOrder(in.rejectedLogratios)
	t := newPairTerms(n)
	for k := 0; k < n; k++ {
		x := in.beta * (in.chosenLogratios[co[k]] - in.rejectedLogratios[ro[k]])
		l, d := smoothedLogistic(x, in.labelSmoothing)
		t.loss[k] = l
		g := in.coef[k] * d * in.beta
		t.dPolicyChosen[co[k]] += g
		t.dRefChosen[co[k]] -= g
		t.dPolicyRejected[ro[k]] -= g
		t.dRefRejected[ro[k]] += g
	}
	return t, nil
}

// apoZeroLoss is APO-zero (D'Oosterlinck et al. 2024, eq. 7), on log-ratios (not scores):
//
//	ℓ = 1 − σ(β·r_c) + σ(β·r_r)
func apoZeroLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		xc, xr := in.beta*in.chosenLogratios[i], in.beta*in.rejectedLogratios[i]
		t.loss[i] = 1 - sigmoid(xc) + sigmoid(xr)
		t.addLogratioGrad(in, i, -sigmoidSlope(xc)*in.beta, sigmoidSlope(xr)*in.beta)
	}
	return t, nil
}

// apoDownLoss is APO-down (eq. 8): ℓ = σ(β·r_c) + 1 − σ(β·δ). The first term uses the chosen
// log-ratio, the second the score difference, as TRL writes it.
func apoDownLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		xc := in.beta * in.chosenLogratios[i]
		xd := in.beta * (in.chosenScores[i] - in.rejectedScores[i])
		t.loss[i] = sigmoid(xc) + 1 - sigmoid(xd)
		t.addLogratioGrad(in, i, sigmoidSlope(xc)*in.beta, 0)
		g := -sigmoidSlope(xd) * in.beta
		t.addScoreGrad(in, i, g, -g)
	}
	return t, nil
}

// discopopLoss is DiscoPOP's log-ratio modulated loss (Chan Lu et al. 2024, eq. 5), with
// x = β·δ and τ = Params.DiscopopTau:
//
//	m = σ(x/τ),  ℓ = −log σ(x)·(1 − m) + exp(−x)·m
func discopopLoss(in *pairInputs) (pairTerms, error) {
	tau := in.discopopTau
	if !(tau > 0) {
		return pairTerms{}, fmt.Errorf("discopop_tau must be positive, got %v", tau)
	}
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		x := in.beta * (in.chosenScores[i] - in.rejectedScores[i])
		m := sigmoid(x / tau)
		dm := sigmoidSlope(x/tau) / tau
		logistic, e := -logSigmoid(x), math.Exp(-x)
		t.loss[i] = logistic*(1-m) + e*m
		d := -sigmoid(-x)*(1-m) - logistic*dm - e*m + e*dm
		t.addScoreGrad(in, i, d*in.beta, -d*in.beta)
	}
	return t, nil
}

// sftLoss is the "sft" loss_type: the chosen completions' negative log-likelihood, a
// token-weighted mean over the batch (TRL's F.cross_entropy over the masked chosen tokens),
// the same value for every pair:
//
//	ℓ_i = −Σ_j PolicyChosen[j] / Σ_j ChosenTokens[j]
//
// It reads the plain sums, never the LD-DPO weighted ones, because TRL computes it from the
// logits. A batch with no chosen tokens at all divides by 1 (TRL's mean would be NaN).
// rpo_alpha adds this loss with weight rpo_alpha (RPO, Pang et al. 2024 v3): TRL ≤ v0.2x added
// rpo_alpha·nll_loss to every pair's loss; the newest TRL expresses RPO as loss_type
// [..., "sft"] with loss_weights [..., rpo_alpha]. Both give the same value and gradient
// (without WPO weighting); with use_weighting we follow the newest (the sft term is weighted).
func sftLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	nll := chosenNLL(in)
	coefSum := 0.0
	for i := 0; i < in.n; i++ {
		t.loss[i] = nll
		coefSum += in.coef[i]
	}
	// Every ℓ_i is the same batch mean, so ∂(Σ_i coef_i·ℓ_i)/∂πc_j = −Σ_i coef_i / Σ tokens.
	for j := 0; j < in.n; j++ {
		t.dRawPolicyChosen[j] = -coefSum / in.chosenTokenTotal
	}
	return t, nil
}

// sigmoidNormLoss is the length-normalised sigmoid loss (TRL PR #5406, 2026):
//
//	ℓ = −log σ(β·(s_c/T_c − s_r/T_r))
//
// It still uses the reference (TRL divides the scores, i.e. the log-ratios, by the lengths).
func sigmoidNormLoss(in *pairInputs) (pairTerms, error) {
	t := newPairTerms(in.n)
	for i := 0; i < in.n; i++ {
		tc, tr := in.chosenTokens[i], in.rejectedTokens[i]
		x := in.beta * (in.chosenScores[i]/tc - in.rejectedScores[i]/tr)
		t.loss[i] = -logSigmoid(x)
		d := -sigmoid(-x) * in.beta
		t.addScoreGrad(in, i, d/tc, -d/tr)
	}
	return t, nil
}
