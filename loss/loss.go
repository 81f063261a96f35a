package loss

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Batch is the per-sequence input of one optimizer micro-batch. Every log-prob is a SUM over the
// completion tokens of one sequence (never a mean): losses that work on mean log-probs divide by
// the token counts themselves, so the trainer can always spread dLoss/d(sum) evenly over the
// tokens of that sequence.
//
// Which fields a loss reads depends on its family (see Names and each loss's doc):
//
//   - paired (DPO family, ORPO, SimPO, CPO): PolicyChosen, PolicyRejected, RefChosen, RefRejected,
//     ChosenTokens, RejectedTokens; B pairs.
//   - unpaired (KTO): Policy, Ref, Tokens, Desirable, PolicyKL, RefKL; B examples.
//   - listwise (LiPO): ListPolicy, ListRef, ListLabels, ListSize; B lists of ListSize responses.
//   - reward model (Bradley–Terry): RewardChosen, RewardRejected, Margin; B pairs.
type Batch struct {
	// PolicyChosen[i] and PolicyRejected[i] are Σ log π_θ(token) over the completion tokens of
	// pair i's chosen and rejected responses. Length B.
	PolicyChosen, PolicyRejected []float64
	// RefChosen and RefRejected are the same sums under the reference model. They may be nil
	// when Params.ReferenceFree is set or the loss has no reference (ORPO, SimPO, CPO, sft).
	RefChosen, RefRejected []float64
	// ChosenTokens and RejectedTokens are the completion token counts (the number of tokens
	// summed in the fields above). Needed by mean-log-prob losses (ipo, sigmoid_norm, orpo,
	// simpo, cpo, sft) and by the rpo_alpha NLL term; a count below 1 is treated as 1, as TRL
	// clamps it.
	ChosenTokens, RejectedTokens []int

	// PolicyChosenTail, PolicyRejectedTail, RefChosenTail and RefRejectedTail are needed only
	// when Params.LDAlpha is set (LD-DPO). Each is the part of the matching sum above that comes
	// from completion tokens past the shared length min(ChosenTokens[i], RejectedTokens[i]) —
	// the "excess" of the longer response (0 for the shorter one). The loss then uses
	// (sum − tail) + LDAlpha·tail as the sequence log-prob, exactly as TRL's _compute_loss does.
	PolicyChosenTail, PolicyRejectedTail, RefChosenTail, RefRejectedTail []float64

	// ChosenWPOLogWeight and RejectedWPOLogWeight are needed only when Params.UseWeighting is set
	// (WPO). Each is the per-token mean over the completion of
	//     log π_θ(token) − log Σ_v π_θ(v)²
	// (the log-prob minus logsumexp(2·logits) − 2·logsumexp(logits) at that position), computed
	// by the trainer from the policy logits. The weight exp(mean) is treated as a constant
	// (TRL computes it under torch.no_grad), so no gradient flows through these fields.
	ChosenWPOLogWeight, RejectedWPOLogWeight []float64

	// ChosenLogitsSum and RejectedLogitsSum are optional, for the logits/chosen and
	// logits/rejected metrics: Σ over completion tokens of the vocabulary-mean logit at that
	// position. The metric is Σ_i ChosenLogitsSum[i] / Σ_i ChosenTokens[i], as TRL logs it.
	ChosenLogitsSum, RejectedLogitsSum []float64

	// Policy, Ref and Tokens are the unpaired (KTO) inputs: the completion log-prob sums under
	// the policy and the reference, and the token counts, of B examples.
	Policy, Ref []float64
	Tokens      []int
	// Desirable[i] is KTO's label: true for a desirable (thumbs-up) completion.
	Desirable []bool
	// LogitsSum is optional, for KTO's logits/chosen and logits/rejected: per example, Σ over
	// completion tokens of the vocabulary-mean logit (the metric is Σ LogitsSum / Σ Tokens over
	// the desirable, resp. undesirable, examples, as TRL's KTOTrainer logs it).
	LogitsSum []float64
	// PolicyKL and RefKL are KTO's KL-baseline inputs: log-prob sums of B mismatched
	// (prompt, completion) pairs (TRL pairs prompt i with the completion of example i+1 mod B...
	// the trainer decides the pairing). The KL estimate is detached: no gradient.
	PolicyKL, RefKL []float64

	// ListPolicy, ListRef and ListLabels are the listwise (LiPO) inputs: B lists of ListSize
	// responses each, flattened row-major ([i*ListSize + k] is response k of list i). ListLabels
	// are graded relevance labels (higher is better; e.g. a judge's score).
	ListPolicy, ListRef, ListLabels []float64
	// ListSize is K, the number of responses per list.
	ListSize int

	// RewardChosen and RewardRejected are the reward-model (stage: rm) inputs: the scalar value
	// head's output on the last token of the chosen and rejected sequences.
	RewardChosen, RewardRejected []float64
	// Margin is the optional per-pair margin of TRL's RewardTrainer ("margin" column); nil
	// means zero margins.
	Margin []float64
}

