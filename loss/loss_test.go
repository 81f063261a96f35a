package loss

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// The goldens come from reference/loss/gen_goldens.py: an independent PyTorch transcription of
// TRL's loss code, with autograd gradients. For the pairwise trainers the autograd leaves are the
// per-token log-probs, so each case pins the per-token gradient the trainer hands to Backward.

type goldenFile struct {
	Generator string       `json:"generator"`
	Torch     string       `json:"torch"`
	Cases     []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name    string       `json:"name"`
	Losses  []string     `json:"losses"`
	Weights []float64    `json:"weights"`
	Params  goldenParams `json:"params"`
	Batch   Batch        `json:"batch"`
	Want    goldenWant   `json:"want"`
	CheckFD bool         `json:"check_fd"`
}

// goldenParams mirrors Params with TRL's config names.
type goldenParams struct {
	Beta                     float64  `json:"beta"`
	LabelSmoothing           float64  `json:"label_smoothing"`
	ReferenceFree            bool     `json:"reference_free"`
	DiscopopTau              float64  `json:"discopop_tau"`
	SimPOGamma               float64  `json:"simpo_gamma"`
	CPOAlpha                 float64  `json:"cpo_alpha"`
	RPOAlpha                 float64  `json:"rpo_alpha"`
	LDAlpha                  *float64 `json:"ld_alpha"`
	UseWeighting             bool     `json:"use_weighting"`
	FDivergence              string   `json:"f_divergence_type"`
	FAlphaDivergenceCoef     float64  `json:"f_alpha_divergence_coef"`
	DesirableWeight          float64  `json:"desirable_weight"`
	UndesirableWeight        float64  `json:"undesirable_weight"`
	CenterRewardsCoefficient float64  `json:"center_rewards_coefficient"`
}

func (g goldenParams) params() Params {
	return Params{
		Beta: g.Beta, LabelSmoothing: g.LabelSmoothing, ReferenceFree: g.ReferenceFree,
		DiscopopTau: g.DiscopopTau, SimPOGamma: g.SimPOGamma, CPOAlpha: g.CPOAlpha,
		RPOAlpha: g.RPOAlpha, LDAlpha: g.LDAlpha, UseWeighting: g.UseWeighting,
		FDivergence: g.FDivergence, FAlphaDivergenceCoef: g.FAlphaDivergenceCoef,
		DesirableWeight: g.DesirableWeight, UndesirableWeight: g.UndesirableWeight,
		CenterRewardsCoefficient: g.CenterRewardsCoefficient,
	}
}

type goldenWant struct {
	Loss    float64            `json:"loss"`
	Metrics map[string]float64 `json:"metrics"`
	// TokenGrads (pairwise trainers): per-token gradients, keyed PolicyChosen, PolicyRejected,
	// RefChosen, RefRejected; row i holds the completion tokens of pair i.
	TokenGrads map[string][][]float64 `json:"token_grads"`
	// Grads (other trainers): sequence-level gradients keyed by Result field name.
	Grads map[string][]float64 `json:"grads"`
}

func loadGoldens(t *testing.T) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/goldens.json")
	if err != nil {
		t.Fatalf("reading goldens: %v", err)
	}
	var f goldenFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parsing goldens: %v", err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("goldens.json has no cases")
	}
	return f.Cases
}

// Tolerances. Values and metrics: 1e-9 relative. Gradients: 1e-8 relative per entry, with an
// absolute slack of 1e-9 × the case's largest gradient entry for entries that are (nearly) zero.
// Measured against the committed goldens: values agree to 1e-15, metrics to 1e-13 and
// gradients to 2e-12 relative, without using the slack.
const (
	valueRelTol = 1e-9
	gradRelTol  = 1e-8
	gradFloor   = 1e-9
)

func closeRel(got, want, tol, floor float64) bool {
	if got == want {
		return true
	}
	if math.IsNaN(got) || math.IsNaN(want) || math.IsInf(got, 0) || math.IsInf(want, 0) {
		return false
	}
	scale := math.Max(math.Max(math.Abs(got), math.Abs(want)), floor)
	return math.Abs(got-want) <= tol*scale
}

