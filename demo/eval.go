package demo

import (
	"fmt"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train"
)

// Sampling is how the evaluation generates: the model's own distribution
// (temperature 1, no top-p cut), one seeded stream per prompt. The same prompt index
// gets the same stream for the reference and the policy (common random numbers), so
// their difference comes from the models, not from the draws.
type Sampling struct {
	MaxNewTokens int     `json:"max_new_tokens"`
	Temperature  float64 `json:"temperature"`
	TopP         float64 `json:"top_p"`
	Seed         uint64  `json:"seed"`
}

// DefaultSampling samples from the model's distribution.
var DefaultSampling = Sampling{MaxNewTokens: 12, Temperature: 1, TopP: 1, Seed: 2024}

// promptSeed mixes the run seed and the prompt index (splitmix64).
func promptSeed(seed uint64, i int) uint64 {
	z := seed + uint64(i+1)*0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// Complete generates one completion per prompt (the text after the prompt, the EOS
// token left out) with the policy, or with the reference when reference is true
// (LoRA adapters off).
func Complete(m *model.Model, tok *tokenizer.Tokenizer, prompts []string, s Sampling, reference bool) ([]string, error) {
	eos, ok := tok.EOS()
	if !ok {
		return nil, fmt.Errorf("demo: the tokenizer has no EOS token")
	}
	cache := m.NewKVCache(0)
	out := make([]string, len(prompts))
	for i, p := range prompts {
		ids := tok.Encode(p, false)
		prompt := make([]int32, len(ids))
		for k, id := range ids {
			prompt[k] = int32(id)
		}
		g, err := m.Generate(prompt, model.GenerateOptions{
			MaxNewTokens: s.MaxNewTokens, Temperature: s.Temperature, TopP: s.TopP,
			Seed: promptSeed(s.Seed, i), StopIDs: []int32{int32(eos)}, NoAdapters: reference,
		}, cache)
		if err != nil {
			return nil, fmt.Errorf("demo: prompt %d %q: %w", i+1, p, err)
		}
		gen := make([]int, 0, len(g.IDs))
		for _, id := range g.IDs {
			if int(id) != eos {
				gen = append(gen, int(id))
			}
		}
		out[i] = tok.Decode(gen, true)
	}
	return out, nil
}

// SuccessRate is the mean judge score of completions to prompts.
func SuccessRate(prompts, completions []string) float64 {
	if len(prompts) == 0 {
		return 0
	}
	var s float64
	for i, p := range prompts {
		s += Score(p, completions[i], "")
	}
	return s / float64(len(prompts))
}

// SeqLogps returns the completion log-prob sums of each pair's chosen and rejected
// sequence, with the policy or (reference) the base model, batchPairs pairs at a time.
func SeqLogps(m *model.Model, pairs []data.Pair, batchPairs int, reference bool) (chosen, rejected []float64, err error) {
	for lo := 0; lo < len(pairs); lo += batchPairs {
		hi := min(lo+batchPairs, len(pairs))
		c, r, err := pairLogps(m, pairs[lo:hi], model.ForwardOptions{Eval: true, NoAdapters: reference})
		if err != nil {
			return nil, nil, err
		}
		chosen = append(chosen, c...)
		rejected = append(rejected, r...)
	}
	return chosen, rejected, nil
}

func pairLogps(m *model.Model, pairs []data.Pair, fo model.ForwardOptions) (chosen, rejected []float64, err error) {
	mp := make([]model.Pair, len(pairs))
	for i, p := range pairs {
		mp[i] = model.Pair{Prompt: p.PromptIDs, Chosen: p.ChosenIDs, Rejected: p.RejectedIDs}
	}
	s, err := train.SequenceLogProbs(m, model.PairGroups(mp), fo)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	return s[:len(pairs)], s[len(pairs):], nil
}

// RewardStats are DPO's implicit rewards r = β·(log π(y|x) − log π_ref(y|x)) on pairs.
type RewardStats struct {
	Accuracy float64 // fraction of pairs with r(chosen) > r(rejected)
	Margin   float64 // mean r(chosen) − r(rejected)
	Chosen   float64 // mean r(chosen)
	Rejected float64 // mean r(rejected)
}

// Rewards computes the implicit-reward statistics of the policy against its reference
// (the same model with adapters off) on pairs.
func Rewards(m *model.Model, pairs []data.Pair, beta float64, batchPairs int) (RewardStats, error) {
	pc, pr, err := SeqLogps(m, pairs, batchPairs, false)
	if err != nil {
		return RewardStats{}, err
	}
	rc, rr, err := SeqLogps(m, pairs, batchPairs, true)
	if err != nil {
		return RewardStats{}, err
	}
	var st RewardStats
	for i := range pairs {
		c, r := beta*(pc[i]-rc[i]), beta*(pr[i]-rr[i])
		if c > r {
			st.Accuracy++
		}
		st.Margin += c - r
		st.Chosen += c
		st.Rejected += r
	}
	n := float64(len(pairs))
	st.Accuracy /= n
	st.Margin /= n
	st.Chosen /= n
	st.Rejected /= n
	return st, nil
}
