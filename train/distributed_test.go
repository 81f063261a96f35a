package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/preftune/preftune/hf/safetensors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/preftune/preftune/dist"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
)

// mpirunCmd is `mpirun --allow-run-as-root --oversubscribe -np N` running this test
// binary's TestHelperDistChild on the config at cfgPath, or skips the test (saying why)
// when mpirun is not installed. extra are mpirun options before the program.
func mpirunCmd(t *testing.T, np int, cfgPath string, env []string, extra ...string) *exec.Cmd {
	t.Helper()
	p, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skipf("skipped: mpirun not installed (apt-get install openmpi-bin libopenmpi-dev): %v", err)
	}
	args := []string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(np),
		"-x", "PREFTUNE_DIST_CONFIG=" + cfgPath, "-x", "PREFTUNE_CACHE=" + t.TempDir()}
	for _, e := range env {
		args = append(args, "-x", e)
	}
	args = append(args, extra...)
	args = append(args, os.Args[0], "-test.run=^TestHelperDistChild$")
	cmd := exec.Command(p, args...)
	cmd.Env = append(os.Environ(), "OMPI_MCA_mpi_yield_when_idle=1")
	return cmd
}

// TestHelperDistChild is one rank of the mpirun tests (it does nothing unless
// PREFTUNE_DIST_CONFIG is set): train.Run with the process group, as `preftune train`
// runs it under mpirun. PREFTUNE_DIST_POISON=rank,step puts a NaN into that rank's
// gradient at that step; PREFTUNE_DIST_SLOW sleeps after every step; PREFTUNE_DIST_PIDS
// is a directory where each rank writes its pid.
func TestHelperDistChild(t *testing.T) {
	path := os.Getenv("PREFTUNE_DIST_CONFIG")
	if path == "" {
		t.Skip("helper process")
	}
	l, err := config.LoadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dist.Init()
	if err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("PREFTUNE_DIST_PIDS"); d != "" {
		os.WriteFile(filepath.Join(d, fmt.Sprintf("rank-%d.pid", w.Rank)), []byte(strconv.Itoa(os.Getpid())), 0o644)
		ns, _ := os.Readlink("/proc/self/ns/net")
		os.WriteFile(filepath.Join(d, fmt.Sprintf("rank-%d.netns", w.Rank)), []byte(ns), 0o644)
	}
	opt := Options{Dist: w, Backend: testBackend, Log: io.Discard}
	if w.Rank == 0 {
		opt.Log = os.Stderr
	}
	if p := os.Getenv("PREFTUNE_DIST_POISON"); p != "" {
		var pr, ps int
		fmt.Sscanf(p, "%d,%d", &pr, &ps)
		opt.poisonGrad = func(rank, step int, g []float32) {
			if rank == pr && step == ps {
				g[len(g)-1] = float32(math.NaN())
			}
		}
	}
	if os.Getenv("PREFTUNE_DIST_SLOW") != "" {
		opt.AfterStep = func(int) { time.Sleep(200 * time.Millisecond) }
	}
	_, err = Run(context.Background(), l, opt)
	code, _ := FinishRank(w, err, func(e error) { fmt.Fprintf(os.Stderr, "REPORTED: %v\n", e) })
	if code != 0 {
		os.Exit(code) // as cmd/preftune: 2 bad input, 1 internal
	}
}

// sgdYAML is one SGD step, learning rate 1, no clipping, over every pair of the data.
func sgdYAML(modelDir, dataPath, out string, bs, ga int) string {
	return fmt.Sprintf(`model_name_or_path: %s
dataset: %s
output_dir: %s
optim: sgd
learning_rate: 1.0
lr_scheduler_type: constant
max_grad_norm: 0
weight_decay: 0
max_steps: 1
per_device_train_batch_size: %d
gradient_accumulation_steps: %d
precompute_ref_log_probs: true
logging_steps: 1
plot_loss: false
threads: 1
seed: 7
`, modelDir, dataPath, out, bs, ga)
}

