package demo

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/model"
)

// DefaultSeed seeds the split, the SFT corpus order and the DPO run.
const DefaultSeed = 1

// SFTEval is what the shipped SFT model scores on the held-out prompts
// (demo/assets/model/sft_eval.json, written by demo/scripts/make_model.sh). The demo's
// reference is this model, so its judged success must come out the same.
type SFTEval struct {
	N              int      `json:"n"`
	HeldOutSuccess float64  `json:"heldout_success"` // judged success, sampled as Sampling says
	GreedySuccess  float64  `json:"greedy_success"`  // judged success of greedy decoding
	ContentCorrect float64  `json:"content_correct"` // the right number in either spelling (sampled)
	AmericanShare  float64  `json:"sft_american_share"`
	Sampling       Sampling `json:"sampling"`
	Seed           uint64   `json:"split_seed"`
}

// Correct says whether completion spells the prompt's number in either form.
func Correct(prompt, completion string) bool {
	n, ok := ParsePrompt(prompt)
	if !ok {
		return false
	}
	c := strings.TrimSpace(completion)
	return c == Words(n, false) || c == Words(n, true)
}

// EvaluateSFT scores m (no adapters) on the held-out prompts of split.
func EvaluateSFT(m *model.Model, tok *tokenizer.Tokenizer, split Split, s Sampling) (SFTEval, error) {
	prompts := make([]string, len(split.HeldOut))
	for i, n := range split.HeldOut {
		prompts[i] = Prompt(n)
	}
	sampled, err := Complete(m, tok, prompts, s, false)
	if err != nil {
		return SFTEval{}, err
	}
	g := s
	g.Temperature = 0
	greedy, err := Complete(m, tok, prompts, g, false)
	if err != nil {
		return SFTEval{}, err
	}
	ev := SFTEval{N: len(prompts), HeldOutSuccess: SuccessRate(prompts, sampled), GreedySuccess: SuccessRate(prompts, greedy),
		AmericanShare: SFTAmericanShare, Sampling: s}
	for i, p := range prompts {
		if Correct(p, sampled[i]) {
			ev.ContentCorrect++
		}
	}
	ev.ContentCorrect /= float64(len(prompts))
	return ev, nil
}

// WriteSFTEval writes ev as JSON.
func WriteSFTEval(path string, ev SFTEval) error { return writeJSON(path, ev) }

// ReadSFTEval reads an sft_eval.json.
func ReadSFTEval(raw []byte, name string) (SFTEval, error) {
	var ev SFTEval
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("demo: %s: %w", name, err)
	}
	return ev, nil
}
