package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/preftune/preftune/loss"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train/config"
)

// Reference strategies.
const (
	refNone        = "none"         // reference_free, or a loss without a reference
	refModel       = "model"        // a separate model (ref_model, or a frozen copy of the initial policy)
	refAdaptersOff = "adapters-off" // the LoRA policy with its adapters disabled
	refPrecomputed = "precomputed"  // log-probs computed once before training
)

// refLossFree are the losses that read no reference log-probs.
var refLossFree = []string{"orpo", "simpo", "cpo", "sft"}

// needsReference reports whether some loss of the config reads reference log-probs.
func needsReference(c *config.Config) bool {
	if c.ReferenceFree || c.Kind() == "sft" || c.Kind() == "rm" {
		return false
	}
	for _, l := range c.LossType {
		if !slices.Contains(refLossFree, l) {
			return true
		}
	}
	return false
}

// refLogps are one item's reference log-prob sums (precomputed).
type refLogps struct {
	chosen, rejected, chosenTail, rejectedTail float64
}

// stepper runs micro-batches: reference, policy forward, loss, backward. Its buffers
// are sized for the largest micro-batch once, so steps after the first allocate only
// inside the loss package.
type stepper struct {
	c       *config.Config
	kind    string // "pair", "kto", "sft"
	policy  *model.Model
	ref     *model.Model // refModel strategy
	refMode string
	params  loss.Params
	noDrop  bool // forwards in eval mode (disable_dropout)

	seqs                 []model.Sequence
	mb                   model.Batch
	ids, pos, seg, lab   []int32
	dlogp                []float32
	sums, tails, lsums   []float64
	rsums, rtails        []float64
	counts, shared, plen []int
	rowGrad, tailGrad    []float64
	lb                   loss.Batch
	desirable            []bool
	labels               []float64 // LiPO: the lists' scores, row-aligned
	wpo, wpoC, wpoR      []float64 // WPO: per-row mean log-weight; the pairs' chosen/rejected fields

	vh                  *model.ValueHead // stage rm
	scores, dscores, dh []float32        // rm: rewards, their gradients, d(final hidden)
}

// microResult is what one micro-batch reports.
type microResult struct {
	loss    float64
	metrics map[string]float64
}

// layout fills s.seqs (and per-row prompt lengths and shared lengths) for the items:
// pair: chosen rows then rejected rows (TRL's concatenated_forward); kto: the examples
// then the KL rows (prompt i with the completion of example i−1, TRL's shifted
// mismatch); sft: one row each.
func (s *stepper) layout(its []item) {
	n := len(its)
	s.seqs = s.seqs[:0]
	s.shared = s.shared[:0]
	s.plen = s.plen[:0]
	add := func(p, c []int32, shared int) {
		s.seqs = append(s.seqs, model.Sequence{Prompt: p, Completion: c})
		s.shared = append(s.shared, shared)
		s.plen = append(s.plen, len(p))
	}
	switch s.kind {
	case "pair", "rm":
		for k := 0; k < 2; k++ {
			for i := range its {
				add(its[i].prompt, its[i].compl[k], min(len(its[i].compl[0]), len(its[i].compl[1])))
			}
		}
	case "kto":
		for i := range its {
			add(its[i].prompt, its[i].compl[0], math.MaxInt)
		}
		for i := range its {
			add(its[i].prompt, its[(i+n-1)%n].compl[0], math.MaxInt)
		}
	case "list":
		for i := range its {
			for _, c := range its[i].list {
				add(its[i].prompt, c, math.MaxInt)
			}
		}
	default:
		for i := range its {
			add(its[i].prompt, its[i].compl[0], math.MaxInt)
		}
	}
}

