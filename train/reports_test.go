package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
)

// tbEvent is one line of reference/tensorboard/read_events.py.
type tbEvent struct {
	Step        int64   `json:"step"`
	FileVersion string  `json:"file_version"`
	Tag         string  `json:"tag"`
	Value       any     `json:"value"`
	WallTime    float64 `json:"wall_time"`
}

// readEventsReference reads event files with the independent Python reader (skips the
// test, saying why, without /usr/bin/python3 and python3-protobuf).
func readEventsReference(t *testing.T, paths ...string) []tbEvent {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import google.protobuf").Run(); err != nil {
		t.Skipf("the independent TensorBoard reader needs %s with Debian python3-protobuf (apt-get install -y python3-protobuf): %v", py, err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, append([]string{"../reference/tensorboard/read_events.py"}, paths...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_events.py: %v\n%s", err, stderr.String())
	}
	var evs []tbEvent
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var e tbEvent
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

// hfTag is transformers' rewrite_logs, written out here from its definition.
func hfTag(key string) string {
	switch {
	case strings.HasPrefix(key, "eval_"):
		return "eval/" + key[len("eval_"):]
	case strings.HasPrefix(key, "test_"):
		return "test/" + key[len("test_"):]
	}
	return "train/" + key
}

func evalYAML(modelDir, dataPath, evalPath, out string) string {
	return fmt.Sprintf("model_name_or_path: %s\ndataset: %s\neval_dataset: %s\noutput_dir: %s\nfinetuning_type: lora\nlora_rank: 4\nlora_target: all\n"+
		"learning_rate: 5e-2\nper_device_train_batch_size: 4\nper_device_eval_batch_size: 3\nmax_steps: 4\nlogging_steps: 1\neval_steps: 2\nbeta: 0.3\nseed: 9\n",
		modelDir, dataPath, evalPath, out)
}

// TestTensorBoardMatchesLog: report_to tensorboard writes one event file under
// logging_dir whose scalars — read back by the independent reader, CRCs checked — are
// every trainer_log.jsonl value (and epoch) at its step, under HF Trainer's tags,
// followed by the end-of-training metrics; report_to wandb only warns.
func TestTensorBoardMatchesLog(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 12)
	out := filepath.Join(dir, "out")
	logDir := filepath.Join(dir, "tb")
	var logBuf bytes.Buffer
	l, err := config.Parse([]byte(evalYAML(modelDir, dataPath, dataPath, out)), []string{"--report_to", "[tensorboard, wandb]", "--logging_dir", logDir})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), l, Options{Log: &logBuf, CacheDir: t.TempDir(), Backend: testBackend})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logBuf.String(), "warning: report_to wandb"); n != 1 {
		t.Errorf("%d warnings naming wandb, want 1:\n%s", n, logBuf.String())
	}
	files, _ := filepath.Glob(filepath.Join(logDir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files in logging_dir: %v, want 1", files)
	}
	host, _ := os.Hostname()
	if !regexp.MustCompile(`^events\.out\.tfevents\.\d{10}\.` + regexp.QuoteMeta(host) + `\.`).MatchString(filepath.Base(files[0])) {
		t.Errorf("event file name %s", filepath.Base(files[0]))
	}
	evs := readEventsReference(t, files[0])
	if len(evs) == 0 || evs[0].FileVersion != "brain.Event:2" {
		t.Fatalf("first event %v, want file_version brain.Event:2", evs)
	}
	type key struct {
		step int64
		tag  string
	}
	got := map[key]float64{}
	for _, e := range evs[1:] {
		v, ok := e.Value.(float64)
		if !ok {
			t.Fatalf("non-numeric value %v for %s", e.Value, e.Tag)
		}
		got[key{e.Step, e.Tag}] = v
	}
	entries, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[key]float64{}
	sawEval, sawMargins := false, false
	for _, e := range entries {
		for k, v := range e.Values {
			want[key{int64(e.Step), hfTag(k)}] = v
			sawEval = sawEval || k == "eval_loss"
			sawMargins = sawMargins || k == "rewards/margins"
		}
		want[key{int64(e.Step), "train/epoch"}] = e.Epoch
	}
	if !sawEval || !sawMargins {
		t.Fatalf("the log lacks eval_loss or rewards/margins: %v", entries)
	}
	final := int64(sum.GlobalStep)
	want[key{final, "train/train_loss"}] = sum.TrainLoss
	for _, k := range []string{"train/train_runtime", "train/train_samples_per_second", "train/train_steps_per_second"} {
		if _, ok := got[key{final, k}]; !ok {
			t.Errorf("no %s at step %d", k, final)
		}
		delete(got, key{final, k})
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("event file lacks %s at step %d", k.tag, k.step)
			continue
		}
		if d := math.Abs(g - float64(float32(w))); !(d <= 0) {
			t.Errorf("%s at step %d: %v in the event file, %v in the log", k.tag, k.step, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("event file has %s at step %d, the log does not", k.tag, k.step)
		}
	}
	for _, tag := range []string{"train/loss", "train/rewards/margins", "train/learning_rate", "train/grad_norm", "eval/loss", "eval/rewards/accuracies"} {
		if _, ok := want[key{2, tag}]; !ok {
			t.Errorf("no %s at step 2", tag)
		}
	}
}

