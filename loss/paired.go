package loss

import (
	"fmt"
	"math"
)

// pairInputs are the per-pair quantities every DPO-family loss is written in, following the
// names of TRL's DPOTrainer._compute_loss.
type pairInputs struct {
	n int
	// policyChosen … refRejected are the sequence log-probs after LD-DPO weighting (the plain
	// sums when LDAlpha is nil); refs are zero when reference-free.
	policyChosen, policyRejected, refChosen, refRejected []float64
	// rawPolicyChosen is the plain Σ log-prob of the chosen completion (for sft / NLL terms).
	rawPolicyChosen []float64
	// chosenTokens and rejectedTokens are the completion lengths, clamped below at 1.
	chosenTokens, rejectedTokens []float64
	// chosenLogratios = policyChosen − refChosen, rejectedLogratios likewise.
	chosenLogratios, rejectedLogratios []float64
	// chosenScores and rejectedScores are the f-divergence transforms of the log-ratios and
	// chosenScoreSlope / rejectedScoreSlope their derivatives with respect to the log-ratio.
	chosenScores, rejectedScores         []float64
	chosenScoreSlope, rejectedScoreSlope []float64
	beta, labelSmoothing, discopopTau    float64
	// chosenTokenTotal is Σ_i ChosenTokens[i] (unclamped), at least 1: the denominator of the
	// token-mean NLL.
	chosenTokenTotal float64
	// coef[i] is ∂Loss/∂ℓ_i, set by runPaired before each loss runs (loss weight × WPO weight / B).
	// Losses return the gradient of Σ_i coef[i]·ℓ_i, a vector–Jacobian product, so losses that
	// couple pairs (aot's sorting, sft's batch mean) weight each ℓ_i correctly.
	coef []float64
}

// pairTerms is what one DPO-family loss returns: the per-pair losses ℓ_i and the gradient of
// Σ_i coef[i]·ℓ_i with respect to the (LD-weighted) policy and reference sums, plus the
// gradient with respect to the raw chosen sum for terms that bypass LD weighting (sft).
type pairTerms struct {
	loss                           []float64
	dPolicyChosen, dPolicyRejected []float64
	dRefChosen, dRefRejected       []float64
	dRawPolicyChosen               []float64
}

func newPairTerms(n int) pairTerms {
	return pairTerms{
		loss:             make([]float64, n),
		dPolicyChosen:    make([]float64, n),
		dPolicyRejected:  make([]float64, n),
		dRefChosen:       make([]float64, n),
		dRefRejected:     make([]float64, n),
		dRawPolicyChosen: make([]float64, n),
	}
}

// addScoreGrad records ∂ℓ_i/∂chosenScore and ∂ℓ_i/∂rejectedScore of pair i, weighted by
// coef[i] and chained through the f-divergence transform to the policy and reference sums.
func (t *pairTerms) addScoreGrad(in *pairInputs, i int, dChosenScore, dRejectedScore float64) {
	dc := in.coef[i] * dChosenScore * in.chosenScoreSlope[i]
	dr := in.coef[i] * dRejectedScore * in.rejectedScoreSlope[i]
	t.dPolicyChosen[i] += dc
	t.dRefChosen[i] -= dc
	t.dPolicyRejected[i] += dr
	t.dRefRejected[i] -= dr
}

// addLogratioGrad records ∂ℓ_i/∂chosenLogratio and ∂ℓ_i/∂rejectedLogratio of pair i, weighted
// by coef[i] (losses that use the log-ratios directly rather than the scores, such as apo_zero).
func (t *pairTerms) addLogratioGrad(in *pairInputs, i int, dChosen, dRejected float64) {
	dChosen *= in.coef[i]
	dRejected *= in.coef[i]
	t.dPolicyChosen[i] += dChosen
	t.dRefChosen[i] -= dChosen
	t.dPolicyRejected[i] += dRejected
	t.dRefRejected[i] -= dRejected
}

// pairLoss is one member of the DPO family.
type pairLoss func(in *pairInputs) (pairTerms, error)

// pairedLosses maps TRL's DPOTrainer loss_type names to their implementations (dpo.go).
var pairedLosses = map[string]pairLoss{}