// batch lays s.seqs out as a right-padded model.Batch in reused buffers.
func (s *stepper) batch() (*model.Batch, error) {
	t := 0
	for _, q := range s.seqs {
		t = max(t, len(q.Prompt)+len(q.Completion))
	}
	n := len(s.seqs) * t
	grow := func(b []int32) []int32 {
		if cap(b) < n {
			return make([]int32, n)
		}
		return b[:n]
	}
	s.ids, s.pos, s.seg, s.lab = grow(s.ids), grow(s.pos), grow(s.seg), grow(s.lab)
	if cap(s.dlogp) < n {
		s.dlogp = make([]float32, n)
	}
	s.dlogp = s.dlogp[:n]
	s.mb = model.Batch{B: len(s.seqs), T: t, IDs: s.ids, Positions: s.pos, Segments: s.seg, Labels: s.lab}
	if err := s.mb.Fill(s.seqs); err != nil {
		return nil, err
	}
	rows := len(s.seqs)
	growF := func(b []float64) []float64 {
		if cap(b) < rows {
			return make([]float64, rows)
		}
		return b[:rows]
	}
	s.sums, s.tails, s.lsums, s.rsums, s.rtails = growF(s.sums), growF(s.tails), growF(s.lsums), growF(s.rsums), growF(s.rtails)
	s.rowGrad, s.tailGrad = growF(s.rowGrad), growF(s.tailGrad)
	if cap(s.counts) < rows {
		s.counts = make([]int, rows)
	}
	s.counts = s.counts[:rows]
	return &s.mb, nil
}

// rowSums sums per-token outputs per row: log-prob sums, the part past the shared
// length (LD-DPO tails), token counts and, when meanLogit is given, the mean-logit sums.
func (s *stepper) rowSums(b *model.Batch, logp, meanLogit []float32, sums, tails, lsums []float64, counts []int) {
	for r := 0; r < b.B; r++ {
		var sum, tail, ls float64
		k := 0
		row := r * b.T
		for t := 0; t < b.T; t++ {
			if b.Labels[row+t] < 0 {
				continue
			}
			v := float64(logp[row+t])
			sum += v
			if k >= s.shared[r] {
				tail += v
			}
			if meanLogit != nil {
				ls += float64(meanLogit[row+t])
			}
			k++
		}
		sums[r], tails[r] = sum, tail
		if lsums != nil {
			lsums[r] = ls
		}
		if counts != nil {
			counts[r] = k
		}
	}
}

// reference fills s.rsums/s.rtails for the current batch. It runs before the policy
// forward, because under LoRA the reference forward reuses the policy's activations.
func (s *stepper) reference(its []item, b *model.Batch) error {
	switch s.refMode {
	case refNone:
		return nil
	case refPrecomputed:
		n := len(its)
		for i := range its {
			r := its[i].ref
			if r == nil {
				return fmt.Errorf("%s: no precomputed reference log-probs", its[i].where)
			}
			s.rsums[i], s.rsums[n+i] = r.chosen, r.rejected
			s.rtails[i], s.rtails[n+i] = r.chosenTail, r.rejectedTail
		}
		return nil
	}
	m, opt := s.ref, model.ForwardOptions{Eval: true}
	if s.refMode == refAdaptersOff {
		m, opt.NoAdapters = s.policy, true
	}
	out, err := m.Forward(b, opt)
	if err != nil {
		return fmt.Errorf("reference forward: %w", err)
	}
	s.rowSums(b, out.LogProbs, nil, s.rsums, s.rtails, nil, nil)
	return nil
}

