package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/model"
)

// rmspropGolden is train/testdata/rmsprop/golden.json (reference/train/gen_rmsprop.py:
// torch.optim.RMSprop as transformers builds it, two parameter groups, four steps).
type rmspropGolden struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Alpha, Eps  float64
	Momentum    float64
	Centered    bool
	Init        map[string][]float64
	Grads       []map[string][]float64
	Params      []map[string][]float64
	SquareAvg   map[string][]float64 `json:"square_avg"`
}

// maxRelErr is max |got−want| / max(|want|, floor); NaN anywhere gives NaN.
func maxRelErr(got []float32, want []float64, floor float64) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	e := 0.0
	for i, w := range want {
		d := math.Abs(float64(got[i])-w) / math.Max(math.Abs(w), floor)
		if !(d <= e) {
			e = d // NaN stays
		}
	}
	return e
}

// TestRMSpropGolden: four optimizer steps of `optim: rmsprop` over a decayed weight and
// an undecayed norm weight on the checking backend match torch.optim.RMSprop.
func TestRMSpropGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "rmsprop", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g rmspropGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Alpha != rmspropAlpha || g.Eps != rmspropEps || g.Momentum != 0 || g.Centered {
		t.Fatalf("golden's torch defaults alpha %v eps %v momentum %v centered %v differ from ours", g.Alpha, g.Eps, g.Momentum, g.Centered)
	}
	be, err := kernels.Open("check:cpu", kernels.OpenOptions{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	groups := []struct{ golden, name string }{
		{"decay", "model.layers.0.self_attn.q_proj.weight"}, {"no_decay", "model.layers.0.input_layernorm.weight"}}
	n := 0
	for _, gr := range groups {
		n += len(g.Init[gr.golden])
	}
	params, grads := be.Alloc(n), be.Alloc(n)
	var tensors []model.Tensor
	off := 0
	for _, gr := range groups {
		k := len(g.Init[gr.golden])
		tensors = append(tensors, model.Tensor{Name: gr.name, Shape: []int{k}, Data: params[off : off+k], Grad: grads[off : off+k]})
		off += k
	}
	o, err := newOptimizerFor(be, params, grads, tensors, "rmsprop", 0.9, 0.999, 1e-6, g.WeightDecay, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.spans) != 2 || !o.spans[0].decay || o.spans[1].decay {
		t.Fatalf("parameter groups %+v: want a decayed weight then an undecayed norm", o.spans)
	}
	up := func(dst []float32, src []float64) {
		h := make([]float32, len(src))
		for i, v := range src {
			h[i] = float32(v)
		}
		be.Upload(dst, h)
	}
	for i, gr := range groups {
		up(tensors[i].Data, g.Init[gr.golden])
	}
	for s := range g.Grads {
		for i, gr := range groups {
			up(tensors[i].Grad, g.Grads[s][gr.golden])
		}
		if err := o.update(g.LR); err != nil {
			t.Fatal(err)
		}
		for i, gr := range groups {
			if e := maxRelErr(tensors[i].Data, g.Params[s][gr.golden], 1e-6); !(e <= 1e-6) {
				t.Errorf("step %d %s: params relative error %.3g vs torch", s+1, gr.golden, e)
			}
		}
	}
	off = 0
	for _, gr := range groups {
		k := len(g.SquareAvg[gr.golden])
		if e := maxRelErr(o.v[off:off+k], g.SquareAvg[gr.golden], 1e-30); !(e <= 1e-6) {
			t.Errorf("%s: square_avg relative error %.3g vs torch", gr.golden, e)
		}
		off += k
	}
	if o.secondName() != "square_avg" || o.m != nil {
		t.Errorf("state: second buffer %q, first %v; want torch's RMSprop state (square_avg only)", o.secondName(), o.m != nil)
	}
}

// TestRMSpropGoldenFailsOnNaN: the comparison cannot pass NaN parameters.
func TestRMSpropGoldenFailsOnNaN(t *testing.T) {
	if e := maxRelErr([]float32{float32(math.NaN())}, []float64{1}, 1e-6); e <= 1e-6 {
		t.Fatal("NaN passes maxRelErr")
	}
}

// TestRMSpropResume: a run with optim: rmsprop resumed from its step-2 checkpoint ends
// with the weights of the uninterrupted run (square_avg is saved and restored), and the
// checkpoint's optimizer state carries torch's key.
func TestRMSpropResume(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 12)
	yaml := func(out string) string {
		return fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\noptim: rmsprop\nlearning_rate: 1e-3\nweight_decay: 0.01\nlr_scheduler_type: constant\nper_device_train_batch_size: 3\nmax_steps: 4\nsave_steps: 2\nprecompute_ref_log_probs: true\nseed: 3\n",
			modelDir, dataPath, out)
	}
	ref := filepath.Join(dir, "uninterrupted")
	if _, err := runConfig(t, yaml(ref)); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(ref, "checkpoint-2", "optimizer.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, info := range f.Tensors() {
		names[info.Name] = true
	}
	f.Close()
	if !names["square_avg"] || len(names) != 1 {
		t.Errorf("optimizer state %v, want square_avg only", names)
	}
	if bytes.Equal(fileBytes(t, filepath.Join(ref, "model.safetensors")), fileBytes(t, filepath.Join(modelDir, "model.safetensors"))) {
		t.Fatal("rmsprop did not change the weights")
	}
	// resume a copy of checkpoint-2 in a fresh output directory
	out := filepath.Join(dir, "resumed")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(out, "checkpoint-2"), os.DirFS(filepath.Join(ref, "checkpoint-2"))); err != nil {
		t.Fatal(err)
	}
	if _, err := runConfig(t, yaml(out), "--resume_from_checkpoint", "true"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fileBytes(t, filepath.Join(ref, "model.safetensors")), fileBytes(t, filepath.Join(out, "model.safetensors"))) {
		t.Error("weights after resuming rmsprop from checkpoint-2 differ from the uninterrupted run")
	}
}