// Every DPO-family loss reads reference log-probs: even "sft" alone does, for its
// rewards/* metrics (TRL's DPOTrainer computes the reference for it too).
func registerPaired(name string, fn pairLoss) {
	pairedLosses[name] = fn
	register(name, FamilyPaired, true, func(b *Batch, p Params) (*Result, error) {
		return runPaired([]string{name}, []float64{1}, b, p)
	})
}

func combinePaired(names []string, weights []float64, b *Batch, p Params) (*Result, error) {
	return runPaired(names, weights, b, p)
}

// checkLen reports an error unless the named slice has length n.
func checkLen(name string, xs []float64, n int) error {
	if len(xs) != n {
		return fmt.Errorf("%s has %d values, want %d", name, len(xs), n)
	}
	if !finite(xs) {
		return fmt.Errorf("%s has a NaN or infinite value", name)
	}
	return nil
}

func checkIntLen(name string, xs []int, n int) error {
	if len(xs) != n {
		return fmt.Errorf("%s has %d values, want %d", name, len(xs), n)
	}
	return nil
}

// preparePairs validates a paired Batch and computes the shared quantities. needRef says
// whether the loss reads the reference (false for ORPO, SimPO, CPO).
func preparePairs(b *Batch, p Params, needRef bool) (*pairInputs, error) {
	if b == nil {
		return nil, fmt.Errorf("nil batch")
	}
	n := len(b.PolicyChosen)
	if n == 0 {
		return nil, fmt.Errorf("empty batch: PolicyChosen has no values")
	}
	if !(p.Beta > 0) || math.IsInf(p.Beta, 0) {
		return nil, fmt.Errorf("beta must be a positive number, got %v", p.Beta)
	}
	if err := checkLen("PolicyChosen", b.PolicyChosen, n); err != nil {
		return nil, err
	}
	if err := checkLen("PolicyRejected", b.PolicyRejected, n); err != nil {
		return nil, err
	}
	if err := checkIntLen("ChosenTokens", b.ChosenTokens, n); err != nil {
		return nil, err
	}
	if err := checkIntLen("RejectedTokens", b.RejectedTokens, n); err != nil {
		return nil, err
	}
	in := &pairInputs{
		n:               n,
		beta:            p.Beta,
		labelSmoothing:  p.LabelSmoothing,
		discopopTau:     p.DiscopopTau,
		rawPolicyChosen: b.PolicyChosen,
		chosenTokens:    make([]float64, n),
		rejectedTokens:  make([]float64, n),
	}
	total := 0
	for i := 0; i < n; i++ {
		in.chosenTokens[i] = tokenCount(b.ChosenTokens[i])
		in.rejectedTokens[i] = tokenCount(b.RejectedTokens[i])
		if b.ChosenTokens[i] > 0 {
			total += b.ChosenTokens[i]
		}
	}
	in.chosenTokenTotal = tokenCount(total)
	refChosen, refRejected := make([]float64, n), make([]float64, n)
	if needRef && !p.ReferenceFree {
		if b.RefChosen == nil || b.RefRejected == nil {
			return nil, fmt.Errorf("reference log-probs missing (RefChosen/RefRejected are nil and reference_free is off)")
		}
		if err := checkLen("RefChosen", b.RefChosen, n); err != nil {
			return nil, err
		}
		if err := checkLen("RefRejected", b.RefRejected, n); err != nil {
			return nil, err
		}
		copy(refChosen, b.RefChosen)
		copy(refRejected, b.RefRejected)
	}
	in.policyChosen = append([]float64(nil), b.PolicyChosen...)
	in.policyRejected = append([]float64(nil), b.PolicyRejected...)
	in.refChosen, in.refRejected = refChosen, refRejected
	if p.LDAlpha != nil {
		a := *p.LDAlpha
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return nil, fmt.Errorf("ld_alpha must be finite, got %v", a)
		}
		tails := []struct {
			name string
			tail []float64
			dst  []float64
			ref  bool
		}{
			{"PolicyChosenTail", b.PolicyChosenTail, in.policyChosen, false},
			{"PolicyRejectedTail", b.PolicyRejectedTail, in.policyRejected, false},
			{"RefChosenTail", b.RefChosenTail, in.refChosen, true},
			{"RefRejectedTail", b.RefRejectedTail, in.refRejected, true},
		}
		for _, t := range tails {
			if t.ref && (!needRef || p.ReferenceFree) {
				continue
			}
			if err := checkLen(t.name, t.tail, n); err != nil {
				return nil, fmt.Errorf("ld_alpha is set: %w", err)
			}
			for i := range t.dst {
				t.dst[i] += (a - 1) * t.tail[i]
			}
		}
	}
	in.chosenLogratios = make([]float64, n)
	in.rejectedLogratios = make([]float64, n)
	for i := 0; i < n; i++ {
		in.chosenLogratios[i] = in.policyChosen[i] - in.refChosen[i]
		in.rejectedLogratios[i] = in.policyRejected[i] - in.refRejected[i]
	}
	var err error
	in.chosenScores, in.chosenScoreSlope, err = fDivergenceScores(in.chosenLogratios, p)
	if err != nil {
		return nil, err
	}
	in.rejectedScores, in.rejectedScoreSlope, err = fDivergenceScores(in.rejectedLogratios, p)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// fDivergenceScores applies TRL's f_divergence_type to log-ratios, returning the scores and
