package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

// fixture writes a tiny model (vocab 64) and n random pre-tokenized pairs.
func fixture(t testing.TB, dir string, n int) (modelDir, dataPath string) {
	modelDir = filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 64, Hidden: 16, Layers: 1, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	ids := func(k int) []int {
		out := make([]int, k)
		for i := range out {
			out[i] = 3 + rng.IntN(61)
		}
		return out
	}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		row, _ := json.Marshal(map[string][]int{
			"prompt_input_ids": ids(2 + rng.IntN(5)), "chosen_input_ids": ids(1 + rng.IntN(8)), "rejected_input_ids": ids(1 + rng.IntN(8)),
		})
		b.Write(row)
		b.WriteByte('\n')
	}
	dataPath = filepath.Join(dir, "pairs.jsonl")
	if err := os.WriteFile(dataPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return modelDir, dataPath
}

// resumeYAML exercises every piece of state a checkpoint must carry: AdamW moments,
// warmup + cosine schedule, accumulation over ragged micro-batches, several epochs
// (data order per epoch), a partial logging interval, and TR-DPO reference syncing.
func resumeYAML(modelDir, dataPath, out string) string {
	return fmt.Sprintf(`
model_name_or_path: %s
dataset: %s
output_dir: %s
learning_rate: 1e-2
weight_decay: 0.01
lr_scheduler_type: cosine
warmup_steps: 2
per_device_train_batch_size: 3
gradient_accumulation_steps: 2
num_train_epochs: 4
logging_steps: 3
save_steps: 2
save_total_limit: 2
sync_ref_model: true
ref_model_sync_steps: 3
ref_model_mixup_alpha: 0.5
seed: 5
`, modelDir, dataPath, out)
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterministic: the same config twice gives byte-identical weights and logs.
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	var outs []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		if _, err := runConfig(t, resumeYAML(modelDir, dataPath, out)); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	for _, f := range []string{"model.safetensors", "trainer_log.jsonl"} {
		if !bytes.Equal(fileBytes(t, filepath.Join(outs[0], f)), fileBytes(t, filepath.Join(outs[1], f))) {
			t.Errorf("%s differs between two runs of the same config", f)
		}
	}
	if bytes.Equal(fileBytes(t, filepath.Join(outs[0], "model.safetensors")), fileBytes(t, filepath.Join(modelDir, "model.safetensors"))) {
		t.Error("training did not change the weights")
	}
	steps, _ := listCheckpoints(outs[0])
	if len(steps) != 2 || steps[0] != 12 || steps[1] != 14 {
		t.Errorf("checkpoints after save_total_limit 2: %v, want [12 14]", steps)
	}
}

// TestHelperTrainChild is the child process of TestResumeAfterKill (it does nothing
// unless PREFTUNE_CHILD_CONFIG is set): it trains slowly so the parent can kill it.
func TestHelperTrainChild(t *testing.T) {
	path := os.Getenv("PREFTUNE_CHILD_CONFIG")
	if path == "" {
		t.Skip("helper process")
	}
	l, err := config.LoadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(t.Context(), l, Options{AfterStep: func(int) { time.Sleep(150 * time.Millisecond) }})
	if err != nil {
		t.Fatal(err)
	}
}

// loraDropoutYAML turns resumeYAML into LoRA training with dropout (every step draws
// fresh masks from the model's dropout stream, which a checkpoint must carry).
func loraDropoutYAML(y string) string {
	y = strings.NewReplacer("sync_ref_model: true\n", "", "ref_model_sync_steps: 3\n", "", "ref_model_mixup_alpha: 0.5\n", "").Replace(y)
	return y + "finetuning_type: lora\nlora_rank: 4\nlora_target: all\nlora_dropout: 0.1\ndisable_dropout: false\n"
}

// TestResumeAfterKill kills a training child process mid-run (SIGKILL, after its
// second checkpoint), resumes from the newest checkpoint, and requires the final
// weights and log to equal an uninterrupted run's byte for byte: full fine-tuning,
// and LoRA with dropout.
func TestResumeAfterKill(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    func(string) string
		weights string
	}{
		{"full", func(y string) string { return y }, "model.safetensors"},
		{"lora dropout", loraDropoutYAML, "adapter_model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			modelDir, dataPath := fixture(t, dir, 20)
			yaml := func(out string) string { return tc.yaml(resumeYAML(modelDir, dataPath, out)) }
			ref := filepath.Join(dir, "uninterrupted")
			if _, err := runConfig(t, yaml(ref)); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "killed")
			cfgPath := filepath.Join(dir, "killed.yaml")
			if err := os.WriteFile(cfgPath, []byte(yaml(out)), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTrainChild$")
			cmd.Env = append(os.Environ(), "PREFTUNE_CHILD_CONFIG="+cfgPath)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				steps, _ := listCheckpoints(out)
				if len(steps) > 0 && steps[len(steps)-1] >= 4 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("child wrote no checkpoint-4; stderr:\n%s", stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // into the next steps, past a log line
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if err == nil {
				t.Fatal("child finished before it was killed")
			}
			if _, err := os.Stat(filepath.Join(out, tc.weights)); err == nil {
				t.Fatal("child finished before it was killed")
			}
			steps, _ := listCheckpoints(out)
			t.Logf("killed after checkpoints %v", steps)
			if _, err := runConfig(t, yaml(out), "--resume_from_checkpoint", "true"); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{tc.weights, "trainer_log.jsonl"} {
				if !bytes.Equal(fileBytes(t, filepath.Join(ref, f)), fileBytes(t, filepath.Join(out, f))) {
					t.Errorf("%s after kill+resume differs from the uninterrupted run", f)
				}
			}
		})
	}
}