// lossTable has one row per loss: each row runs every golden case whose first loss_type is
// that loss, plus the finite-difference check. Adding a loss = one function + one row here +
// its cases in gen_goldens.py.
var lossTable = []struct {
	name string
}{
	{"sigmoid"}, {"hinge"}, {"ipo"}, {"exo_pair"}, {"nca_pair"}, {"robust"}, {"bco_pair"},
	{"sppo_hard"}, {"aot"}, {"aot_unpaired"}, {"apo_zero"}, {"apo_down"}, {"discopop"},
	{"sft"}, {"sigmoid_norm"},
	{"kto"}, {"apo_zero_unpaired"},
	{"orpo"}, {"simpo"}, {"cpo"},
	{"lipo_listmle"}, {"lipo_lambda"},
	{"bradley_terry"},
}

func TestLossTableCoversRegistry(t *testing.T) {
	rows := map[string]bool{}
	for _, r := range lossTable {
		rows[r.name] = true
	}
	for _, n := range Names() {
		if !rows[n] {
			t.Errorf("loss %q has no row in lossTable", n)
		}
	}
	if len(rows) != len(Names()) {
		t.Errorf("lossTable has %d rows, registry %d losses", len(rows), len(Names()))
	}
}

func TestLosses(t *testing.T) {
	cases := loadGoldens(t)
	byLoss := map[string][]goldenCase{}
	for _, c := range cases {
		key := c.Losses[0]
		if len(c.Losses) > 1 || c.Weights != nil {
			key = "mix"
		}
		byLoss[key] = append(byLoss[key], c)
	}
	for _, row := range lossTable {
		t.Run(row.name, func(t *testing.T) {
			if len(byLoss[row.name]) == 0 {
				t.Fatalf("no golden cases for %q", row.name)
			}
			for _, c := range byLoss[row.name] {
				t.Run(strings.TrimPrefix(c.Name, row.name+"/"), func(t *testing.T) { checkCase(t, c) })
			}
		})
	}
	t.Run("mix", func(t *testing.T) {
		if len(byLoss["mix"]) == 0 {
			t.Fatal("no golden cases for loss_type lists")
		}
		for _, c := range byLoss["mix"] {
			t.Run(strings.TrimPrefix(c.Name, "mix/"), func(t *testing.T) { checkCase(t, c) })
		}
	})
}

func run(c goldenCase, b *Batch) (*Result, error) {
	if len(c.Losses) == 1 && c.Weights == nil {
		return Compute(c.Losses[0], b, c.Params.params())
	}
	return Combine(c.Losses, c.Weights, b, c.Params.params())
}

func checkCase(t *testing.T, c goldenCase) {
	b := c.Batch
	r, err := run(c, &b)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	if !closeRel(r.Loss, c.Want.Loss, valueRelTol, 0) {
		t.Errorf("loss = %.17g, want %.17g (rel err %.2g)", r.Loss, c.Want.Loss, relErr(r.Loss, c.Want.Loss))
	}
	for k, want := range c.Want.Metrics {
		got, ok := r.Metrics[k]
		if !ok {
			t.Errorf("metric %s missing", k)
			continue
		}
		if !closeRel(got, want, valueRelTol, 1e-12) {
			t.Errorf("metric %s = %.17g, want %.17g", k, got, want)
		}
	}
	for k := range r.Metrics {
		if _, ok := c.Want.Metrics[k]; !ok {
			t.Errorf("unexpected metric %s", k)
		}
	}
	if c.Want.TokenGrads != nil {
		checkTokenGrads(t, c, r)
	}
	for k, want := range c.Want.Grads {
		checkVector(t, k, resultField(r, k), want)
	}
	if c.CheckFD {
		checkFiniteDifferences(t, c, r)
	}
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

func maxAbs(rows ...[]float64) float64 {
	m := 0.0
	for _, r := range rows {
		for _, x := range r {
			m = math.Max(m, math.Abs(x))
		}
	}
	return m
}

func checkVector(t *testing.T, name string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d entries, want %d", name, len(got), len(want))
		return
	}
	floor := gradFloor * maxAbs(want)
	for i := range want {
		if !closeRel(got[i], want[i], gradRelTol, floor) {
			t.Errorf("%s[%d] = %.17g, want %.17g (rel err %.2g)", name, i, got[i], want[i], relErr(got[i], want[i]))
		}
	}
}

// resultField returns the Result gradient slice with the given field name.
func resultField(r *Result, name string) []float64 {
	switch name {
	case "DPolicyChosen":
		return r.DPolicyChosen
	case "DPolicyRejected":
		return r.DPolicyRejected
	case "DRefChosen":
		return r.DRefChosen
	case "DRefRejected":
		return r.DRefRejected
	case "DPolicyChosenTail":
		return r.DPolicyChosenTail
	case "DPolicyRejectedTail":
		return r.DPolicyRejectedTail
	case "DRefChosenTail":
		return r.DRefChosenTail
	case "DRefRejectedTail":
		return r.DRefRejectedTail
	case "DPolicy":
		return r.DPolicy
	case "DRef":
		return r.DRef
	case "DListPolicy":
		return r.DListPolicy
	case "DListRef":
		return r.DListRef
	case "DRewardChosen":
		return r.DRewardChosen
	case "DRewardRejected":
		return r.DRewardRejected
	}
	panic("unknown Result field " + name)
}