// their derivatives. TRL (trl/trainer/dpo_trainer.py, _compute_loss):
//
//	reverse_kl:        s = r
//	forward_kl:        s = −exp(−r)
//	js_divergence:     s = log σ(r)
//	alpha_divergence:  s = exp(min((α−1)·r, 80)) / (α−1)   (reverse_kl when |α−1| < 1e-6)
//
// The clamp at 80 is TRL's float32/bfloat16 value; TRL has no float64 entry.
func fDivergenceScores(logratios []float64, p Params) (scores, slope []float64, err error) {
	n := len(logratios)
	scores, slope = make([]float64, n), make([]float64, n)
	switch p.FDivergence {
	case "", "reverse_kl":
		copy(scores, logratios)
		for i := range slope {
			slope[i] = 1
		}
	case "forward_kl":
		for i, r := range logratios {
			e := math.Exp(-r)
			scores[i], slope[i] = -e, e
		}
	case "js_divergence":
		for i, r := range logratios {
			scores[i], slope[i] = logSigmoid(r), sigmoid(-r)
		}
	case "alpha_divergence":
		a := p.FAlphaDivergenceCoef
		if math.Abs(a-1) < 1e-6 {
			copy(scores, logratios)
			for i := range slope {
				slope[i] = 1
			}
			break
		}
		for i, r := range logratios {
			t := (a - 1) * r
			if t > 80 {
				scores[i], slope[i] = math.Exp(80)/(a-1), 0
				continue
			}
			e := math.Exp(t)
			scores[i], slope[i] = e/(a-1), e
		}
	default:
		return nil, nil, fmt.Errorf("unknown f_divergence_type %q (known: reverse_kl, forward_kl, js_divergence, alpha_divergence)", p.FDivergence)
	}
	return scores, slope, nil
}