// runMPI runs np ranks on yaml (written next to out) and returns their output.
func runMPI(t *testing.T, np int, yaml, out string, env ...string) ([]byte, error) {
	t.Helper()
	cfg := out + ".yaml"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := mpirunCmd(t, np, cfg, env)
	t0 := time.Now()
	b, err := cmd.CombinedOutput()
	t.Logf("mpirun -np %d (%s): %.1f s", np, filepath.Base(out), time.Since(t0).Seconds())
	return b, err
}

// updateError is max |Δgot − Δwant| / max |Δwant| over all tensors, Δ = saved − initial:
// the relative difference of two updates (NaN if any value is NaN).
func updateError(t *testing.T, got, want, init map[string][]float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	var diff, scale float64
	for name, w := range want {
		g, i := got[name], init[name]
		if len(g) != len(w) || len(i) != len(w) {
			t.Fatalf("%s: %d/%d/%d elements", name, len(g), len(w), len(i))
		}
		for k := range w {
			dw := float64(w[k]) - float64(i[k])
			dg := float64(g[k]) - float64(i[k])
			d := math.Abs(dg - dw)
			if math.IsNaN(d) {
				return math.NaN()
			}
			diff, scale = math.Max(diff, d), math.Max(scale, math.Abs(dw))
		}
	}
	return diff / scale
}

// TestDistSGDStepEqualsOneProcess: one SGD step on 6 pairs split over ranks — 2 ranks
// × 3 pairs, 3 ranks × 2, 2 ranks × 1 pair × accumulation 3, and two uneven splits —
// moves the weights as
// the single-process 6-pair step does (1e-5 relative; that step is checked against
// PyTorch by TestContractSGDStep), with one log line carrying the global loss.
func TestDistSGDStepEqualsOneProcess(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 6)
	single := filepath.Join(dir, "single")
	if _, err := runConfig(t, sgdYAML(modelDir, dataPath, single, 6, 1)); err != nil {
		t.Fatal(err)
	}
	want := readTensors(t, single)
	init := readTensors(t, modelDir)
	wantLog, err := report.ReadLog(filepath.Join(single, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// the three splits, then uneven shards: 4 ranks × 2 (2, 2, 1, 1 pairs), and
	// 4 ranks × 1 × accumulation 2 (ranks 2 and 3 have no pair in the second micro-batch)
	for _, tc := range []struct{ np, bs, ga int }{{2, 3, 1}, {3, 2, 1}, {2, 1, 3}, {4, 2, 1}, {4, 1, 2}} {
		t.Run(fmt.Sprintf("np%d-bs%d-ga%d", tc.np, tc.bs, tc.ga), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("np%d-bs%d-ga%d", tc.np, tc.bs, tc.ga))
			b, err := runMPI(t, tc.np, sgdYAML(modelDir, dataPath, out, tc.bs, tc.ga), out)
			if err != nil {
				t.Fatalf("mpirun: %v\n%s", err, b)
			}
			got := readTensors(t, out)
			e := updateError(t, got, want, init)
			t.Logf("max |Δw − Δw_single| / max |Δw_single| = %.3g", e)
			if !(e <= 1e-5) {
				t.Errorf("update differs from the single-process step by %.3g relative (> 1e-5)", e)
			}
			log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != 1 || log[0].Step != 1 {
				t.Fatalf("log = %+v, want one line for step 1", log)
			}
			for _, k := range []string{"loss", "rewards/accuracies", "rewards/margins", "logps/chosen", "grad_norm"} {
				g, w := log[0].Values[k], wantLog[0].Values[k]
				if !(math.Abs(g-w) <= 1e-5*math.Max(1e-3, math.Abs(w))) {
					t.Errorf("logged %s = %.9g, single process %.9g", k, g, w)
				}
			}
			if _, ok := log[0].Values["comm_fraction"]; !ok {
				t.Error("log line lacks comm_fraction")
			}
		})
	}
}

