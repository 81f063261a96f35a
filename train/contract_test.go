package train

import (
	"context"
	"encoding/json"
	"fmt"
	_ "github.com/preftune/preftune/kernels/check" // the checking backend the tests run on
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
)

// runConfig parses yaml (plus overrides) and trains.
func runConfig(t *testing.T, yaml string, overrides ...string) (*Summary, error) {
	t.Helper()
	return runConfigWith(t, Options{}, yaml, overrides...)
}

// runConfigWith is runConfig with Run options (Plain, Backend); the log and cache are
// the test's. Tests run on the checking backend (kernels/check) over the CPU, which
// fails on any buffer the model did not obtain from the backend.
func runConfigWith(t *testing.T, opt Options, yaml string, overrides ...string) (*Summary, error) {
	t.Helper()
	l, err := config.Parse([]byte(yaml), overrides)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opt.Log, opt.CacheDir = testLog{t}, t.TempDir()
	if opt.Backend == "" {
		opt.Backend = testBackend
	}
	return Run(context.Background(), l, opt)
}

// testBackend is the backend the train tests run on.
var testBackend = "check:cpu"

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(string(p))
	}
	return len(p), nil
}

func readTensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	st, err := safetensors.OpenModel(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string][]float32{}
	for _, info := range st.Tensors() {
		d := make([]float32, info.NumElements())
		if err := st.ReadFloat32(info.Name, d); err != nil {
			t.Fatal(err)
		}
		out[info.Name] = d
	}
	return out
}

func relErr(got, want []float32, sub []float32) float64 {
	var num, den float64
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if sub != nil {
			g -= float64(sub[i])
			w -= float64(sub[i])
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	return math.Sqrt(num / den)
}

// errorer is the part of *testing.T the checks use, so a test can run a check against
// a recorder and see it fail.
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

// sgdStepCheck compares the weights after one SGD step at learning rate 1 with a PyTorch
// golden W − ∇W: the weights within 1e-4 relative, and the update itself (W_saved − W
// against −∇W, which a wrong gradient cannot hide behind) within 2e-3.
type sgdStepCheck struct {
	worstW, worstU float64
	n              int
}

func (c *sgdStepCheck) tensor(t errorer, name string, got, want, init []float32) {
	t.Helper()
	if len(got) != len(want) || len(init) != len(want) {
		t.Errorf("%s: %d saved values, %d in the golden, %d initial", name, len(got), len(want), len(init))
		return
	}
	e, u := relErr(got, want, nil), relErr(got, want, init)
	if !(e <= 1e-4 && u <= 2e-3) {
		t.Errorf("%s: relative error of W − ∇W %.3g (≤ 1e-4), of the update %.3g (≤ 2e-3)", name, e, u)
	}
	c.worstW, c.worstU, c.n = math.Max(c.worstW, e), math.Max(c.worstU, u), c.n+1
}

func (c *sgdStepCheck) String() string {
	return fmt.Sprintf("worst relative error over %d tensors: weights %.3g, update %.3g", c.n, c.worstW, c.worstU)
}

// contractYAML is the contract configuration: one SGD step at learning rate 1 on all
// pairs of dir at once, with dir's separate reference model, written to out.
func contractYAML(dir, out string) string {
	return `
model_name_or_path: ` + dir + `/policy
ref_model: ` + dir + `/ref
dataset: ` + dir + `/pairs.jsonl
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
logging_steps: 1
plot_loss: false
`
}

// TestContractSGDStep is the contract: one SGD step with learning rate 1 on all
// pairs at once saves exactly W − ∇W(mean DPO loss), as computed by the PyTorch
// reference (reference/train/gen_contract.py), and the first log line reports the
// step's loss and reward metrics from before the update.
func TestContractSGDStep(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast-layout", true: "plain-layout"}[plain], func(t *testing.T) {
			contractSGDStep(t, Options{Plain: plain})
		})
	}
}

func contractSGDStep(t *testing.T, opt Options) {
	dir := "testdata/contract"
	out := t.TempDir()
	yaml := contractYAML(dir, out)
	if _, err := runConfigWith(t, opt, yaml); err != nil {
		t.Fatal(err)
	}
	got := readTensors(t, out)
	want := readTensors(t, dir+"/expected.safetensors")
	init := readTensors(t, dir+"/policy")
	if len(got) != len(want) {
		t.Fatalf("saved %d tensors, want %d", len(got), len(want))
	}
	var check sgdStepCheck
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("saved model lacks %s", name)
		}
		check.tensor(t, name, g, w, init[name])
	}
	t.Log(check.String())
	var exp struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	raw, err := os.ReadFile(dir + "/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Step != 1 {
		t.Fatalf("log = %+v, want one line for step 1", log)
	}
	for k, w := range exp.Metrics {
		g, ok := log[0].Values[k]
		if !ok {
			t.Errorf("log line lacks %s", k)
			continue
		}
		if !(math.Abs(g-w) <= 1e-5*math.Max(1, math.Abs(w))) {
			t.Errorf("%s = %.9g, want %.9g", k, g, w)
		}
	}
	if g := log[0].Values["learning_rate"]; g != 1 {
		t.Errorf("learning_rate = %v, want 1", g)
	}
	for _, f := range []string{"config.json", "train_results.json", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// recorder is an errorer that counts failures.
type recorder struct{ fails int }

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.fails++ }

// sgdStepCheck must fail on NaN weights, on a missing tensor, and pass the golden
// itself.
func TestSGDStepCheckFailsOnNaN(t *testing.T) {
	want := []float32{1, 2, 3, 4}
	init := []float32{1.5, 2.5, 2.5, 3.5}
	var ok recorder
	(&sgdStepCheck{}).tensor(&ok, "w", want, want, init)
	if ok.fails != 0 {
		t.Fatal("the golden itself fails the check")
	}
	nan := float32(math.NaN())
	for _, got := range [][]float32{{nan, nan, nan, nan}, {1, 2, nan, 4}, nil} {
		var r recorder
		(&sgdStepCheck{}).tensor(&r, "w", got, want, init)
		if r.fails == 0 {
			t.Errorf("weights %v pass the check", got)
		}
	}
}