// Params holds the hyperparameters of every loss; each loss reads the ones it documents. The
// zero value is not useful: start from DefaultParams.
type Params struct {
	// Beta is β (TRL beta / LLaMA-Factory pref_beta).
	Beta float64
	// LabelSmoothing is TRL's label_smoothing (LLaMA-Factory dpo_label_smoothing): the assumed
	// probability that a pair's preference label is flipped. Its meaning per loss is in each
	// loss's doc (cDPO/aot smoothing, robust's noise rate, exo_pair's ε).
	LabelSmoothing float64
	// ReferenceFree treats the reference log-probs as 0 (TRL reference_free); Ref* may be nil.
	ReferenceFree bool
	// DiscopopTau is τ of the discopop loss (TRL discopop_tau, default 0.05).
	DiscopopTau float64
	// SimPOGamma is SimPO's target reward margin γ (TRL simpo_gamma, LLaMA-Factory
	// simpo_gamma; default 0.5).
	SimPOGamma float64
	// CPOAlpha weights the NLL term of CPO and SimPO (TRL cpo_alpha, default 1.0).
	CPOAlpha float64
	// RPOAlpha adds RPOAlpha · NLL(chosen, mean per token over the batch) to DPO-family losses
	// (TRL rpo_alpha, LLaMA-Factory pref_ftx). 0 is off.
	RPOAlpha float64
	// LDAlpha, when non-nil, turns on LD-DPO (TRL ld_alpha): the log-prob of the excess tokens of
	// the longer response is scaled by *LDAlpha. Requires the Batch *Tail fields.
	LDAlpha *float64
	// UseWeighting turns on WPO weighting (TRL use_weighting): each per-sequence loss is
	// multiplied by exp(ChosenWPOLogWeight)·exp(RejectedWPOLogWeight).
	UseWeighting bool
	// FDivergence is TRL's f_divergence_type for the DPO family: "reverse_kl" (default, standard
	// DPO; "" means the same), "forward_kl", "js_divergence" or "alpha_divergence".
	FDivergence string
	// FAlphaDivergenceCoef is α of alpha_divergence (TRL f_alpha_divergence_coef, default 0.5).
	FAlphaDivergenceCoef float64
	// DesirableWeight and UndesirableWeight weight KTO's desirable and undesirable losses
	// (TRL desirable_weight / undesirable_weight, default 1).
	DesirableWeight, UndesirableWeight float64
	// CenterRewardsCoefficient adds coefficient·mean((r_c + r_r)²) to the reward-model loss
	// (TRL center_rewards_coefficient). 0 is off.
	CenterRewardsCoefficient float64
}

// DefaultParams returns TRL's defaults: β = 0.1, discopop_tau = 0.05, simpo_gamma = 0.5,
// cpo_alpha = 1, f_alpha_divergence_coef = 0.5, desirable/undesirable weights 1.
func DefaultParams() Params {
	return Params{
		Beta:                 0.1,
		DiscopopTau:          0.05,
		SimPOGamma:           0.5,
		CPOAlpha:             1.0,
		FDivergence:          "reverse_kl",
		FAlphaDivergenceCoef: 0.5,
		DesirableWeight:      1,
		UndesirableWeight:    1,
	}
}

// Result is a loss's value, its gradient and its metrics for one micro-batch.
//
// Reduction: Loss is the mean over the B pairs (or examples, or lists) of the micro-batch of the
// per-sequence losses, plus batch-level terms (rpo_alpha, sft, NLL terms) that TRL adds as a
// token mean over the micro-batch. Gradient accumulation over micro-batches is the trainer's
// job (TRL/HF divide each micro-batch's loss by the number of accumulation steps).
//
// Every D* slice has the length of the matching Batch field and holds ∂Loss/∂(that input).
// Gradients with respect to inputs the loss does not read, or through which TRL does not
// backpropagate (WPO weights, the KTO KL baseline), are nil or zero. DRef* are the mathematical
// derivatives with respect to the reference sums; the trainer ignores them (the reference is
// frozen) but the tests check them.
type Result struct {
	Loss float64

	DPolicyChosen, DPolicyRejected         []float64
	DRefChosen, DRefRejected               []float64
	DPolicyChosenTail, DPolicyRejectedTail []float64
	DRefChosenTail, DRefRejectedTail       []float64

	DPolicy, DRef []float64

	DListPolicy, DListRef []float64

	DRewardChosen, DRewardRejected []float64

	// Metrics are TRL's log names for this micro-batch, means over its pairs: rewards/chosen,
	// rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected,
	// logits/chosen, logits/rejected (when the Batch has the logits sums), nll_loss,
	// log_odds_ratio, log_odds_chosen, kl, … (each loss's doc lists its own).
	Metrics map[string]float64
}