// TestNaNStops: a learning rate that overflows the weights stops the run at the step
// whose loss is not finite, naming it.
func TestNaNStops(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 8)
	yaml := fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\noptim: sgd\nlearning_rate: 1e38\nmax_grad_norm: 0\nlr_scheduler_type: constant\nper_device_train_batch_size: 4\nmax_steps: 5\n",
		modelDir, dataPath, filepath.Join(dir, "out"))
	_, err := runConfig(t, yaml)
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 2") {
		t.Errorf("error %q: want a non-finite error at step 2", err)
	}
}

// TestGradNormNamesTensor: a non-finite gradient is reported with its tensor's name.
func TestGradNormNamesTensor(t *testing.T) {
	dir := t.TempDir()
	modelDir, _ := fixture(t, dir, 1)
	be := cpu.New(1)
	defer be.Close()
	m, err := model.Load(modelDir, be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := newOptimizer(m, "adamw", 0.9, 0.999, 1e-8, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Tensors()[3].Grad[1] = float32(math.Inf(1))
	_, err = o.gradNorm()
	if err == nil || !strings.Contains(err.Error(), m.Tensors()[3].Name) {
		t.Errorf("error %v does not name %s", err, m.Tensors()[3].Name)
	}
}

// TestGradNormAndClip checks the global norm and torch's clip rule on known gradients.
func TestGradNormAndClip(t *testing.T) {
	dir := t.TempDir()
	modelDir, _ := fixture(t, dir, 1)
	be := cpu.New(1)
	defer be.Close()
	m, err := model.Load(modelDir, be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := newOptimizer(m, "sgd", 0, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, g := m.TrainableBuffers()
	for i := range g {
		g[i] = 0
	}
	g[0], g[len(g)-1] = 3, 4 // norm 5
	n, err := o.gradNorm()
	if err != nil || n != 5 {
		t.Fatalf("norm = %v, %v; want 5", n, err)
	}
	o.clip(n, 1)
	want := float32(3 * 1 / (5 + 1e-6))
	if math.Abs(float64(g[0]-want)) > 1e-7 {
		t.Errorf("clipped g[0] = %v, want %v", g[0], want)
	}
	o.clip(1, 2) // below the limit: unchanged
	if math.Abs(float64(g[0]-want)) > 1e-7 {
		t.Errorf("clip below the limit changed the gradient")
	}
}

// TestLoRAOutputs: a LoRA run saves a PEFT adapter whose keys follow PEFT's naming,
// leaves the base weights untouched, and `export` merges it.
func TestLoRAOutputs(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 8)
	out := filepath.Join(dir, "out")
	yaml := fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nfinetuning_type: lora\nlora_rank: 4\nlora_target: all\nlearning_rate: 1e-2\nper_device_train_batch_size: 4\nmax_steps: 3\nlogging_steps: 1\nprecompute_ref_log_probs: true\n",
		modelDir, dataPath, out)
	if _, err := runConfig(t, yaml); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(out, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.Tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"); !ok {
		t.Errorf("adapter lacks PEFT key base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
	}
	if _, ok := f.Tensor("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"); !ok {
		t.Errorf("adapter lacks down_proj lora_B (lora_target: all)")
	}
	if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		t.Error("a LoRA run wrote full weights")
	}
	var ac map[string]any
	if err := json.Unmarshal(fileBytes(t, filepath.Join(out, "adapter_config.json")), &ac); err != nil {
		t.Fatal(err)
	}
	if ac["peft_type"] != "LORA" || ac["r"] != 4.0 || ac["lora_alpha"] != 32.0 {
		t.Errorf("adapter_config.json = %v", ac)
	}
	log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil || len(log) == 0 {
		t.Fatalf("log: %v %v", log, err)
	}
	// the reference is the base model: with B = 0 at the start, the first step's loss is ln 2
	if l := log[0].Values["loss"]; math.Abs(l-math.Ln2) > 1e-6 {
		t.Errorf("first loss %v, want ln 2 (LoRA starts equal to its reference)", l)
	}
}