// adamYAML is 20 AdamW steps with warmup and a cosine schedule.
func adamYAML(modelDir, dataPath, out string, bs int) string {
	return fmt.Sprintf(`model_name_or_path: %s
dataset: %s
output_dir: %s
learning_rate: 5e-4
weight_decay: 0.01
lr_scheduler_type: cosine
warmup_steps: 2
max_steps: 20
per_device_train_batch_size: %d
logging_steps: 5
plot_loss: false
threads: 1
seed: 3
`, modelDir, dataPath, out, bs)
}

// TestDistAdamW20Steps: 20 AdamW steps of full fine-tuning of the small preset (short
// pairs) on 2 ranks × 2 pairs end at the weights of one process with 4 pairs per step
// (1e-5 relative to the largest weight). (The preset is Llama, without biases: a
// Qwen2 k_proj bias has a gradient that is zero in exact arithmetic, so its AdamW
// update, g/(√v+ε), is rounding noise amplified to ~lr in either run.)
func TestDistAdamW20Steps(t *testing.T) {
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skipf("skipped: mpirun not installed: %v", err)
	}
	dir := t.TempDir()
	modelDir, dataPath := fixtureSmall(t, dir, 14)
	single := filepath.Join(dir, "single")
	if _, err := runConfig(t, adamYAML(modelDir, dataPath, single, 4)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "np2")
	b, err := runMPI(t, 2, adamYAML(modelDir, dataPath, out, 2), out)
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, b)
	}
	got, want := readTensors(t, out), readTensors(t, single)
	var diff, scale float64
	where := ""
	for name, w := range want {
		for k := range w {
			if d := math.Abs(float64(got[name][k]) - float64(w[k])); !(d <= diff) {
				diff, where = d, fmt.Sprintf("%s[%d] (%.6g vs %.6g)", name, k, got[name][k], w[k])
			}
			scale = math.Max(scale, math.Abs(float64(w[k])))
		}
	}
	t.Logf("max |w − w_single| = %.3g at %s, max |w_single| = %.3g", diff, where, scale)
	if !(diff <= 1e-5*scale) {
		t.Errorf("after 20 AdamW steps the weights differ by %.3g (> 1e-5 × %.3g)", diff, scale)
	}
}

// TestDistNaNOnOneRank: a NaN in rank 1's gradient at step 2 stops both ranks at step
// 2 with one message naming the rank, the step and the tensor; every rank exits
// non-zero and no final output is written.
func TestDistNaNOnOneRank(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 8)
	out := filepath.Join(dir, "out")
	y := strings.Replace(sgdYAML(modelDir, dataPath, out, 2, 1), "max_steps: 1", "max_steps: 4", 1)
	y = strings.Replace(y, "learning_rate: 1.0", "learning_rate: 0.01", 1)
	b, err := runMPI(t, 2, y, out, "PREFTUNE_DIST_POISON=1,2")
	if err == nil {
		t.Fatalf("run with a NaN gradient succeeded:\n%s", b)
	}
	if n := bytes.Count(b, []byte("REPORTED:")); n != 1 {
		t.Fatalf("%d messages, want 1:\n%s", n, b)
	}
	i := bytes.Index(b, []byte("REPORTED:"))
	msg := string(b[i : i+bytes.IndexByte(b[i:], '\n')])
	t.Log(msg)
	for _, want := range []string{"rank 1 of 2", "step 2", "model.norm.weight", "non-finite"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		t.Error("final weights written after a NaN")
	}
	if log, _ := report.ReadLog(filepath.Join(out, "trainer_log.jsonl")); len(log) != 1 {
		t.Errorf("log has %d lines, want 1 (step 1)", len(log))
	}
}

// TestDistConfigErrorOnce: a bad dataset is reported once (rank 0) and every rank
// exits 2.
func TestDistConfigErrorOnce(t *testing.T) {
	dir := t.TempDir()
	modelDir, _ := fixture(t, dir, 2)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"prompt_input_ids\": [1], \"chosen_input_ids\": \"x\"}\n"), 0o644)
	out := filepath.Join(dir, "out")
	b, err := runMPI(t, 2, sgdYAML(modelDir, bad, out, 1, 1), out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("mpirun: %v, want exit status 2:\n%s", err, b)
	}
	if n := bytes.Count(b, []byte("REPORTED:")); n != 1 || !bytes.Contains(b, []byte("rank 0 of 2")) || !bytes.Contains(b, []byte("bad.jsonl")) {
		t.Errorf("want one message from rank 0 naming the file:\n%s", b)
	}
}