// checkTokenGrads rebuilds per-token gradients the way the trainer does — every completion
// token of pair i gets D*[i], and with ld_alpha the tokens past the shared length
// min(ChosenTokens[i], RejectedTokens[i]) also get D*Tail[i] — and compares them with autograd's.
func checkTokenGrads(t *testing.T, c goldenCase, r *Result) {
	t.Helper()
	b := c.Batch
	ld := c.Params.LDAlpha != nil
	sides := []struct {
		key        string
		seq, tail  []float64
		own, other []int
	}{
		{"PolicyChosen", r.DPolicyChosen, r.DPolicyChosenTail, b.ChosenTokens, b.RejectedTokens},
		{"PolicyRejected", r.DPolicyRejected, r.DPolicyRejectedTail, b.RejectedTokens, b.ChosenTokens},
		{"RefChosen", r.DRefChosen, r.DRefChosenTail, b.ChosenTokens, b.RejectedTokens},
		{"RefRejected", r.DRefRejected, r.DRefRejectedTail, b.RejectedTokens, b.ChosenTokens},
	}
	for _, s := range sides {
		want, ok := c.Want.TokenGrads[s.key]
		if !ok {
			continue
		}
		var got, flatWant []float64
		for i, row := range want {
			if s.seq == nil {
				t.Fatalf("Result has no gradient for %s", s.key)
			}
			shared := min(s.own[i], s.other[i])
			for tok := range row {
				g := s.seq[i]
				if ld && tok >= shared {
					g += s.tail[i]
				}
				got = append(got, g)
				flatWant = append(flatWant, row[tok])
			}
		}
		checkVector(t, "token grads of "+s.key, got, flatWant)
	}
}

// perturbable lists the Batch inputs a finite-difference check may move, with the Result
// gradient that should match. Detached inputs (WPO weights, the KTO KL pairs, margins) are
// left out: by design their gradient is not the derivative.
func perturbable(b *Batch, r *Result, p goldenParams) []struct {
	name string
	x    []float64
	grad []float64
} {
	type in = struct {
		name string
		x    []float64
		grad []float64
	}
	var out []in
	add := func(name string, x, g []float64) {
		if x != nil && g != nil {
			out = append(out, in{name, x, g})
		}
	}
	add("PolicyChosen", b.PolicyChosen, r.DPolicyChosen)
	add("PolicyRejected", b.PolicyRejected, r.DPolicyRejected)
	add("RefChosen", b.RefChosen, r.DRefChosen)
	add("RefRejected", b.RefRejected, r.DRefRejected)
	if p.LDAlpha != nil {
		add("PolicyChosenTail", b.PolicyChosenTail, r.DPolicyChosenTail)
		add("PolicyRejectedTail", b.PolicyRejectedTail, r.DPolicyRejectedTail)
		add("RefChosenTail", b.RefChosenTail, r.DRefChosenTail)
		add("RefRejectedTail", b.RefRejectedTail, r.DRefRejectedTail)
	}
	add("Policy", b.Policy, r.DPolicy)
	add("Ref", b.Ref, r.DRef)
	add("ListPolicy", b.ListPolicy, r.DListPolicy)
	add("ListRef", b.ListRef, r.DListRef)
	add("RewardChosen", b.RewardChosen, r.DRewardChosen)
	add("RewardRejected", b.RewardRejected, r.DRewardRejected)
	return out
}

