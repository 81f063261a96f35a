package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tiny "github.com/preftune/preftune/train/tinymodel"
)

// llamaFactoryYAML is LLaMA-Factory's examples/train_lora/llama3_lora_dpo.yaml
// (hiyouga/LLaMA-Factory) with only the paths and the template changed.
const llamaFactoryYAML = `### model
model_name_or_path: MODEL
trust_remote_code: true

### method
stage: dpo
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
pref_beta: 0.1
pref_loss: sigmoid  # choices: [sigmoid (dpo), orpo, simpo]

### dataset
dataset: dpo_en_demo
dataset_dir: DATASETS
template: qwen
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16

### output
output_dir: OUT
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 5.0e-6
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
`

// TestTrainLlamaFactoryYAML runs LLaMA-Factory's DPO example file (paths changed) on
// dpo_en_demo with a tiny random Qwen2 carrying the real Qwen2.5 tokenizer and chat
// template. The command line shortens the run (--max_steps, --cutoff_len) so the test
// stays fast; the file itself is used as is.
func TestTrainLlamaFactoryYAML(t *testing.T) {
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 151665, Hidden: 16, Layers: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tiny.CopyTokenizer(filepath.Join("..", "..", "testdata", "tokenizers", "qwen2.5"), modelDir); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "saves")
	y := strings.NewReplacer("MODEL", modelDir, "DATASETS", filepath.Join("..", "..", "testdata", "preferences", "llamafactory"), "OUT", out).Replace(llamaFactoryYAML)
	cfg := filepath.Join(dir, "qwen_lora_dpo.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"train", cfg, "--max_steps", "2", "--cutoff_len", "48"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"beta: 0.1  # as pref_beta", "max_length: 48  # override", "reference: the base model", "policy: base weights", "frozen-weight compute", "\nbackend: cpu"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "trainer_log.jsonl", "train_results.json", "training_loss.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1 { // logging_steps 10 > 2 steps: the last step is logged
		t.Fatalf("trainer_log.jsonl has %d lines, want 1:\n%s", len(lines), raw)
	}
	var rec map[string]float64
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"step", "epoch", "loss", "learning_rate", "grad_norm", "rewards/chosen", "rewards/rejected",
		"rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("log line lacks %s: %s", k, lines[0])
		}
	}
	if rec["step"] != 2 {
		t.Errorf("step %v, want 2", rec["step"])
	}
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	good := "model_name_or_path: m\ndataset: d\noutput_dir: " + dir + "\n"
	cases := []struct {
		name string
		yaml string
		args []string
		want string
	}{
		{"unknown key", good + "learning_rat: 1e-5\n", nil, "did you mean learning_rate"},
		{"unknown override", good, []string{"--pref_betta", "0.2"}, "pref_beta"},
		{"bad value", good + "max_grad_norm: -1\n", nil, "max_grad_norm"},
		{"missing model dir", good, nil, "model_name_or_path"},
		{"no config", "", []string{}, "config file is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"train"}
			if tc.yaml != "" {
				p := filepath.Join(dir, "c.yaml")
				if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, p)
			}
			args = append(args, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, nil, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

func TestExportCLI(t *testing.T) {
	out := t.TempDir()
	base := filepath.Join("..", "..", "model", "testdata", "qwen2_bias")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export", "--model", base, "--adapter", filepath.Join(base, "adapter"), "--out", out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"model.safetensors", "config.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	stderr.Reset()
	if code := run([]string{"export", "--model", base, "--out", out}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--adapter is required") {
		t.Errorf("missing --adapter: exit %d, %s", code, stderr.String())
	}
}