// writeSmallPreset writes bench's preset "small" (../shared/peer/make_bench_inputs.py:
// Llama layout, vocab 8192, hidden 256, 4 layers, 4 heads / 4 KV heads, FFN 704,
// untied head, f32), initialised normal(0, 0.02) with unit norms.
func writeSmallPreset(t testing.TB, dir string) {
	const V, C, L, F = 8192, 256, 4, 704
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama", "vocab_size": V,
		"hidden_size": C, "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": 4,
		"num_key_value_heads": 4, "hidden_act": "silu", "max_position_embeddings": 2048,
		"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "float32",
		"bos_token_id": 1, "eos_token_id": 2,
	})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var ts []safetensors.Tensor
	add := func(name string, std float64, shape ...int) {
		n := 1
		for _, k := range shape {
			n *= k
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = 1
			if std > 0 {
				d[i] = float32(rng.NormFloat64() * std)
			}
		}
		ts = append(ts, safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: shape, F32: d})
	}
	add("model.embed_tokens.weight", 0.02, V, C)
	for l := 0; l < L; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", 0, C)
		add(p+"post_attention_layernorm.weight", 0, C)
		for _, n := range []string{"q_proj", "k_proj", "v_proj", "o_proj"} {
			add(p+"self_attn."+n+".weight", 0.02, C, C)
		}
		add(p+"mlp.gate_proj.weight", 0.02, F, C)
		add(p+"mlp.up_proj.weight", 0.02, F, C)
		add(p+"mlp.down_proj.weight", 0.02, C, F)
	}
	add("model.norm.weight", 0, C)
	add("lm_head.weight", 0.02, V, C)
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

