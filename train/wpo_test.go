package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/preftune/preftune/report"
)

// TestWPOSGDStep: with use_weighting, one SGD step at learning rate 1 on every pair
// saves W − ∇W of TRL's WPO-weighted sigmoid loss (weights from the policy's own
// log p − log Σp², detached, clamped at 1), as reference/train/gen_wpo.py computes it.
func TestWPOSGDStep(t *testing.T) {
	dir := "testdata/wpo"
	out := t.TempDir()
	var exp struct {
		Loss    float64   `json:"loss"`
		Weights []float64 `json:"weights"`
	}
	raw, err := os.ReadFile(dir + "/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	yaml := `
model_name_or_path: ` + dir + `/policy
ref_model: testdata/contract/ref
dataset: testdata/contract/pairs.jsonl
output_dir: ` + out + `
finetuning_type: full
optim: sgd
learning_rate: 1.0
lr_scheduler_type: constant
max_grad_norm: 0
weight_decay: 0
max_steps: 1
per_device_train_batch_size: 5
loss_type: sigmoid
beta: 0.1
use_weighting: true
logging_steps: 1
plot_loss: false
`
	if _, err := runConfig(t, yaml); err != nil {
		t.Fatal(err)
	}
	got, want, init := readTensors(t, out), readTensors(t, dir+"/expected.safetensors"), readTensors(t, dir+"/policy")
	var check sgdStepCheck
	for name, w := range want {
		check.tensor(t, name, got[name], w, init[name])
	}
	log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if g := log[0].Values["loss"]; !(math.Abs(g-exp.Loss) <= 1e-5*math.Max(1, exp.Loss)) {
		t.Errorf("loss %.9g, want %.9g", g, exp.Loss)
	}
	t.Logf("pair weights %.3f; %s", exp.Weights, &check)
}

// TestWPOClamp: the fields handed to the loss give exp(c)·exp(r) = min(exp(w_c+w_r), 1).
func TestWPOClamp(t *testing.T) {
	// two pairs, one token each: rows (chosen 0, chosen 1, rejected 0, rejected 1)
	// per-sequence sums of log p − log Σp² (one token each): −0.5+1, −3+1, 0.25+1, −1+1
	seqWPO := []float32{0.5, -2, 1.25, 0}
	s := stepper{rows: 4, counts: []int{1, 1, 1, 1}}
	s.wpoWeights(seqWPO)
	for i, want := range []float64{1, math.Exp(-2 + 0)} { // pair 0: 0.5+1.25 > 0 → 1; pair 1: −2+0
		if got := math.Exp(s.wpoC[i]) * math.Exp(s.wpoR[i]); !(math.Abs(got-want) <= 1e-12) {
			t.Errorf("pair %d: weight %v, want %v", i, got, want)
		}
	}
}
