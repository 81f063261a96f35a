package loss

import (
	"fmt"
	"math"
	"sort"
)

func init() {
	register("lipo_listmle", FamilyList, true, func(b *Batch, p Params) (*Result, error) { return runListwise(b, p, listMLE) })
	register("lipo_lambda", FamilyList, true, func(b *Batch, p Params) (*Result, error) { return runListwise(b, p, lambdaLoss) })
}

// listLoss computes one list's loss from its rewards s and labels, returning the loss and
// dloss/ds.
type listLoss func(s, labels []float64) (float64, []float64)

// runListwise computes the LiPO losses (Liu et al. 2024, "LiPO: Listwise Preference Optimization
// through Learning-to-Rank", arXiv 2402.01878). TRL has no LiPO; the formulas follow the paper.
// Each of the B lists has K = ListSize responses with implicit rewards
//
//	s_k = β·(ListPolicy[k] − ListRef[k])
//
// and graded labels ψ_k = ListLabels[k] (higher is better). The batch loss is the mean over
// lists. Metrics: rewards/chosen and logps/chosen are means over lists of the best-labelled
// response, rewards/rejected and logps/rejected of the worst-labelled one (first in list order
// among ties), rewards/margins their difference, and rewards/accuracies the fraction of
// label-ordered pairs (ψ_a > ψ_b) whose rewards are ordered the same way (s_a > s_b).
func runListwise(b *Batch, p Params, fn listLoss) (*Result, error) {
	if b == nil {
		return nil, fmt.Errorf("nil batch")
	}
	k := b.ListSize
	if k < 2 {
		return nil, fmt.Errorf("ListSize must be at least 2, got %d", k)
	}
	total := len(b.ListPolicy)
	if total == 0 || total%k != 0 {
		return nil, fmt.Errorf("ListPolicy has %d values, not a positive multiple of ListSize %d", total, k)
	}
	if !(p.Beta > 0) || math.IsInf(p.Beta, 0) {
		return nil, fmt.Errorf("beta must be a positive number, got %v", p.Beta)
	}
	if err := checkLen("ListPolicy", b.ListPolicy, total); err != nil {
		return nil, err
	}
	if err := checkLen("ListLabels", b.ListLabels, total); err != nil {
		return nil, err
	}
	if p.LDAlpha != nil || p.UseWeighting || p.RPOAlpha != 0 {
		return nil, fmt.Errorf("ld_alpha, use_weighting and rpo_alpha apply only to DPO-family losses")
	}
	ref := make([]float64, total)
	if !p.ReferenceFree {
		if err := checkLen("ListRef", b.ListRef, total); err != nil {
			return nil, fmt.Errorf("reference log-probs: %w", err)
		}
		copy(ref, b.ListRef)
	}
	lists := total / k
	r := &Result{DListPolicy: make([]float64, total), Metrics: map[string]float64{}}
	if !p.ReferenceFree {
		r.DListRef = make([]float64, total)
	}
	var rewBest, rewWorst, lpBest, lpWorst, pairs, correct float64
	s := make([]float64, k)
	for l := 0; l < lists; l++ {
		off := l * k
		for j := 0; j < k; j++ {
			s[j] = p.Beta * (b.ListPolicy[off+j] - ref[off+j])
		}
		labels := b.ListLabels[off : off+k]
		v, ds := fn(s, labels)
		r.Loss += v / float64(lists)
		for j := 0; j < k; j++ {
			g := ds[j] * p.Beta / float64(lists)
			r.DListPolicy[off+j] = g
			if r.DListRef != nil {
				r.DListRef[off+j] = -g
			}
		}
		best, worst := 0, 0
		for j := 1; j < k; j++ {
			if labels[j] > labels[best] {
				best = j
			}
			if labels[j] < labels[worst] {
				worst = j
			}
		}
		rewBest += s[best]
		rewWorst += s[worst]
		lpBest += b.ListPolicy[off+best]
		lpWorst += b.ListPolicy[off+worst]
		for a := 0; a < k; a++ {
			for c := 0; c < k; c++ {
				if labels[a] > labels[c] {
					pairs++
					if s[a] > s[c] {
						correct++
					}
				}
			}
		}
	}
	nl := float64(lists)
	r.Metrics["rewards/chosen"] = rewBest / nl
	r.Metrics["rewards/rejected"] = rewWorst / nl
	r.Metrics["rewards/margins"] = (rewBest - rewWorst) / nl
	r.Metrics["logps/chosen"] = lpBest / nl
	r.Metrics["logps/rejected"] = lpWorst / nl
	if pairs > 0 {
		r.Metrics["rewards/accuracies"] = correct / pairs
	}
	return r, nil
}

// descendingOrder returns the indices of xs sorted from largest to smallest; ties keep their
// list order.
func descendingOrder(xs []float64) []int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] > xs[idx[b]] })
	return idx
}

// listMLE is the Plackett–Luce negative log-likelihood of the label order τ (labels sorted
// descending, ties in list order):
//
//	ℓ = Σ_{m=1..K} [ log Σ_{j≥m} exp(s_τ(j)) − s_τ(m) ]
func listMLE(s, labels []float64) (float64, []float64) {
	k := len(s)
	order := descendingOrder(labels)
	ds := make([]float64, k)
	loss := 0.0
	for m := 0; m < k; m++ {
		hi := math.Inf(-1)
		for j := m; j < k; j++ {
			hi = math.Max(hi, s[order[j]])
		}
		z := 0.0
		for j := m; j < k; j++ {
			z += math.Exp(s[order[j]] - hi)
		}
		loss += hi + math.Log(z) - s[order[m]]
		ds[order[m]]--
		for j := m; j < k; j++ {
			ds[order[j]] += math.Exp(s[order[j]]-hi) / z
		}
	}
	return loss, ds
}

// lambdaLoss is LiPO-λ (the paper's eq. 5–6), a LambdaLoss-weighted pairwise logistic loss:
//
//	ℓ = Σ_{ψ_a > ψ_b} Δ_ab · (−log σ(s_a − s_b))
//	Δ_ab = |G_a − G_b| · |1/D(τ_a) − 1/D(τ_b)|,  G = 2^ψ − 1,  D(τ) = log2(1 + τ)
//
// where τ_a is the 1-based rank of response a when the list is sorted by s, descending (ties
// in list order). The Lambda weights are constants: no gradient flows through the ranks. The
// paper writes D = log(1 + τ); we use base 2, the NDCG discount of TF-Ranking that LiPO builds
// on (a change of base only rescales the loss by a constant).
func lambdaLoss(s, labels []float64) (float64, []float64) {
	k := len(s)
	rank := make([]float64, k)
	for pos, j := range descendingOrder(s) {
		rank[j] = float64(pos + 1)
	}
	ds := make([]float64, k)
	loss := 0.0
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			if !(labels[a] > labels[b]) {
				continue
			}
			gain := math.Abs(math.Exp2(labels[a]) - math.Exp2(labels[b]))
			disc := math.Abs(1/math.Log2(1+rank[a]) - 1/math.Log2(1+rank[b]))
			w := gain * disc
			x := s[a] - s[b]
			loss += -w * logSigmoid(x)
			g := -w * sigmoid(-x)
			ds[a] += g
			ds[b] -= g
		}
	}
	return loss, ds
}
