package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
)

// TestExportMergesAdapter: the merged model's log-probs equal the base model with the
// adapter applied (the engine's LoRA path, checked against PyTorch in package model),
// on the engine's golden adapter fixture.
func TestExportMergesAdapter(t *testing.T) {
	const base = "../model/testdata/qwen2_bias"
	adapter := filepath.Join(base, "adapter")
	out := t.TempDir()
	if err := Export(base, adapter, out); err != nil {
		t.Fatal(err)
	}
	be := cpu.New(1)
	defer be.Close()
	lc, err := model.ReadAdapterConfig(adapter)
	if err != nil {
		t.Fatal(err)
	}
	withAdapter, err := model.Load(base, be, model.Options{LoRA: lc})
	if err != nil {
		t.Fatal(err)
	}
	if err := withAdapter.LoadAdapter(adapter); err != nil {
		t.Fatal(err)
	}
	merged, err := model.Load(out, be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.BuildBatch([]model.Group{{Prompt: []int32{5, 9, 17}, Completions: [][]int32{{33, 2, 71, 8}}, Seqs: []int32{0}}, {Prompt: []int32{40}, Completions: [][]int32{{3, 3, 99}}, Seqs: []int32{1}}}, model.Layout{})
	if err != nil {
		t.Fatal(err)
	}
	o1, err := withAdapter.Forward(b, model.ForwardOptions{Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), o1.TargetLogProbs...)
	o2, err := merged.Forward(b, model.ForwardOptions{Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(o2.TargetLogProbs[i]-want[i])))
	}
	if !(worst <= 1e-4) {
		t.Errorf("merged log-probs differ from adapter log-probs by %g", worst)
	}
	baseM, _ := model.Load(base, be, model.Options{})
	o3, _ := baseM.Forward(b, model.ForwardOptions{Eval: true})
	diff := 0.0
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(o3.TargetLogProbs[i]-want[i])))
	}
	if !(diff >= 1e-3) {
		t.Errorf("the adapter barely changes the model (%g): the test would not see a missing merge", diff)
	}
}
