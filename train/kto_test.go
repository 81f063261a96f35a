package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

// TestKTOSGDStep is the KTO contract: one SGD step at learning rate 1 on six unpaired
// examples with a separate reference gives W − ∇W of TRL's KTO loss, with the KL
// baseline from the mismatched rows TRL builds (prompt i with completion i−1, the
// first with the last), detached, and desirable/undesirable weights; the golden is
// reference/train/gen_kto.py's PyTorch computation (its KL baseline is positive, so
// the clamp does not hide it).
func TestKTOSGDStep(t *testing.T) {
	dir := "testdata/kto"
	var exp struct {
		Beta              float64            `json:"beta"`
		DesirableWeight   float64            `json:"desirable_weight"`
		UndesirableWeight float64            `json:"undesirable_weight"`
		Metrics           map[string]float64 `json:"metrics"`
	}
	var exs []struct {
		Prompt     []int32 `json:"prompt_input_ids"`
		Completion []int32 `json:"completion_input_ids"`
		Label      bool    `json:"label"`
	}
	for path, v := range map[string]any{dir + "/expected.json": &exp, dir + "/examples.json": &exs} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	l, err := config.Parse([]byte(`
stage: kto
model_name_or_path: `+dir+`/policy
ref_model: `+dir+`/ref
dataset: unused
output_dir: unused
`), []string{"--pref_beta", fmtF(exp.Beta), "--desirable_weight", fmtF(exp.DesirableWeight), "--undesirable_weight", fmtF(exp.UndesirableWeight)})
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(2)
	defer be.Close()
	policy, err := model.Load(dir+"/policy", be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := model.Load(dir+"/ref", be, model.Options{Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &l.Config
	st := stepper{c: c, kind: c.Kind(), policy: policy, ref: ref, refMode: refModel, params: lossParams(c), noDrop: true}
	if st.kind != "kto" {
		t.Fatalf("kind %q", st.kind)
	}
	its := make([]item, len(exs))
	for i, e := range exs {
		its[i] = item{prompt: e.Prompt, desirable: e.Label, where: "examples.json"}
		its[i].compl[0] = e.Completion
	}
	opt, err := newOptimizer(policy, "sgd", 0, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	policy.ZeroGrad()
	res, err := st.micro(its, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	opt.update(1)
	if math.Abs(res.loss-exp.Metrics["loss"]) > 1e-5 {
		t.Errorf("loss %.9g, want %.9g", res.loss, exp.Metrics["loss"])
	}
	for k, w := range exp.Metrics {
		if k == "loss" {
			continue
		}
		g, ok := res.metrics[k]
		if !ok {
			t.Errorf("metrics lack %s", k)
			continue
		}
		if math.Abs(g-w) > 1e-5*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %.9g, want %.9g", k, g, w)
		}
	}
	want := readTensors(t, dir+"/expected.safetensors")
	init := readTensors(t, dir+"/policy")
	var check sgdStepCheck
	for _, ts := range policy.Tensors() {
		w, ok := want[ts.Name]
		if !ok {
			t.Fatalf("golden lacks %s", ts.Name)
		}
		check.tensor(t, ts.Name, ts.Data, w, init[ts.Name])
	}
	t.Logf("kl %.4f; %s", res.metrics["kl"], &check)
}

func fmtF(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// TestKTODemoLearns trains a tiny Qwen2 with stage: kto on LLaMA-Factory's
// kto_en_demo (ShareGPT messages with a kto_tag, read through dataset_info.json), with
// the demo's byte-level BPE tokenizer (349 ids) and a plain chat template, and checks
// that rewards/margins (desirable minus undesirable β·log-ratio) grows and the loss
// falls (means of the first and last ten logged steps).
func TestKTODemoLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model for 50 steps")
	}
	dir := t.TempDir()
	modelDir := byteTokModel(t, dir)
	out := filepath.Join(dir, "out")
	yaml := fmt.Sprintf(`
stage: kto
model_name_or_path: %s
dataset: kto_en_demo
dataset_dir: %s
output_dir: %s
pref_beta: 0.1
learning_rate: 5e-3
lr_scheduler_type: constant
per_device_train_batch_size: 8
max_samples: 64
cutoff_len: 48
max_steps: 50
logging_steps: 1
plot_loss: false
`, modelDir, lfDir, out)
	if _, err := runConfig(t, yaml); err != nil {
		t.Fatal(err)
	}
	log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 50 {
		t.Fatalf("%d log lines, want 50", len(log))
	}
	series := func(k string, from, to int) float64 {
		var v []float64
		for _, e := range log[from:to] {
			v = append(v, e.Values[k])
		}
		return mean(v)
	}
	m0, m1 := series("rewards/margins", 0, 10), series("rewards/margins", 40, 50)
	l0, l1 := series("loss", 0, 10), series("loss", 40, 50)
	t.Logf("kto_en_demo: rewards/margins %.4f → %.4f, loss %.4f → %.4f, kl %.4f → %.4f", m0, m1, l0, l1, series("kl", 0, 10), series("kl", 40, 50))
	if !(m1 > m0) {
		t.Errorf("rewards/margins did not grow: %.4f → %.4f", m0, m1)
	}
	if !(l1 < l0) {
		t.Errorf("loss did not fall: %.4f → %.4f", l0, l1)
	}
}

// byteTokModel writes a tiny Qwen2 (vocab 349) into dir/model with the demo's
// byte-level BPE tokenizer and a plain "role: content" chat template, so that text
// datasets train fast; it returns the model dir.
func byteTokModel(t *testing.T, dir string) string {
	t.Helper()
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 349, Hidden: 32, Layers: 1, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	tokJSON, err := os.ReadFile("../demo/assets/model/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	tokCfg, _ := json.Marshal(map[string]any{
		"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "bos_token": nil, "add_bos_token": false,
		"chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}",
	})
	if err := os.WriteFile(filepath.Join(modelDir, "tokenizer.json"), tokJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(modelDir, "tokenizer_config.json"), tokCfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return modelDir
}
