package demo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
)

// reduced is a seconds-long setting of the whole pipeline.
func reduced(out string) Options {
	return Options{Out: out, Steps: 3, BatchPairs: 4, TrainPairs: 24, HeldOut: 6}
}

// TestRunReduced runs the demo pipeline end to end on a reduced setting and checks
// what it writes; a second run with the same seed gives the same numbers.
func TestRunReduced(t *testing.T) {
	dir := t.TempDir()
	r1, err := Run(reduced(filepath.Join(dir, "a")))
	if err != nil {
		t.Fatal(err)
	}
	p := PathsFor(filepath.Join(dir, "a"))
	for _, f := range []string{
		filepath.Join(p.SFTModel, "model.safetensors"), filepath.Join(p.SFTModel, "tokenizer.json"),
		p.Train, p.HeldOut, filepath.Join(p.DPO, "adapter_model.safetensors"), filepath.Join(p.DPO, "adapter_config.json"),
		filepath.Join(p.Eval, "reference.jsonl"), filepath.Join(p.Eval, "policy.jsonl"), p.Report, p.Results,
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	if r1.HeldOutPairs != 6 || r1.TrainPairs != 24 || r1.WinRate.N != 6 || len(r1.Examples) != 6 {
		t.Errorf("sizes: %+v", r1)
	}
	if r1.RefUnchanged != nil {
		t.Error("a reduced run claims to have compared the reference with the shipped model")
	}
	for _, v := range []float64{r1.Rewards.Accuracy, r1.RefSuccess, r1.PolicySuccess, r1.WinRate.WinRate} {
		if v < 0 || v > 1 {
			t.Errorf("a rate outside [0,1]: %+v", r1)
		}
	}
	rep, err := os.ReadFile(p.Report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"reward accuracy", "win rate", "judged success", "`347 in words:`"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	var fromFile Result
	raw, err := os.ReadFile(p.Results)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fromFile); err != nil {
		t.Fatal(err)
	}
	r2, err := Run(reduced(filepath.Join(dir, "b")))
	if err != nil {
		t.Fatal(err)
	}
	same := func(r *Result) []any {
		return []any{r.Rewards, r.WinRate, r.RefSuccess, r.PolicySuccess, r.Examples}
	}
	if !reflect.DeepEqual(same(r1), same(r2)) {
		t.Errorf("two runs with the same seed differ:\n%+v\n%+v", same(r1), same(r2))
	}
	if !reflect.DeepEqual(same(r1), same(&fromFile)) {
		t.Errorf("results.json differs from the returned result")
	}
}

// TestShippedModel: the embedded model loads, its tokenizer round-trips the task's
// texts, and greedy decoding spells held-out numbers correctly in one of the two
// forms (the SFT model learned the task, not just the style).
func TestShippedModel(t *testing.T) {
	dir := t.TempDir()
	if err := WriteAssets(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{Prompt(347), Completion(347, true), Completion(909, false)} {
		if back := tok.Decode(tok.Encode(s, false), false); back != s {
			t.Errorf("%q round-trips as %q", s, back)
		}
	}
	be := cpu.New(2)
	defer be.Close()
	m, err := model.Load(dir, be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	held := NewSplit(DefaultSeed).HeldOut[:20]
	prompts := make([]string, len(held))
	for i, n := range held {
		prompts[i] = Prompt(n)
	}
	greedy, err := Complete(m, tok, prompts, Sampling{MaxNewTokens: 12}, false)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, p := range prompts {
		if Correct(p, greedy[i]) {
			correct++
		}
	}
	if correct < 18 {
		t.Errorf("greedy decoding spelled %d of 20 held-out numbers correctly: %q", correct, greedy)
	}
	ev, err := ShippedEval()
	if err != nil {
		t.Fatal(err)
	}
	if ev.N != HeldOutCount || ev.Seed != DefaultSeed || ev.Sampling != DefaultSampling {
		t.Errorf("sft_eval.json does not describe the demo's evaluation: %+v", ev)
	}
}

// TestShippedEvalReproduces: evaluating the embedded model as make_model.sh did gives
// the numbers in its sft_eval.json — the reference success the demo reports as
// unchanged. One prompt of slack (1/200) allows for a sampled token flipping on a CPU
// whose BLAS kernels round differently from the machine that made the file.
func TestShippedEvalReproduces(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates 200 prompts")
	}
	dir := t.TempDir()
	if err := WriteAssets(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(0)
	defer be.Close()
	m, err := model.Load(dir, be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ShippedEval()
	if err != nil {
		t.Fatal(err)
	}
	got, err := EvaluateSFT(m, tok, NewSplit(want.Seed), want.Sampling)
	if err != nil {
		t.Fatal(err)
	}
	slack := 1.0/float64(want.N) + 1e-9
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"held-out success", got.HeldOutSuccess, want.HeldOutSuccess},
		{"greedy success", got.GreedySuccess, want.GreedySuccess},
		{"content correct", got.ContentCorrect, want.ContentCorrect},
	} {
		if d := c.got - c.want; d > slack || d < -slack {
			t.Errorf("%s: %.3f now, %.3f in sft_eval.json", c.name, c.got, c.want)
		}
	}
	// the SFT model is imperfect in the way the task intends: it knows the numbers but
	// rarely uses the preferred spelling
	if want.HeldOutSuccess > 0.4 || want.ContentCorrect < 0.95 {
		t.Errorf("shipped model: success %.3f, content %.3f", want.HeldOutSuccess, want.ContentCorrect)
	}
}