// TestDefaultLoggingDir: without logging_dir the events go to transformers' default,
// output_dir/runs/<%b%d_%H-%M-%S>_<host>.
func TestDefaultLoggingDir(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 4)
	out := filepath.Join(dir, "out")
	if _, err := runConfig(t, fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nmax_steps: 1\nper_device_train_batch_size: 4\nreport_to: all\n", modelDir, dataPath, out)); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	files, _ := filepath.Glob(filepath.Join(out, "runs", "*", "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files under output_dir/runs: %v", files)
	}
	run := filepath.Base(filepath.Dir(files[0]))
	if !regexp.MustCompile(`^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\d{2}_\d{2}-\d{2}-\d{2}_` + regexp.QuoteMeta(host) + `$`).MatchString(run) {
		t.Errorf("run dir %q is not <%%b%%d_%%H-%%M-%%S>_<host>", run)
	}
}

// TestEvaluateOnly: an evaluation-only run of the trained adapter reproduces the
// trainer's own evaluation at the last step, writes TRL's keys to eval_results.json,
// leaves the training outputs alone, and its rewards agree with rewards computed from
// log-probs of a separately loaded model + adapter (SequenceLogProbs, no stepper).
func TestEvaluateOnly(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 12)
	evalPath := filepath.Join(dir, "eval.jsonl")
	raw := fileBytes(t, dataPath)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if err := os.WriteFile(evalPath, bytes.Join(lines[:7], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := runConfig(t, evalYAML(modelDir, dataPath, evalPath, out)); err != nil {
		t.Fatal(err)
	}
	entries, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var last map[string]float64
	for _, e := range entries {
		if _, ok := e.Values["eval_loss"]; ok && e.Step == 4 {
			last = e.Values
		}
	}
	if last == nil {
		t.Fatalf("no evaluation at step 4 in %v", entries)
	}
	before := fileBytes(t, filepath.Join(out, "trainer_log.jsonl"))
	if _, err := os.Stat(filepath.Join(out, EvalResultsFile)); err == nil {
		t.Errorf("%s written by a training run without do_eval", EvalResultsFile)
	}
	// do_eval: true with training: eval_results.json of the trained policy, equal to
	// the trainer's evaluation at the last step
	outE := filepath.Join(dir, "outE")
	if _, err := runConfig(t, evalYAML(modelDir, dataPath, evalPath, outE), "--do_eval", "true"); err != nil {
		t.Fatal(err)
	}
	var final map[string]float64
	if err := json.Unmarshal(fileBytes(t, filepath.Join(outE, EvalResultsFile)), &final); err != nil {
		t.Fatal(err)
	}
	if final["epoch"] != entries[len(entries)-1].Epoch {
		t.Errorf("do_eval epoch %v, want %v", final["epoch"], entries[len(entries)-1].Epoch)
	}
	for _, k := range []string{"eval_loss", "eval_rewards/margins", "eval_logps/chosen"} {
		if d := math.Abs(final[k] - last[k]); !(d <= 1e-9*math.Max(1, math.Abs(last[k]))) {
			t.Errorf("do_eval %s = %v, the trainer's eval at the last step %v", k, final[k], last[k])
		}
	}

	evalOut := filepath.Join(dir, "evalout")
	y := fmt.Sprintf("model_name_or_path: %s\nadapter_name_or_path: %s\neval_dataset: %s\noutput_dir: %s\nfinetuning_type: lora\nper_device_eval_batch_size: 3\nbeta: 0.3\ndo_train: false\ndo_eval: true\n",
		modelDir, out, evalPath, evalOut)
	for _, o := range []string{evalOut, out} { // a fresh dir, and the training run's own dir
		l, err := config.Parse([]byte(y), []string{"--output_dir", o})
		if err != nil {
			t.Fatal(err)
		}
		vals, err := Evaluate(context.Background(), l, Options{Log: testLog{t}, Backend: testBackend})
		if err != nil {
			t.Fatal(err)
		}
		var file map[string]float64
		if err := json.Unmarshal(fileBytes(t, filepath.Join(o, EvalResultsFile)), &file); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(file, vals) {
			t.Errorf("eval_results.json %v differs from the returned %v", file, vals)
		}
		for _, k := range []string{"eval_loss", "eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/accuracies", "eval_rewards/margins",
			"eval_logps/chosen", "eval_logps/rejected", "eval_logits/chosen", "eval_logits/rejected"} {
			w, ok := last[k]
			if !ok {
				t.Errorf("the trainer's eval lacks %s", k)
				continue
			}
			if d := math.Abs(vals[k] - w); !(d <= 1e-5*math.Max(1, math.Abs(w))) {
				t.Errorf("%s: evaluation-only %v, trainer's eval at step 4 %v", k, vals[k], w)
			}
		}
		for _, k := range []string{"eval_runtime", "eval_samples_per_second", "eval_steps_per_second"} {
			if _, ok := vals[k]; !ok {
				t.Errorf("eval_results.json lacks %s", k)
			}
		}
	}
	if !bytes.Equal(before, fileBytes(t, filepath.Join(out, "trainer_log.jsonl"))) {
		t.Error("evaluation in the training run's dir changed its trainer_log.jsonl")
	}

	// rewards from log-probs summed by SequenceLogProbs, policy = model + adapter,
	// reference = model alone
	be, err := kernels.Open("cpu", kernels.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	lc, err := model.ReadAdapterConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := model.Load(modelDir, be, model.Options{Frozen: true, LoRA: lc})
	if err != nil {
		t.Fatal(err)
	}
	if err := policy.LoadAdapter(out); err != nil {
		t.Fatal(err)
	}
	var groups []model.Group
	for i, ln := range lines[:7] {
		var row map[string][]int32
		if err := json.Unmarshal(ln, &row); err != nil {
			t.Fatal(err)
		}
		groups = append(groups, model.Group{Prompt: row["prompt_input_ids"], Completions: [][]int32{row["chosen_input_ids"], row["rejected_input_ids"]}, Seqs: []int32{int32(2 * i), int32(2*i + 1)}})
	}
	pol, err := SequenceLogProbs(policy, groups, model.ForwardOptions{Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := SequenceLogProbs(policy, groups, model.ForwardOptions{Eval: true, NoAdapters: true})
	if err != nil {
		t.Fatal(err)
	}
	var ch, rj, acc, lossSum float64
	for i := range groups {
		c, r := 0.3*(pol[2*i]-ref[2*i]), 0.3*(pol[2*i+1]-ref[2*i+1])
		ch += c / 7
		rj += r / 7
		if c > r {
			acc += 1.0 / 7
		}
		lossSum += -math.Log(1/(1+math.Exp(-(c-r)))) / 7
	}
	tbDir := filepath.Join(dir, "evaltb")
	l, _ := config.Parse([]byte(y), []string{"--report_to", "tensorboard", "--logging_dir", tbDir})
	vals, err := Evaluate(context.Background(), l, Options{Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(tbDir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("evaluation-only event files %v", files)
	}
	tags := map[string]float64{}
	for _, e := range readEventsReference(t, files[0])[1:] {
		if e.Step != 0 {
			t.Errorf("evaluation-only event at step %d", e.Step)
		}
		tags[e.Tag], _ = e.Value.(float64)
	}
	for k, v := range vals {
		if g, ok := tags[hfTag(k)]; !ok || !(g == float64(float32(v))) {
			t.Errorf("event file %s = %v (present %v), eval_results %v", hfTag(k), g, ok, v)
		}
	}
	if len(tags) != len(vals) {
		t.Errorf("event file tags %v, eval_results keys %v", tags, vals)
	}
	for k, w := range map[string]float64{"eval_rewards/chosen": ch, "eval_rewards/rejected": rj, "eval_rewards/accuracies": acc, "eval_loss": lossSum, "eval_rewards/margins": ch - rj} {
		if d := math.Abs(vals[k] - w); !(d <= 1e-5) {
			t.Errorf("%s = %v, from SequenceLogProbs %v", k, vals[k], w)
		}
	}
}

// TestEvaluateOnlyErrors: bad input is a SetupError naming the key.
func TestEvaluateOnlyErrors(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 4)
	y := fmt.Sprintf("model_name_or_path: %s\neval_dataset: %s\noutput_dir: %s\nfinetuning_type: lora\nadapter_name_or_path: %s\ndo_train: false\ndo_eval: true\n",
		modelDir, dataPath, filepath.Join(dir, "o"), filepath.Join(dir, "missing"))
	l, err := config.Parse([]byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Evaluate(context.Background(), l, Options{})
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "adapter_name_or_path") {
		t.Errorf("missing adapter: %v, want a SetupError naming adapter_name_or_path", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "o", EvalResultsFile)); err == nil {
		t.Error("eval_results.json written by a failed evaluation")
	}
}

// TestGracefulStop: a stop requested after step 3 (save_strategy no) writes
// checkpoint-3 and returns a StoppedError; resuming gives the uninterrupted run's
// final weights, log and state byte for byte. A stop before the first step writes
// nothing.
func TestGracefulStop(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "ref")
	y := strings.Replace(resumeYAML(modelDir, dataPath, ref), "save_steps: 2\n", "save_strategy: \"no\"\n", 1)
	if _, err := runConfig(t, y); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	y = strings.Replace(y, ref, out, 1)
	l, err := config.Parse([]byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var log bytes.Buffer
	_, err = Run(ctx, l, Options{Log: &log, CacheDir: t.TempDir(), Backend: testBackend, AfterStep: func(s int) {
		if s == 3 {
			cancel(fmt.Errorf("%w: test", ErrStopRequested))
		}
	}})
	var st *StoppedError
	if !errors.As(err, &st) || st.Step != 3 {
		t.Fatalf("Run: %v, want a StoppedError at step 3", err)
	}
	if want := "stopped at step 3; resume with resume_from_checkpoint: true"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	if steps, _ := listCheckpoints(out); !reflect.DeepEqual(steps, []int{3}) {
		t.Fatalf("checkpoints after the stop: %v, want [3]", steps)
	}
	if err := verifyCheckpoint(checkpointDir(out, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := runConfig(t, y, "--resume_from_checkpoint", "true"); err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, ref, out, "model.safetensors")

	// before the first step: nothing to checkpoint
	out0 := filepath.Join(dir, "out0")
	l0, _ := config.Parse([]byte(strings.Replace(y, out, out0, 1)), nil)
	ctx0, cancel0 := context.WithCancelCause(context.Background())
	cancel0(ErrStopRequested)
	_, err = Run(ctx0, l0, Options{Log: &log, CacheDir: t.TempDir(), Backend: testBackend})
	if !errors.As(err, &st) || st.Step != 0 || st.Checkpoint != "" {
		t.Errorf("stop before step 1: %v", err)
	}
	if steps, _ := listCheckpoints(out0); len(steps) != 0 {
		t.Errorf("checkpoints %v after a stop before step 1", steps)
	}
}

// TestTrainingArgsYAML: output_dir/training_args.yaml loads back as the run's
// resolved config and starts with the version lines.
func TestTrainingArgsYAML(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 4)
	out := filepath.Join(dir, "out")
	y := fmt.Sprintf("stage: dpo\nmodel_name_or_path: %s\ndataset: %s\noutput_dir: %s\nmax_steps: 1\nper_device_train_batch_size: 4\npref_beta: 0.2\nreport_to: none\nbf16: true\n", modelDir, dataPath, out)
	l, err := config.Parse([]byte(y), []string{"--learning_rate", "3e-4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), l, Options{Log: testLog{t}, CacheDir: t.TempDir(), Backend: testBackend}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, ArgsFile)
	raw := fileBytes(t, path)
	for _, want := range []string{"# preftune ", "# go: go", "# commit: ", "# backend: " + testBackend} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s lacks %q:\n%s", ArgsFile, want, raw)
		}
	}
	back, err := config.LoadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Config, l.Config) {
		t.Errorf("%s reads back as\n%+v\nwant\n%+v", ArgsFile, back.Config, l.Config)
	}
	if back.Beta != 0.2 || back.LearningRate != 3e-4 {
		t.Errorf("beta %v learning_rate %v", back.Beta, back.LearningRate)
	}
}