// micro runs one micro-batch. With train set it also runs Backward with every
// completion token's d(loss)/d(log-prob) scaled by w (the micro-batch's share of the
// optimizer step).
func (s *stepper) micro(its []item, w float64, train bool) (microResult, error) {
	if s.kind == "rm" {
		return s.microRM(its, w, train)
	}
	s.layout(its)
	b, err := s.batch()
	if err != nil {
		return microResult{}, err
	}
	if err := s.reference(its, b); err != nil {
		return microResult{}, err
	}
	wpo := s.params.UseWeighting && s.kind == "pair"
	out, err := s.policy.Forward(b, model.ForwardOptions{Eval: !train || s.noDrop, MeanLogit: s.kind == "pair", LogSumP2: wpo})
	if err != nil {
		return microResult{}, fmt.Errorf("policy forward: %w", err)
	}
	var lsums []float64
	if s.kind == "pair" {
		lsums = s.lsums
	}
	s.rowSums(b, out.LogProbs, out.MeanLogit, s.sums, s.tails, lsums, s.counts)
	for r, v := range s.sums {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return microResult{}, fmt.Errorf("policy log-prob of %s is %v: %w", its[r%len(its)].where, v, ErrNonFinite)
		}
	}
	if wpo {
		s.wpoWeights(b, out.LogProbs, out.LogSumP2)
	}
	res, err := s.loss(its)
	if err != nil {
		return microResult{}, err
	}
	if !train {
		return res, nil
	}
	// per-token gradients: sequence r's tokens get rowGrad[r], plus tailGrad[r] past the shared length
	clear(s.dlogp)
	for r := 0; r < b.B; r++ {
		k := 0
		row := r * b.T
		for t := 0; t < b.T; t++ {
			if b.Labels[row+t] < 0 {
				continue
			}
			g := s.rowGrad[r]
			if k >= s.shared[r] {
				g += s.tailGrad[r]
			}
			s.dlogp[row+t] = float32(w * g)
			k++
		}
	}
	if err := s.policy.Backward(s.dlogp); err != nil {
		return microResult{}, err
	}
	return res, nil
}

// loss evaluates the configured loss on the sums of the current batch and leaves
// d(loss)/d(sum) per row in s.rowGrad (and s.tailGrad for LD-DPO).
func (s *stepper) loss(its []item) (microResult, error) {
	n := len(its)
	clear(s.rowGrad)
	clear(s.tailGrad)
	switch s.kind {
	case "sft":
		// token-mean NLL over the micro-batch (transformers' causal-LM loss)
		tok, sum := 0, 0.0
		for r := range s.sums {
			tok += s.counts[r]
			sum += s.sums[r]
		}
		for r := range s.rowGrad {
			s.rowGrad[r] = -1 / float64(tok)
		}
		return microResult{loss: -sum / float64(tok), metrics: map[string]float64{}}, nil
	case "kto":
		if cap(s.desirable) < n {
			s.desirable = make([]bool, n)
		}
		s.desirable = s.desirable[:n]
		for i := range its {
			s.desirable[i] = its[i].desirable
		}
		s.lb = loss.Batch{Policy: s.sums[:n], Ref: s.rsums[:n], Tokens: s.counts[:n], Desirable: s.desirable,
			PolicyKL: s.sums[n:], RefKL: s.rsums[n:]}
		res, err := loss.Compute(s.c.LossType[0], &s.lb, s.params)
		if err != nil {
			return microResult{}, err
		}
		copy(s.rowGrad, res.DPolicy)
		return microResult{loss: res.Loss, metrics: res.Metrics}, nil
	case "list":
		k := len(its[0].list)
		s.labels = s.labels[:0]
		for i := range its {
			if len(its[i].list) != k {
				return microResult{}, fmt.Errorf("%s: %d responses in a batch of lists of %d", its[i].where, len(its[i].list), k)
			}
			s.labels = append(s.labels, its[i].scores...)
		}
		s.lb = loss.Batch{ListPolicy: s.sums, ListLabels: s.labels, ListSize: k}
		if s.refMode != refNone {
			s.lb.ListRef = s.rsums
		}
		res, err := loss.Compute(s.c.LossType[0], &s.lb, s.params)
		if err != nil {
			return microResult{}, err
		}
		copy(s.rowGrad, res.DListPolicy)
		return microResult{loss: res.Loss, metrics: res.Metrics}, nil
	}
	s.lb = loss.Batch{
		PolicyChosen: s.sums[:n], PolicyRejected: s.sums[n:],
		ChosenTokens: s.counts[:n], RejectedTokens: s.counts[n:],
		ChosenLogitsSum: s.lsums[:n], RejectedLogitsSum: s.lsums[n:],
	}
	if s.refMode != refNone {
		s.lb.RefChosen, s.lb.RefRejected = s.rsums[:n], s.rsums[n:]
	}
	if s.params.UseWeighting {
		s.lb.ChosenWPOLogWeight, s.lb.RejectedWPOLogWeight = s.wpoC, s.wpoR
	}
	if s.params.LDAlpha != nil {
		s.lb.PolicyChosenTail, s.lb.PolicyRejectedTail = s.tails[:n], s.tails[n:]
		s.lb.RefChosenTail, s.lb.RefRejectedTail = s.rtails[:n], s.rtails[n:]
	}
	res, err := loss.Combine(s.c.LossType, s.c.LossWeights, &s.lb, s.params)
	if err != nil {
		return microResult{}, err
	}
	copy(s.rowGrad[:n], res.DPolicyChosen)
	copy(s.rowGrad[n:], res.DPolicyRejected)
	if res.DPolicyChosenTail != nil {
		copy(s.tailGrad[:n], res.DPolicyChosenTail)
		copy(s.tailGrad[n:], res.DPolicyRejectedTail)
	}
	return microResult{loss: res.Loss, metrics: res.Metrics}, nil
}

