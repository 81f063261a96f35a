package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
)

// TestRewardModelSGDStep is the contract for stage: rm: one SGD step at learning rate 1
// on every pair saves W − ∇W of TRL's reward-model loss (Bradley–Terry with
// center_rewards_coefficient) for every decoder tensor and score.weight, as computed by
// reference/train/gen_rm.py, and logs the step's reward metrics from before the update.
func TestRewardModelSGDStep(t *testing.T) {
	dir := "testdata/rm"
	out := t.TempDir()
	yaml := `
stage: rm
model_name_or_path: ` + dir + `/policy
dataset: ` + dir + `/pairs.jsonl
output_dir: ` + out + `
finetuning_type: full
optim: sgd
learning_rate: 1.0
lr_scheduler_type: constant
max_grad_norm: 0
weight_decay: 0
max_steps: 1
per_device_train_batch_size: 6
center_rewards_coefficient: 0.01
logging_steps: 1
plot_loss: false
`
	l, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	init := readTensors(t, dir+"/policy")
	score := readTensors(t, dir+"/score_init.safetensors")["score.weight"]
	init["score.weight"] = score
	if _, err := Run(context.Background(), l, Options{Log: testLog{t}, CacheDir: t.TempDir(), scoreInit: score}); err != nil {
		t.Fatal(err)
	}
	got := readTensors(t, out)
	want := readTensors(t, dir+"/expected.safetensors")
	if len(got) != len(want) {
		t.Fatalf("saved %d tensors, want %d", len(got), len(want))
	}
	var check sgdStepCheck
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("saved model lacks %s", name)
		}
		if name == "lm_head.weight" { // no gradient reaches the LM head of a reward model
			if !slices.Equal(g, init[name]) {
				t.Errorf("lm_head.weight changed")
			}
			continue
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
	if len(log) != 1 {
		t.Fatalf("%d log lines, want 1", len(log))
	}
	for k, w := range exp.Metrics {
		g, ok := log[0].Values[k]
		if !ok {
			t.Errorf("log line lacks %s", k)
			continue
		}
		if math.Abs(g-w) > 1e-5*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %.9g, want %.9g", k, g, w)
		}
	}
	var cfg struct {
		Architectures []string          `json:"architectures"`
		NumLabels     int               `json:"num_labels"`
		ID2Label      map[string]string `json:"id2label"`
		PadTokenID    *int              `json:"pad_token_id"`
	}
	raw, err = os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Architectures, []string{"Qwen2ForSequenceClassification"}) || cfg.NumLabels != 1 || len(cfg.ID2Label) != 1 || cfg.PadTokenID == nil {
		t.Errorf("config.json = %s", raw)
	}
}

// TestRewardModelLoRAOutput checks the PEFT layout of a LoRA reward model: the value
// head under PEFT's modules_to_save key, task_type SEQ_CLS, and a resume from a
// checkpoint that ends with the same weights as an uninterrupted run.
func TestRewardModelLoRAOutput(t *testing.T) {
	dir := "testdata/rm"
	base := `
stage: rm
model_name_or_path: ` + dir + `/policy
dataset: ` + dir + `/pairs.jsonl
finetuning_type: lora
lora_rank: 4
lora_target: all
learning_rate: 1e-2
max_steps: 4
per_device_train_batch_size: 2
plot_loss: false
`
	a, b := t.TempDir(), t.TempDir()
	if _, err := runConfig(t, base+"output_dir: "+a+"\n"); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Open(filepath.Join(a, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	info, ok := st.Tensor(peftScoreName)
	st.Close()
	if !ok || !slices.Equal(info.Shape, []int{1, 32}) {
		t.Errorf("adapter lacks %s [1,32] (%v)", peftScoreName, info.Shape)
	}
	var ac struct {
		TaskType      string   `json:"task_type"`
		ModulesToSave []string `json:"modules_to_save"`
	}
	raw, err := os.ReadFile(filepath.Join(a, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ac); err != nil {
		t.Fatal(err)
	}
	if ac.TaskType != "SEQ_CLS" || !slices.Equal(ac.ModulesToSave, []string{"score"}) {
		t.Errorf("adapter_config.json: task_type %q, modules_to_save %v", ac.TaskType, ac.ModulesToSave)
	}
	// interrupted at step 2, resumed
	if _, err := runConfig(t, base+"output_dir: "+b+"\nsave_steps: 2\n", "--max_steps", "4"); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(b, "adapter_model.safetensors"))
	if _, err := runConfig(t, base+"output_dir: "+b+"\nresume_from_checkpoint: true\n"); err != nil {
		t.Fatal(err)
	}
	wa, wb := readTensors(t, filepath.Join(a, "adapter_model.safetensors")), readTensors(t, filepath.Join(b, "adapter_model.safetensors"))
	for k, v := range wa {
		if !slices.Equal(v, wb[k]) {
			t.Errorf("%s differs after a resume", k)
		}
	}
}