// fixtureSmall is the small preset with n random pairs (prompts 4–11, completions
// 2–13 tokens: short, to keep the test quick).
func fixtureSmall(t testing.TB, dir string, n int) (modelDir, dataPath string) {
	const vocab = 8192
	modelDir = filepath.Join(dir, "model")
	writeSmallPreset(t, modelDir)
	rng := rand.New(rand.NewPCG(11, 12))
	ids := func(k int) []int {
		out := make([]int, k)
		for i := range out {
			out[i] = 3 + rng.IntN(vocab-3)
		}
		return out
	}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		row, _ := json.Marshal(map[string][]int{
			"prompt_input_ids": ids(4 + rng.IntN(8)), "chosen_input_ids": ids(2 + rng.IntN(12)), "rejected_input_ids": ids(2 + rng.IntN(12)),
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

// TestDistKillOneRank: kill -9 of rank 1 mid-run takes every rank down within 60 s
// with a non-zero exit; resuming from the last checkpoint with the same number of
// ranks ends at the weights of an uninterrupted run (LoRA with dropout: each rank's
// dropout stream is checkpointed), and another number of ranks is refused clearly.
func TestDistKillOneRank(t *testing.T) {
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skipf("skipped: mpirun not installed: %v", err)
	}
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	yaml := func(out string) string {
		return loraDropoutYAML(resumeYAML(modelDir, dataPath, out)) + "threads: 1\nplot_loss: false\n"
	}
	ref := filepath.Join(dir, "uninterrupted")
	if b, err := runMPI(t, 2, yaml(ref), ref); err != nil {
		t.Fatalf("mpirun: %v\n%s", err, b)
	}
	out := filepath.Join(dir, "killed")
	cfg := out + ".yaml"
	if err := os.WriteFile(cfg, []byte(yaml(out)), 0o644); err != nil {
		t.Fatal(err)
	}
	pids := t.TempDir()
	cmd := mpirunCmd(t, 2, cfg, []string{"PREFTUNE_DIST_SLOW=1", "PREFTUNE_DIST_PIDS=" + pids})
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		steps, _ := listCheckpoints(out)
		if len(steps) > 0 && steps[len(steps)-1] >= 4 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint-4; output:\n%s", outb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	pid := func(r int) int {
		b, err := os.ReadFile(filepath.Join(pids, fmt.Sprintf("rank-%d.pid", r)))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(string(b))
		return n
	}
	p0, p1 := pid(0), pid(1)
	if err := syscall.Kill(p1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case err := <-done:
		t.Logf("mpirun exited %.1f s after kill -9 of rank 1: %v", time.Since(killed).Seconds(), err)
		if err == nil {
			t.Error("mpirun exited 0 after a rank was killed")
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("mpirun still running 60 s after kill -9 of rank 1:\n%s", outb.String())
	}
	for time.Since(killed) < 60*time.Second && syscall.Kill(p0, 0) == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(p0, 0) == nil {
		t.Errorf("rank 0 (pid %d) still alive 60 s after rank 1 was killed", p0)
	}
	if _, err := os.Stat(filepath.Join(out, "adapter_model.safetensors")); err == nil {
		t.Fatal("run finished before the kill")
	}
	steps, _ := listCheckpoints(out)
	t.Logf("killed after checkpoints %v", steps)

	// another number of ranks: refused, saying why
	b, err := runMPI(t, 3, yaml(out)+"resume_from_checkpoint: \"true\"\n", out+"-np3")
	if err == nil || !bytes.Contains(b, []byte("data-parallel run of 2 ranks, this run has 3")) {
		t.Errorf("resume with 3 ranks of a 2-rank run: %v\n%s", err, b)
	}
	if b, err := runMPI(t, 2, yaml(out)+"resume_from_checkpoint: \"true\"\n", out+"-resume"); err != nil {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	if !bytes.Equal(fileBytes(t, filepath.Join(ref, "adapter_model.safetensors")), fileBytes(t, filepath.Join(out, "adapter_model.safetensors"))) {
		t.Error("weights after kill -9 + resume differ from the uninterrupted run")
	}
	a, _ := report.ReadLog(filepath.Join(ref, "trainer_log.jsonl"))
	c, _ := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if len(a) != len(c) || len(a) == 0 {
		t.Fatalf("log lines: %d after resume, %d uninterrupted", len(c), len(a))
	}
	for i := range a {
		if a[i].Step != c[i].Step || a[i].Values["loss"] != c[i].Values["loss"] {
			t.Errorf("log line %d: step %d loss %v after resume, step %d loss %v uninterrupted", i, c[i].Step, c[i].Values["loss"], a[i].Step, a[i].Values["loss"])
		}
	}
}

// TestDistTwoNamespaces is a two-host run on one machine: two network namespaces made
// by the test, joined by a veth pair with addresses of the test's own; mpirun (in the
// first) starts the second rank's daemon in the other namespace through an rsh agent
// that runs `ip netns exec`, and the ranks talk over TCP only. The weights equal the
// one-host run's, bit for bit (a sum of two values does not depend on the transport).
func TestDistTwoNamespaces(t *testing.T) {
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skipf("skipped: mpirun not installed: %v", err)
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Skipf("skipped: no ip command (iproute2): %v", err)
	}
	id := os.Getpid() % 200
	nsA, nsB := fmt.Sprintf("ptdA%d", os.Getpid()), fmt.Sprintf("ptdB%d", os.Getpid())
	vA, vB := fmt.Sprintf("pvA%d", os.Getpid()), fmt.Sprintf("pvB%d", os.Getpid())
	ipA, ipB := fmt.Sprintf("10.213.%d.1", id), fmt.Sprintf("10.213.%d.2", id)
	subnet := fmt.Sprintf("10.213.%d.0/24", id)
	ip := func(args ...string) error {
		b, err := exec.Command(ipPath, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	if err := ip("netns", "add", nsA); err != nil {
		t.Skipf("skipped: cannot create a network namespace here (needs root/CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { ip("netns", "del", nsA) })
	if err := ip("netns", "add", nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip("netns", "del", nsB) })
	for _, args := range [][]string{
		{"link", "add", vA, "type", "veth", "peer", "name", vB},
		{"link", "set", vA, "netns", nsA}, {"link", "set", vB, "netns", nsB},
		{"-n", nsA, "addr", "add", ipA + "/24", "dev", vA}, {"-n", nsB, "addr", "add", ipB + "/24", "dev", vB},
		{"-n", nsA, "link", "set", vA, "up"}, {"-n", nsB, "link", "set", vB, "up"},
		{"-n", nsA, "link", "set", "lo", "up"}, {"-n", nsB, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	agent := filepath.Join(dir, "netns-agent.sh")
	script := fmt.Sprintf(`#!/bin/sh
# rsh agent for mpirun: [options] HOST COMMAND... → COMMAND in HOST's namespace
while [ $# -gt 0 ]; do case "$1" in -*) shift;; *) break;; esac; done
host=$1; shift
case "$host" in %s) ns=%s ;; %s) ns=%s ;; *) echo "netns-agent: unknown host $host" >&2; exit 1 ;; esac
exec %s netns exec "$ns" /bin/sh -c "$*"
`, ipA, nsA, ipB, nsB, ipPath)
	if err := os.WriteFile(agent, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	modelDir, dataPath := fixture(t, dir, 12)
	yaml := func(out string) string {
		y := strings.Replace(sgdYAML(modelDir, dataPath, out, 2, 1), "max_steps: 1", "max_steps: 3", 1)
		return strings.Replace(y, "learning_rate: 1.0", "learning_rate: 0.1", 1)
	}
	one := filepath.Join(dir, "one-host")
	if b, err := runMPI(t, 2, yaml(one), one); err != nil {
		t.Fatalf("mpirun: %v\n%s", err, b)
	}
	two := filepath.Join(dir, "two-hosts")
	if err := os.WriteFile(two+".yaml", []byte(yaml(two)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := mpirunCmd(t, 2, two+".yaml", []string{"PREFTUNE_DIST_PIDS=" + dir}, "-H", ipA+","+ipB,
		"--mca", "plm_rsh_agent", agent, "--mca", "btl", "tcp,self",
		"--mca", "btl_tcp_if_include", subnet, "--mca", "oob_tcp_if_include", subnet)
	cmd.Args = append([]string{ipPath, "netns", "exec", nsA}, cmd.Args...)
	cmd.Path = ipPath
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("two-namespace mpirun: %v\n%s", err, b)
	}
	// the ranks really ran in two network namespaces
	ns0, _ := os.ReadFile(filepath.Join(dir, "rank-0.netns"))
	ns1, _ := os.ReadFile(filepath.Join(dir, "rank-1.netns"))
	if len(ns0) == 0 || bytes.Equal(ns0, ns1) {
		t.Fatalf("rank network namespaces %q and %q: want two different ones", ns0, ns1)
	}
	t.Logf("rank 0 in %s, rank 1 in %s", ns0, ns1)
	if !bytes.Equal(fileBytes(t, filepath.Join(one, "model.safetensors")), fileBytes(t, filepath.Join(two, "model.safetensors"))) {
		t.Error("two-namespace weights differ from the one-host run")
	}
}

// TestDropoutSeedPerRank: rank 0's LoRA dropout stream is the single-process one and
// every rank's differs.
func TestDropoutSeedPerRank(t *testing.T) {
	c := &config.Config{Seed: 42}
	seen := map[uint64]int{}
	for r := 0; r < 8; r++ {
		tr := &trainer{c: c, rank: r}
		s := tr.dropoutSeed()
		if r == 0 && s != 42 {
			t.Errorf("rank 0 seed %d, want the run's seed 42", s)
		}
		if q, dup := seen[s]; dup {
			t.Errorf("ranks %d and %d share dropout seed %d", q, r, s)
		}
		seen[s] = r
	}
}

// TestDistEvalAndPrecompute: with 3 ranks, the reference precompute (7 batches of 2
// over 6 training + 7 evaluation pairs, sharded by batch) and the evaluation (4
// batches, the last of one pair) are gathered into the numbers of one process: the
// logged eval metrics, training loss and metrics agree to 1e-6 (relative above 1; float32
// sums in another order; the second step starts from weights that differ as much).
func TestDistEvalAndPrecompute(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 13)
	raw := fileBytes(t, dataPath)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	trainPath, evalPath := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "eval.jsonl")
	os.WriteFile(trainPath, bytes.Join(lines[:6], nil), 0o644)
	os.WriteFile(evalPath, bytes.Join(lines[6:], nil), 0o644)
	yaml := func(out string, bs int) string {
		y := strings.Replace(sgdYAML(modelDir, trainPath, out, bs, 1), "max_steps: 1", "max_steps: 2", 1)
		y = strings.Replace(y, "learning_rate: 1.0", "learning_rate: 0.1", 1)
		return y + "eval_dataset: " + evalPath + "\neval_strategy: steps\neval_steps: 1\nper_device_eval_batch_size: 2\n"
	}
	single := filepath.Join(dir, "single")
	if _, err := runConfig(t, yaml(single, 3)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "np3")
	if b, err := runMPI(t, 3, yaml(out, 1), out); err != nil {
		t.Fatalf("mpirun: %v\n%s", err, b)
	}
	want, _ := report.ReadLog(filepath.Join(single, "trainer_log.jsonl"))
	got, _ := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if len(got) != len(want) || len(want) != 4 {
		t.Fatalf("log lines: %d, single process %d (want 4: two steps, two evaluations)", len(got), len(want))
	}
	for i := range want {
		for k, w := range want[i].Values {
			g, ok := got[i].Values[k]
			if !ok {
				t.Errorf("line %d lacks %s", i, k)
				continue
			}
			if strings.Contains(k, "logits/") {
				// a mean over the micro-batch's tokens: the pair-weighted mean of the
				// ranks' token means, as with gradient accumulation (and TRL's gather)
				continue
			}
			if !(math.Abs(g-w) <= 1e-6*math.Max(1, math.Abs(w))) {
				t.Errorf("line %d: %s = %.12g, single process %.12g", i, k, g, w)
			}
		}
	}
}

// TestDistOtherDataRefused: a rank that reads another dataset (another machine's copy)
// stops the run in setup, every rank with exit status 2, one message naming the rank.
func TestDistOtherDataRefused(t *testing.T) {
	p, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skipf("skipped: mpirun not installed: %v", err)
	}
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 6)
	other := filepath.Join(dir, "other.jsonl")
	lines := bytes.SplitAfter(fileBytes(t, dataPath), []byte("\n"))
	os.WriteFile(other, bytes.Join(append([][]byte{lines[1], lines[0]}, lines[2:]...), nil), 0o644)
	out := filepath.Join(dir, "out")
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte(sgdYAML(modelDir, dataPath, out, 3, 1)), 0o644)
	os.WriteFile(b, []byte(sgdYAML(modelDir, other, out, 3, 1)), 0o644)
	prog := []string{os.Args[0], "-test.run=^TestHelperDistChild$"}
	args := append([]string{"--allow-run-as-root", "--oversubscribe", "-np", "1", "-x", "PREFTUNE_DIST_CONFIG=" + a}, prog...)
	args = append(append(args, ":", "-np", "1", "-x", "PREFTUNE_DIST_CONFIG="+b), prog...)
	cmd := exec.Command(p, args...)
	cmd.Env = append(os.Environ(), "PREFTUNE_CACHE="+t.TempDir())
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("mpirun: %v, want exit status 2:\n%s", err, outb)
	}
	if bytes.Count(outb, []byte("REPORTED:")) != 1 || !bytes.Contains(outb, []byte("rank 1 read other data")) {
		t.Errorf("want one message naming rank 1:\n%s", outb)
	}
}
