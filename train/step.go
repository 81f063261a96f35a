package train

import (
	"fmt"
	"github.com/preftune/preftune/rowerr"
	"math"

	"github.com/preftune/preftune/kernels"
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

// refLogps are one item's reference log-prob sums (precomputed).
type refLogps struct {
	chosen, rejected, chosenTail, rejectedTail float64
}

// stepper is the one step: it lays a micro-batch out (model.BuildBatch with the
// layout in lay), runs the reference, the policy forward, the loss and the
// sequence-level backward. train, eval, reference precompute and bench all run it.
//
// Rows: the micro-batch's logical sequences, numbered as the losses read them —
// pair/rm: chosen i, rejected n+i (TRL's concatenated order); kto: example i, KL row
// n+i (prompt i with the completion of example i−1, TRL's shifted mismatch); list:
// response k of list i at i·K+k; sft: example i. With LD-DPO each row's tokens past
// the pair's shared length are a second model sequence R+r, so the loss sees the head
// and the tail sums separately.
type stepper struct {
	c       *config.Config
	kind    string // "pair", "kto", "list", "rm", "sft"
	policy  *model.Model
	ref     *model.Model // refModel strategy
	refMode string
	params  loss.Params
	noDrop  bool         // forwards in eval mode (disable_dropout)
	lay     model.Layout // the batch layout (fast by default; plain for equality tests)

	groups             []model.Group
	mb                 model.Batch // rebuilt in place every micro-batch
	rows               int         // logical sequences R
	tailed             bool        // LD-DPO: model sequences R+r hold row r's tail
	dseq               []float32
	sums, tails, lsums []float64
	rsums, rtails      []float64
	counts             []int
	rowGrad, tailGrad  []float64
	lb                 loss.Batch
	desirable          []bool
	labels             []float64        // LiPO: the lists' scores, row-aligned
	wpo, wpoC, wpoR    []float64        // WPO: per-row mean log-weight; the pairs' chosen/rejected fields
	vh                 *model.ValueHead // stage rm
	dscores            []float32        // rm: per target (= per row) reward gradients

	countFLOPs bool    // Bench: add up the work of each micro-batch
	flops      float64 // matrix-multiply work since the counters were reset
	tokens     int     // prompt+completion tokens (prompt per completion) since reset
}

// microResult is what one micro-batch reports.
type microResult struct {
	loss    float64
	metrics map[string]float64
}

// defaultLayout is the fastest layout by measurement (bench/README.md): each prompt
// once with its completions, everything packed in one row. Sliding-window layers count
// row indices and backends without shared-prompt attention need one row per sequence.
func defaultLayout(arch model.Arch, be kernels.Backend) model.Layout {
	if len(arch.Windows) > 0 {
		return model.Layout{}
	}
	_, shared := be.(kernels.SharedPromptAttention)
	return model.Layout{SharePrompt: shared, Pack: true}
}

// layout fills s.groups for the items (see stepper for the row numbering).
func (s *stepper) layout(its []item) {
	n := len(its)
	s.groups = s.groups[:0]
	s.tailed = s.kind == "pair" && s.params.LDAlpha != nil
	switch s.kind {
	case "pair", "rm":
		s.rows = 2 * n
		for i := range its {
			g := model.Group{Prompt: its[i].prompt, Completions: [][]int32{its[i].compl[0], its[i].compl[1]},
				Seqs: []int32{int32(i), int32(n + i)}}
			if s.tailed {
				sh := min(len(its[i].compl[0]), len(its[i].compl[1]))
				g.Split = []int{sh, sh}
				g.Tails = []int32{int32(s.rows + i), int32(s.rows + n + i)}
			}
			s.groups = append(s.groups, g)
		}
	case "kto":
		s.rows = 2 * n
		for i := range its {
			s.groups = append(s.groups, model.Group{Prompt: its[i].prompt,
				Completions: [][]int32{its[i].compl[0], its[(i+n-1)%n].compl[0]}, Seqs: []int32{int32(i), int32(n + i)}})
		}
	case "list":
		s.rows = 0
		for i := range its {
			g := model.Group{Prompt: its[i].prompt}
			for _, c := range its[i].list {
				g.Completions = append(g.Completions, c)
				g.Seqs = append(g.Seqs, int32(s.rows))
				s.rows++
			}
			s.groups = append(s.groups, g)
		}
	default:
		s.rows = n
		for i := range its {
			s.groups = append(s.groups, model.Group{Prompt: its[i].prompt, Completions: [][]int32{its[i].compl[0]}, Seqs: []int32{int32(i)}})
		}
	}
	rows := s.rows
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
	for _, g := range s.groups {
		for j, sq := range g.Seqs {
			s.counts[sq] = len(g.Completions[j])
		}
	}
}

// count adds the micro-batch's work to s.flops and s.tokens: the policy's forward
// (and backward when training) and a live reference's forward.
func (s *stepper) count(b *model.Batch, train bool) {
	s.flops += s.policy.FLOPs(b, model.ForwardOptions{Eval: true}, train)
	switch s.refMode {
	case refModel:
		s.flops += s.ref.FLOPs(b, model.ForwardOptions{Eval: true}, false)
	case refAdaptersOff:
		s.flops += s.policy.FLOPs(b, model.ForwardOptions{Eval: true, NoAdapters: true}, false)
	}
	for _, g := range s.groups {
		for _, c := range g.Completions {
			s.tokens += len(g.Prompt) + len(c)
		}
	}
}

// batch lays s.groups out.
func (s *stepper) batch() (*model.Batch, error) {
	lay := s.lay
	lay.LastOnly = s.kind == "rm"
	if err := s.mb.Build(s.groups, lay); err != nil {
		return nil, err
	}
	return &s.mb, nil
}

// seqSums turns the model's per-sequence sums into per-row sums (head + tail) and tails.
func (s *stepper) seqSums(seq []float32, sums, tails []float64) {
	R := s.rows
	for r := 0; r < R; r++ {
		v := float64(seq[r])
		var t float64
		if s.tailed {
			t = float64(seq[R+r])
		}
		sums[r] = v + t
		if tails != nil {
			tails[r] = t
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
	s.seqSums(out.SeqLogProbs, s.rsums, s.rtails)
	return nil
}

// micro runs one micro-batch. With train set it also runs the backward with every
// row's d(loss)/d(sum) scaled by w (the micro-batch's share of the optimizer step).
func (s *stepper) micro(its []item, w float64, train bool) (microResult, error) {
	s.layout(its)
	b, err := s.batch()
	if err != nil {
		return microResult{}, err
	}
	if s.countFLOPs {
		s.count(b, train)
	}
	if s.kind == "rm" {
		return s.microRM(its, b, w, train)
	}
	if err := s.reference(its, b); err != nil {
		return microResult{}, err
	}
	wpo := s.params.UseWeighting && s.kind == "pair"
	out, err := s.policy.Forward(b, model.ForwardOptions{Eval: !train || s.noDrop, MeanLogit: s.kind == "pair" || s.kind == "kto", LogSumP2: wpo})
	if err != nil {
		return microResult{}, fmt.Errorf("policy forward: %w", err)
	}
	s.seqSums(out.SeqLogProbs, s.sums, s.tails)
	for r, v := range s.sums {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return microResult{}, fmt.Errorf("policy log-prob of %s is %v: %w", its[r%len(its)].where, v, ErrNonFinite)
		}
	}
	if s.kind == "pair" || s.kind == "kto" {
		s.seqSums(out.SeqMeanLogitSums, s.lsums, nil)
	}
	if wpo {
		s.wpoWeights(out.SeqWPOSums)
	}
	res, err := s.loss(its)
	if err != nil {
		return microResult{}, err
	}
	if !train {
		return res, nil
	}
	// per-sequence gradients: row r's head gets rowGrad[r]; its tail also tailGrad[r]
	R := s.rows
	ns := R
	if s.tailed {
		ns = 2 * R
	}
	if cap(s.dseq) < ns {
		s.dseq = make([]float32, ns)
	}
	s.dseq = s.dseq[:ns]
	for r := 0; r < R; r++ {
		s.dseq[r] = float32(w * s.rowGrad[r])
		if s.tailed {
			s.dseq[R+r] = float32(w * (s.rowGrad[r] + s.tailGrad[r]))
		}
	}
	if err := s.policy.BackwardSeq(s.dseq); err != nil {
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
			PolicyKL: s.sums[n:], RefKL: s.rsums[n:], LogitsSum: s.lsums[:n]}
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
// clamped weight. seqWPO are the model's per-sequence sums (Output.SeqWPOSums).
func (s *stepper) wpoWeights(seqWPO []float32) {
	rows := s.rows
	n := rows / 2
	if cap(s.wpo) < rows {
		s.wpo, s.wpoC, s.wpoR = make([]float64, rows), make([]float64, n), make([]float64, n)
	}
	s.wpo, s.wpoC, s.wpoR = s.wpo[:rows], s.wpoC[:n], s.wpoR[:n]
	for r := 0; r < rows; r++ {
		sum := float64(seqWPO[r])
		if s.tailed {
			sum += float64(seqWPO[rows+r])
		}
		s.wpo[r] = sum / float64(max(s.counts[r], 1))
	}
	for i := 0; i < n; i++ {
		c, r := s.wpo[i], s.wpo[n+i]
		s.wpoC[i], s.wpoR[i] = c, math.Min(c+r, 0)-c
	}
}

// SequenceLogProbs is the step's forward without a loss, for score, logps and the
// demo's evaluation: the groups laid out as the step lays them for m's backend, and
// Σ log p(completion token | prefix) per sequence number (Group.Seqs). A group whose
// tokens do not fit the model is a *rowerr.Error whose Row is the group's 1-based index.
func SequenceLogProbs(m *model.Model, groups []model.Group, opt model.ForwardOptions) ([]float64, error) {
	a := m.Arch()
	for i, g := range groups {
		if err := model.CheckGroup(&a, &g); err != nil {
			return nil, &rowerr.Error{Row: i + 1, Err: err}
		}
	}
	b, err := model.BuildBatch(groups, defaultLayout(a, m.Backend()))
	if err != nil {
		return nil, err
	}
	out, err := m.Forward(b, opt)
	if err != nil {
		return nil, err
	}
	sums := make([]float64, len(out.SeqLogProbs))
	for i, v := range out.SeqLogProbs {
		sums[i] = float64(v)
	}
	return sums, nil
}