// checkFiniteDifferences compares every gradient entry with a float64 central difference of
// Compute itself, independently of the torch goldens.
func checkFiniteDifferences(t *testing.T, c goldenCase, r *Result) {
	t.Helper()
	b := cloneBatch(c.Batch)
	inputs := perturbable(&b, r, c.Params)
	if len(inputs) == 0 {
		t.Fatal("no inputs to perturb")
	}
	scale := 0.0
	for _, in := range inputs {
		scale = math.Max(scale, maxAbs(in.grad))
	}
	for _, in := range inputs {
		for i := range in.x {
			x0 := in.x[i]
			h := 1e-6 * math.Max(1, math.Abs(x0))
			in.x[i] = x0 + h
			up, err := run(c, &b)
			if err != nil {
				t.Fatalf("finite difference: %v", err)
			}
			in.x[i] = x0 - h
			down, err := run(c, &b)
			if err != nil {
				t.Fatalf("finite difference: %v", err)
			}
			in.x[i] = x0
			fd := (up.Loss - down.Loss) / (2 * h)
			// Central differences are accurate to O(h²) plus rounding of order ε·|L|/h.
			tol := 1e-6*math.Max(math.Abs(in.grad[i]), 1e-3*scale) + 100*2.2e-16*(1+math.Abs(r.Loss))/h
			if math.Abs(fd-in.grad[i]) > tol {
				t.Errorf("d loss/d %s[%d]: analytic %.12g, central difference %.12g", in.name, i, in.grad[i], fd)
			}
		}
	}
}

func cloneBatch(b Batch) Batch {
	cp := func(x []float64) []float64 {
		if x == nil {
			return nil
		}
		return append([]float64(nil), x...)
	}
	b.PolicyChosen, b.PolicyRejected = cp(b.PolicyChosen), cp(b.PolicyRejected)
	b.RefChosen, b.RefRejected = cp(b.RefChosen), cp(b.RefRejected)
	b.PolicyChosenTail, b.PolicyRejectedTail = cp(b.PolicyChosenTail), cp(b.PolicyRejectedTail)
	b.RefChosenTail, b.RefRejectedTail = cp(b.RefChosenTail), cp(b.RefRejectedTail)
	b.Policy, b.Ref = cp(b.Policy), cp(b.Ref)
	b.ListPolicy, b.ListRef = cp(b.ListPolicy), cp(b.ListRef)
	b.RewardChosen, b.RewardRejected = cp(b.RewardChosen), cp(b.RewardRejected)
	return b
}

