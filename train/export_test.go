package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
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

// A bitsandbytes 4-bit base: export merges into the dequantized weights and writes a
// 16-bit model without quantization_config, whose log-probs are the reference's
// (reference/quant/gen_bnb_model.py: merge_and_unload in float64 over bitsandbytes'
// dequantized weights, rounded to bf16, float64 forward).
func TestExportDequantizes4bitBase(t *testing.T) {
	for _, name := range []string{"llama_bnb4_nf4", "llama_bnb4_nf4_dq"} {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("..", "model", "testdata", name)
			out := t.TempDir()
			if err := Export(base, filepath.Join(base, "adapter"), out); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(out, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), "quantization_config") {
				t.Fatal("merged config.json keeps quantization_config")
			}
			st, err := safetensors.OpenModel(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, ti := range st.Tensors() {
				if ti.DType != safetensors.BF16 {
					t.Errorf("%s saved as %s, want BF16", ti.Name, ti.DType)
				}
			}
			st.Close()
			var g struct {
				IDs, Labels, Positions, Segments [][]int32
				Merged                           struct{ Logps [][]float64 }
			}
			graw, err := os.ReadFile(filepath.Join(base, "golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(graw, &g); err != nil {
				t.Fatal(err)
			}
			be := cpu.New(1)
			defer be.Close()
			m, err := model.Load(out, be, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b := &model.Batch{B: len(g.IDs), T: len(g.IDs[0])}
			for r := range g.IDs {
				b.IDs = append(b.IDs, g.IDs[r]...)
				b.Labels = append(b.Labels, g.Labels[r]...)
				b.Positions = append(b.Positions, g.Positions[r]...)
				b.Segments = append(b.Segments, g.Segments[r]...)
			}
			o, err := m.Forward(b, model.ForwardOptions{Eval: true})
			if err != nil {
				t.Fatal(err)
			}
			for r, row := range g.Merged.Logps {
				for c, w := range row {
					got := float64(o.LogProbs[r*b.T+c])
					if e := math.Abs(got-w) / math.Max(1, math.Abs(w)); !(e <= 1e-5) {
						t.Errorf("logp[%d,%d] = %.8g, reference %.8g", r, c, got, w)
					}
				}
			}
		})
	}
}