// lossParams maps the config onto the loss package's hyperparameters.
func lossParams(c *config.Config) loss.Params {
	p := loss.DefaultParams()
	p.Beta = c.Beta
	p.LabelSmoothing = c.LabelSmoothing
	p.ReferenceFree = c.ReferenceFree
	p.DiscopopTau = c.DiscopopTau
	p.SimPOGamma = c.SimPOGamma
	p.LDAlpha = c.LDAlpha
	p.UseWeighting = c.UseWeighting
	p.FDivergence = c.FDivergence
	p.FAlphaDivergenceCoef = c.FAlphaCoef
	p.DesirableWeight, p.UndesirableWeight = c.DesirableWeight, c.UndesirableWeight
	p.CPOAlpha = c.CPOAlpha
	p.CenterRewardsCoefficient = c.CenterRewards
	if c.RPOAlpha != nil {
		p.RPOAlpha = *c.RPOAlpha
	}
	if c.Stage != "" {
		// LLaMA-Factory: pref_ftx weights the SFT term of DPO and SimPO (0 by default)
		if c.RPOAlpha == nil {
			p.RPOAlpha = c.PrefFTX
		}
		if c.LossType[0] == "simpo" || c.LossType[0] == "cpo" {
			p.CPOAlpha = c.PrefFTX
		}
	}
	return p
}

// wpoWeights fills the WPO log-weights of the pairs (use_weighting) as TRL's
// concatenated_forward computes them under no_grad: per sequence, the mean over its
// completion tokens of log p(token) − log Σ_v p(v)², and the pair's weight
// clamp(exp(w_chosen + w_rejected), max=1). The loss package multiplies
// exp(ChosenWPOLogWeight)·exp(RejectedWPOLogWeight) without a clamp, so the chosen
// field carries w_c and the rejected one min(w_c + w_r, 0) − w_c: the product is the
// clamped weight.
func (s *stepper) wpoWeights(b *model.Batch, logp, lsp2 []float32) {
	rows := b.B
	n := rows / 2
	if cap(s.wpo) < rows {
		s.wpo, s.wpoC, s.wpoR = make([]float64, rows), make([]float64, n), make([]float64, n)
	}
	s.wpo, s.wpoC, s.wpoR = s.wpo[:rows], s.wpoC[:n], s.wpoR[:n]
	for r := 0; r < rows; r++ {
		var sum float64
		k := 0
		for t := r * b.T; t < (r+1)*b.T; t++ {
			if b.Labels[t] >= 0 {
				sum += float64(logp[t]) - float64(lsp2[t])
				k++
			}
		}
		s.wpo[r] = sum / float64(max(k, 1))
	}
	for i := 0; i < n; i++ {
		c, r := s.wpo[i], s.wpo[n+i]
		s.wpoC[i], s.wpoR[i] = c, math.Min(c+r, 0)-c
	}
}