func TestUnknownLossListsNames(t *testing.T) {
	_, err := Compute("sigmiod", &Batch{}, DefaultParams())
	if err == nil {
		t.Fatal("no error for an unknown loss")
	}
	for _, n := range []string{"sigmoid", "kto", "orpo", "lipo_lambda"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
	if !sort.StringsAreSorted(Names()) {
		t.Error("Names() is not sorted")
	}
}

func pairBatch() *Batch {
	return &Batch{
		PolicyChosen: []float64{-3, -4}, PolicyRejected: []float64{-5, -2},
		RefChosen: []float64{-3.5, -4}, RefRejected: []float64{-4, -2.5},
		ChosenTokens: []int{2, 3}, RejectedTokens: []int{4, 1},
	}
}

// TestInputErrors: malformed batches and parameters are errors, never panics or NaN.
func TestInputErrors(t *testing.T) {
	half := 0.5
	tests := []struct {
		name   string
		losses []string
		mutate func(b *Batch, p *Params)
		want   string
	}{
		{"nil reference", []string{"sigmoid"}, func(b *Batch, p *Params) { b.RefChosen = nil }, "reference"},
		{"length mismatch", []string{"ipo"}, func(b *Batch, p *Params) { b.PolicyRejected = b.PolicyRejected[:1] }, "PolicyRejected"},
		{"token count mismatch", []string{"ipo"}, func(b *Batch, p *Params) { b.ChosenTokens = nil }, "ChosenTokens"},
		{"NaN input", []string{"sigmoid"}, func(b *Batch, p *Params) { b.PolicyChosen[0] = math.NaN() }, "NaN"},
		{"zero beta", []string{"sigmoid"}, func(b *Batch, p *Params) { p.Beta = 0 }, "beta"},
		{"robust smoothing", []string{"robust"}, func(b *Batch, p *Params) { p.LabelSmoothing = 0.5 }, "label_smoothing"},
		{"exo smoothing", []string{"exo_pair"}, func(b *Batch, p *Params) { p.LabelSmoothing = 1 }, "label_smoothing"},
		{"discopop tau", []string{"discopop"}, func(b *Batch, p *Params) { p.DiscopopTau = 0 }, "discopop_tau"},
		{"ld tails missing", []string{"sigmoid"}, func(b *Batch, p *Params) { p.LDAlpha = &half }, "ld_alpha"},
		{"wpo weights missing", []string{"sigmoid"}, func(b *Batch, p *Params) { p.UseWeighting = true }, "use_weighting"},
		{"f-divergence", []string{"sigmoid"}, func(b *Batch, p *Params) { p.FDivergence = "hellinger" }, "f_divergence_type"},
		{"orpo positive logp", []string{"orpo"}, func(b *Batch, p *Params) { b.PolicyChosen[0] = 0.1 }, "below 0"},
		{"orpo with rpo_alpha", []string{"orpo"}, func(b *Batch, p *Params) { p.RPOAlpha = 1 }, "rpo_alpha"},
		{"combine kto", []string{"sigmoid", "kto"}, func(b *Batch, p *Params) {}, "cannot be combined"},
		{"combine weights", []string{"sigmoid", "ipo"}, func(b *Batch, p *Params) {}, "loss_weights"},
		{"kto empty", []string{"kto"}, func(b *Batch, p *Params) {}, "empty"},
		{"lipo list size", []string{"lipo_listmle"}, func(b *Batch, p *Params) { b.ListPolicy = []float64{1, 2, 3}; b.ListSize = 2 }, "ListSize"},
		{"reward empty", []string{"bradley_terry"}, func(b *Batch, p *Params) {}, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, p := pairBatch(), DefaultParams()
			tt.mutate(b, &p)
			var err error
			if len(tt.losses) == 1 {
				_, err = Compute(tt.losses[0], b, p)
			} else {
				weights := []float64{1, 1}
				if tt.name == "combine weights" {
					weights = []float64{1}
				}
				_, err = Combine(tt.losses, weights, b, p)
			}
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestDPOStartsAtLn2: with the reference equal to the policy, sigmoid DPO is ln 2 and its
// rewards are zero — the trainer's "reference equals initial policy" case.
func TestDPOStartsAtLn2(t *testing.T) {
	b := pairBatch()
	b.RefChosen = append([]float64(nil), b.PolicyChosen...)
	b.RefRejected = append([]float64(nil), b.PolicyRejected...)
	r, err := Compute("sigmoid", b, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Loss-math.Ln2) > 1e-15 {
		t.Errorf("loss = %v, want ln 2", r.Loss)
	}
	if r.Metrics["rewards/margins"] != 0 || r.Metrics["rewards/accuracies"] != 0 {
		t.Errorf("metrics = %v, want zero margins and accuracies", r.Metrics)
	}
}

// TestCombineSingleEqualsCompute: a one-element loss_type list is the loss itself.
func TestCombineSingleEqualsCompute(t *testing.T) {
	for _, name := range []string{"sigmoid", "ipo", "apo_down"} {
		a, err := Compute(name, pairBatch(), DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		c, err := Combine([]string{name}, []float64{2}, pairBatch(), DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(c.Loss-2*a.Loss) > 1e-15*math.Abs(a.Loss) {
			t.Errorf("%s: Combine weight 2 = %v, want %v", name, c.Loss, 2*a.Loss)
		}
	}
}

func ExampleCompute() {
	b := &Batch{
		PolicyChosen: []float64{-12.5}, PolicyRejected: []float64{-15.0},
		RefChosen: []float64{-13.0}, RefRejected: []float64{-14.0},
		ChosenTokens: []int{5}, RejectedTokens: []int{6},
	}
	r, err := Compute("sigmoid", b, DefaultParams())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.6f, dL/dπc %.6f, margin %.2f\n", r.Loss, r.DPolicyChosen[0], r.Metrics["rewards/margins"])
	// Output: loss 0.620957, dL/dπc -0.046257, margin 0.15
}

// TestKTOLogitsMetrics: logits/chosen and logits/rejected as TRL's KTOTrainer logs them,
// Σ (vocabulary-mean logit over completion tokens) / Σ completion tokens per label, worked
// by hand: desirable rows 0 and 2 give (2 + 6) / (1 + 3) = 2, the undesirable row 1 gives
// −3 / 2 = −1.5.
func TestKTOLogitsMetrics(t *testing.T) {
	b := &Batch{Policy: []float64{-1, -2, -3}, Ref: []float64{-1.5, -2, -2}, Tokens: []int{1, 2, 3},
		Desirable: []bool{true, false, true}, LogitsSum: []float64{2, -3, 6}}
	for _, name := range []string{"kto", "apo_zero_unpaired"} {
		r, err := Compute(name, b, Params{Beta: 0.1, DesirableWeight: 1, UndesirableWeight: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Metrics["logits/chosen"]; !(math.Abs(got-2) <= 1e-12) {
			t.Errorf("%s logits/chosen %v, want 2", name, got)
		}
		if got := r.Metrics["logits/rejected"]; !(math.Abs(got+1.5) <= 1e-12) {
			t.Errorf("%s logits/rejected %v, want -1.5", name, got)
		}
	}
}