// runPaired evaluates a weighted list of DPO-family losses the way TRL's DPOTrainer does:
// loss = Σ_k weight_k · mean_i(ℓ_k,i · wpo_i), plus rpo_alpha as an extra ("sft", rpo_alpha)
// entry, then maps the gradients back through LD-DPO.
func runPaired(names []string, weights []float64, b *Batch, p Params) (*Result, error) {
	in, err := preparePairs(b, p, true)
	if err != nil {
		return nil, err
	}
	n := in.n
	if p.RPOAlpha != 0 {
		names = append(append([]string(nil), names...), "sft")
		weights = append(append([]float64(nil), weights...), p.RPOAlpha)
	}
	wpo := make([]float64, n)
	for i := range wpo {
		wpo[i] = 1
	}
	if p.UseWeighting {
		if err := checkLen("ChosenWPOLogWeight", b.ChosenWPOLogWeight, n); err != nil {
			return nil, fmt.Errorf("use_weighting is set: %w", err)
		}
		if err := checkLen("RejectedWPOLogWeight", b.RejectedWPOLogWeight, n); err != nil {
			return nil, fmt.Errorf("use_weighting is set: %w", err)
		}
		for i := range wpo {
			wpo[i] = math.Exp(b.ChosenWPOLogWeight[i]) * math.Exp(b.RejectedWPOLogWeight[i])
		}
	}
	total := newPairTerms(n)
	value := 0.0
	in.coef = make([]float64, n)
	for k, name := range names {
		fn, ok := pairedLosses[name]
		if !ok {
			return nil, fmt.Errorf("%q is not a DPO-family loss", name)
		}
		for i := range in.coef {
			in.coef[i] = weights[k] * wpo[i] / float64(n)
		}
		t, err := fn(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i := 0; i < n; i++ {
			value += in.coef[i] * t.loss[i]
			total.dPolicyChosen[i] += t.dPolicyChosen[i]
			total.dPolicyRejected[i] += t.dPolicyRejected[i]
			total.dRefChosen[i] += t.dRefChosen[i]
			total.dRefRejected[i] += t.dRefRejected[i]
			total.dRawPolicyChosen[i] += t.dRawPolicyChosen[i]
		}
	}
	r := &Result{
		Loss:            value,
		DPolicyChosen:   make([]float64, n),
		DPolicyRejected: total.dPolicyRejected,
		Metrics:         pairMetrics(in, b, p),
	}
	// LD-DPO: effective = sum + (α−1)·tail, so ∂/∂sum = ∂/∂effective and
	// ∂/∂tail = (α−1)·∂/∂effective. The raw-sum term (sft) reaches only the sum.
	for i := 0; i < n; i++ {
		r.DPolicyChosen[i] = total.dPolicyChosen[i] + total.dRawPolicyChosen[i]
	}
	if !p.ReferenceFree {
		r.DRefChosen, r.DRefRejected = total.dRefChosen, total.dRefRejected
	}
	if p.LDAlpha != nil {
		a := *p.LDAlpha
		scale := func(xs []float64) []float64 {
			out := make([]float64, len(xs))
			for i, x := range xs {
				out[i] = (a - 1) * x
			}
			return out
		}
		r.DPolicyChosenTail = scale(total.dPolicyChosen)
		r.DPolicyRejectedTail = scale(total.dPolicyRejected)
		if !p.ReferenceFree {
			r.DRefChosenTail = scale(total.dRefChosen)
			r.DRefRejectedTail = scale(total.dRefRejected)
		}
	}
	if p.RPOAlpha != 0 {
		r.Metrics["nll_loss"] = chosenNLL(in)
	}
	return r, nil
}

// chosenNLL is TRL's nll_loss: cross-entropy over every chosen completion token of the batch,
// a token-weighted mean, −Σ_i PolicyChosen[i] / Σ_i ChosenTokens[i] (denominator at least 1).
func chosenNLL(in *pairInputs) float64 {
	sum := 0.0
	for _, lp := range in.rawPolicyChosen {
		sum += lp
	}
	return -sum / in.chosenTokenTotal
}

// pairMetrics computes the metrics TRL's DPOTrainer logs: rewards are β·log-ratio (never the
// f-divergence scores), logps are the (LD-weighted) policy sums.
func pairMetrics(in *pairInputs, b *Batch, p Params) map[string]float64 {
	n := float64(in.n)
	var chosen, rejected, acc, lpc, lpr float64
	for i := 0; i < in.n; i++ {
		rc := in.beta * in.chosenLogratios[i]
		rr := in.beta * in.rejectedLogratios[i]
		chosen += rc
		rejected += rr
		if rc > rr {
			acc++
		}
		lpc += in.policyChosen[i]
		lpr += in.policyRejected[i]
	}
	m := map[string]float64{
		"rewards/chosen":     chosen / n,
		"rewards/rejected":   rejected / n,
		"rewards/accuracies": acc / n,
		"rewards/margins":    (chosen - rejected) / n,
		"logps/chosen":       lpc / n,
		"logps/rejected":     lpr / n,
	}
	addLogitsMetrics(m, b)
	return m
}

// addLogitsMetrics adds logits/chosen and logits/rejected when the batch carries the sums:
// Σ_i LogitsSum[i] / Σ_i Tokens[i], TRL's token-weighted mean of the vocabulary-mean logit.
func addLogitsMetrics(m map[string]float64, b *Batch) {
	add := func(key string, sums []float64, tokens []int) {
		if len(sums) == 0 || len(sums) != len(tokens) {
			return
		}
		s, t := 0.0, 0
		for i := range sums {
			s += sums[i]
			t += tokens[i]
		}
		if t > 0 {
			m[key] = s / float64(t)
		} else {
			m[key] = 0
		}
	}
	add("logits/chosen", b.ChosenLogitsSum, b.ChosenTokens)
	add("logits/rejected", b.RejectedLogitsSum, b.RejectedTokens)
}