// lossFunc computes one named loss.
type lossFunc func(b *Batch, p Params) (*Result, error)

// Family groups losses that read the same Batch fields; its trainer lays a
// micro-batch out for them.
type Family string

const (
	FamilyPaired   Family = "paired"   // DPO family: combinable in a loss_type list
	FamilyUnpaired Family = "unpaired" // KTO: unpaired examples with a KL baseline
	FamilyOwn      Family = "own"      // ORPO, SimPO, CPO: paired, their own trainer, not combinable
	FamilyList     Family = "list"     // LiPO: lists of scored responses
	FamilyReward   Family = "reward"   // Bradley–Terry reward model on a value head
)

// Spec is what the config and the trainer derive from a loss: the batch it reads
// (Trainer), whether it reads reference log-probs, whether it may stand in a
// loss_type list with others.
type Spec struct {
	Name   string
	Family Family
	// Trainer is the step kind that feeds the loss: "pair", "kto", "list" or "rm".
	Trainer string
	// NeedsReference: the loss reads reference log-probs (unless reference_free).
	NeedsReference bool
	// Combinable: the loss may be mixed with others in a loss_type list (MPO).
	Combinable bool
}

type entry struct {
	fn   lossFunc
	spec Spec
}

// registry maps each loss name to its implementation and spec. Adding a loss is one
// function and one register call (and one row in the test table); the config's
// accepted names, combination rules and the trainer's reference strategy follow.
var registry = map[string]entry{}

// register adds a loss; ref says whether it reads reference log-probs.
func register(name string, fam Family, ref bool, fn lossFunc) {
	sp := Spec{Name: name, Family: fam, NeedsReference: ref, Combinable: fam == FamilyPaired}
	switch fam {
	case FamilyPaired, FamilyOwn:
		sp.Trainer = "pair"
	case FamilyUnpaired:
		sp.Trainer = "kto"
	case FamilyList:
		sp.Trainer = "list"
	case FamilyReward:
		sp.Trainer = "rm"
	}
	registry[name] = entry{fn: fn, spec: sp}
}

// Aliases are older spellings of loss names (TRL's aot_pair is aot_unpaired).
var Aliases = map[string]string{"aot_pair": "aot_unpaired"}

// Lookup returns the spec of a loss name (an alias resolves to its loss).
func Lookup(name string) (Spec, bool) {
	if a, ok := Aliases[name]; ok {
		name = a
	}
	e, ok := registry[name]
	return e.spec, ok
}

// Names returns every loss name Compute accepts, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Compute evaluates the loss called name (TRL's loss_type spelling; see Names) on b.
// Unknown names return an error listing the known ones.
func Compute(name string, b *Batch, p Params) (*Result, error) {
	e, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("loss: unknown loss %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	r, err := e.fn(b, p)
	if err != nil {
		return nil, fmt.Errorf("loss %s: %w", name, err)
	}
	return r, nil
}

// Combine evaluates TRL's loss_type list with loss_weights (MPO-style mixtures): the weighted
// sum of the named losses' values and gradients. weights may be nil (all 1). Only DPO-family
// losses (those that take paired log-probs and a reference) can be combined; the metrics are
// those of the first loss, and the rpo_alpha NLL term is added once, as in TRL.
func Combine(names []string, weights []float64, b *Batch, p Params) (*Result, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("loss: empty loss_type list")
	}
	if weights == nil {
		weights = make([]float64, len(names))
		for i := range weights {
			weights[i] = 1
		}
	}
	if len(weights) != len(names) {
		return nil, fmt.Errorf("loss: %d loss_weights for %d loss types", len(weights), len(names))
	}
	if len(names) == 1 && weights[0] == 1 {
		return Compute(names[0], b, p)
	}
	for _, n := range names {
		e, ok := registry[n]
		if !ok {
			return nil, fmt.Errorf("loss: unknown loss %q (known: %s)", n, strings.Join(Names(), ", "))
		}
		if !e.spec.Combinable {
			return nil, fmt.Errorf("loss: %q cannot be combined in a loss_type list (only DPO-family losses can)", n)
		}
	}
	return combinePaired(names, weights, b, p)
}

// finite reports whether every value is a finite number.
func finite(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
