package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preftune/preftune/train/config"
)

// The tests of the run directory (rundir.go): restart without a checkpoint, manifests,
// the final outputs as a set, the lock. The kill -9 loop and the disk-full test are in
// killloop_test.go.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// preftuneBinary builds cmd/preftune once per test binary, for tests that must run
// (and kill) real processes.
func preftuneBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "preftune-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "preftune")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/preftune").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runUntil runs a config in-process and stops it (as a kill between steps would)
// after step stop; stop 0 runs to the end.
func runUntil(t *testing.T, yaml string, stop int, overrides ...string) (string, error) {
	t.Helper()
	l, err := config.Parse([]byte(yaml), overrides)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log bytes.Buffer
	_, err = Run(ctx, l, Options{Log: &log, CacheDir: t.TempDir(), AfterStep: func(s int) {
		if s == stop {
			cancel()
		}
	}})
	return log.String(), err
}

// sameOutputs requires the final weights, log and trainer state of out to equal ref's
// byte for byte.
func sameOutputs(t *testing.T, ref, out, weights string) {
	t.Helper()
	for _, f := range []string{weights, "trainer_log.jsonl", "trainer_state.json"} {
		a, err := os.ReadFile(filepath.Join(ref, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Errorf("%s: %v", out, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the uninterrupted run's", filepath.Join(out, f))
		}
	}
}

// finalNames are the final outputs of a full fine-tuning run of the fixture.
var finalNames = []string{"model.safetensors", "config.json", resultsFile, "trainer_state.json", "tokenizer.model", "training_loss.png"}

// assertNoFinalOutputs: none of the final outputs (nor their staging dir) is in out.
func assertNoFinalOutputs(t *testing.T, out string) {
	t.Helper()
	for _, f := range append(finalNames, finalStage) {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s exists after a failed final save", filepath.Join(out, f))
		}
	}
}

// TestRestartTrap (issue 16, item 6): a run stopped before its first checkpoint leaves
// trainer_log.jsonl, a half-written checkpoint and a checkpoint without its weights.
// resume_from_checkpoint: true says there is no checkpoint yet; a fresh run starts
// over by itself, in one line, and trains exactly as in an empty directory.
func TestRestartTrap(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "ref")
	if _, err := runUntil(t, resumeYAML(modelDir, dataPath, ref), 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := runUntil(t, resumeYAML(modelDir, dataPath, out), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v", err)
	}
	// what interrupted writes (or an older preftune with two runs in one dir) leave
	for _, d := range []string{"checkpoint-2.tmp", "checkpoint-2", finalStage} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(out, "checkpoint-2", "trainer_state.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if steps, _ := listCheckpoints(out); len(steps) != 0 {
		t.Fatalf("checkpoints %v listed in a dir that has none complete", steps)
	}
	_, err := runUntil(t, resumeYAML(modelDir, dataPath, out), 0, "--resume_from_checkpoint", "true")
	var se *SetupError
	want := "resume_from_checkpoint: no checkpoint yet in " + out + "; start over without resume_from_checkpoint or with overwrite_output_dir"
	if !errors.As(err, &se) || err.Error() != want {
		t.Errorf("resume with nothing resumable: %v\nwant the setup error %q", err, want)
	}
	// recreate the debris (the refused resume removed the interrupted checkpoint dirs)
	os.MkdirAll(filepath.Join(out, "checkpoint-2.tmp"), 0o755)
	log, err := runUntil(t, resumeYAML(modelDir, dataPath, out), 0)
	if err != nil {
		t.Fatalf("fresh run over a run without checkpoints: %v", err)
	}
	if n := strings.Count(log, "starting over"); n != 1 || !strings.Contains(log, "removed checkpoint-2.tmp, trainer_log.jsonl") {
		t.Errorf("log says %d times that it starts over, want once naming what it removed:\n%s", n, log)
	}
	sameOutputs(t, ref, out, "model.safetensors")
	for _, d := range []string{"checkpoint-2.tmp", finalStage} {
		if _, err := os.Stat(filepath.Join(out, d)); err == nil {
			t.Errorf("%s left in place", d)
		}
	}
}

// TestExistingRunRefused: a complete checkpoint or final outputs still refuse a fresh
// run without overwrite_output_dir (transformers' rule), naming what to set.
func TestExistingRunRefused(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	out := filepath.Join(dir, "out")
	y := resumeYAML(modelDir, dataPath, out)
	if _, err := runUntil(t, y, 5); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v", err)
	}
	_, err := runUntil(t, y, 0)
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "unfinished run with checkpoint-4: set resume_from_checkpoint: true") {
		t.Errorf("fresh run over checkpoint-4: %v", err)
	}
	if _, err := runUntil(t, y, 0, "--resume_from_checkpoint", "true"); err != nil {
		t.Fatal(err)
	}
	_, err = runUntil(t, y, 0)
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "already holds a finished run") {
		t.Errorf("fresh run over a finished run: %v", err)
	}
	if _, err := runUntil(t, y, 0, "--overwrite_output_dir", "true"); err != nil {
		t.Errorf("overwrite_output_dir: %v", err)
	}
}

// TestCheckpointManifest: a checkpoint is listed only when every file of its manifest
// is there with its size; a resume verifies the hashes and falls back to an older
// checkpoint past a corrupt one; a checkpoint without a manifest (older preftune) is
// accepted when its files are present. Every resume ends bit-exact.
func TestCheckpointManifest(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "ref")
	if _, err := runUntil(t, resumeYAML(modelDir, dataPath, ref), 0); err != nil {
		t.Fatal(err)
	}
	stopped := func(name string, stop int) (string, string) {
		out := filepath.Join(dir, name)
		y := resumeYAML(modelDir, dataPath, out)
		if _, err := runUntil(t, y, stop); !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped run: %v", err)
		}
		return out, y
	}

	// a missing file: not listed
	out, _ := stopped("missing", 6)
	if steps, _ := listCheckpoints(out); fmt.Sprint(steps) != "[4 6]" {
		t.Fatalf("checkpoints %v, want [4 6]", steps)
	}
	os.Remove(filepath.Join(checkpointDir(out, 6), "optimizer.safetensors"))
	if steps, _ := listCheckpoints(out); fmt.Sprint(steps) != "[4]" {
		t.Errorf("checkpoint-6 without optimizer.safetensors is listed: %v", steps)
	}

	// a corrupt file of the same size: skipped by the resume, which uses checkpoint-4
	out, y := stopped("corrupt", 6)
	p := filepath.Join(checkpointDir(out, 6), "model.safetensors")
	b := fileBytes(t, p)
	b[len(b)-1] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := runUntil(t, y, 0, "--resume_from_checkpoint", "true")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "skipping "+checkpointDir(out, 6)+": corrupt checkpoint") || !strings.Contains(log, "resumed from "+checkpointDir(out, 4)) {
		t.Errorf("resume past a corrupt checkpoint-6 logged:\n%s", log)
	}
	sameOutputs(t, ref, out, "model.safetensors")
	// named explicitly, a corrupt checkpoint is refused as bad input
	out, y = stopped("corrupt-named", 6)
	p = filepath.Join(checkpointDir(out, 6), "model.safetensors")
	b = fileBytes(t, p)
	b[len(b)-1] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runUntil(t, y, 0, "--resume_from_checkpoint", checkpointDir(out, 6))
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "corrupt checkpoint") {
		t.Errorf("explicit corrupt checkpoint: %v", err)
	}

	// no manifest (older preftune): accepted with a note, and bit-exact
	out, y = stopped("legacy", 6)
	os.Remove(filepath.Join(checkpointDir(out, 6), manifestFile))
	if steps, _ := listCheckpoints(out); fmt.Sprint(steps) != "[4 6]" {
		t.Errorf("legacy checkpoint not listed: %v", steps)
	}
	log, err = runUntil(t, y, 0, "--resume_from_checkpoint", "true")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "has no "+manifestFile) || !strings.Contains(log, "resumed from "+checkpointDir(out, 6)) {
		t.Errorf("legacy resume logged:\n%s", log)
	}
	sameOutputs(t, ref, out, "model.safetensors")
}

// TestFinalSaveFailure (issue 16, item 8): the final save fails midway (here a
// tokenizer file that cannot be read, after the weights were written); output_dir then
// holds no final file, and its last checkpoint resumes to the uninterrupted result.
func TestFinalSaveFailure(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "ref")
	if _, err := runUntil(t, resumeYAML(modelDir, dataPath, ref), 0); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(modelDir, "tokenizer.model")
	if err := os.Mkdir(bad, 0o755); err != nil { // os.ReadFile fails on a dir
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	y := resumeYAML(modelDir, dataPath, out) + "plot_loss: true\n"
	_, err := runUntil(t, y, 0)
	if err == nil {
		t.Fatal("the final save did not fail")
	}
	var se *SetupError
	if errors.As(err, &se) || !strings.Contains(err.Error(), "none of them was written") || !strings.Contains(err.Error(), checkpointDir(out, 14)+", is intact") {
		t.Errorf("error %q: want an internal error naming the intact checkpoint-14", err)
	}
	assertNoFinalOutputs(t, out)
	if err := verifyCheckpoint(checkpointDir(out, 14)); err != nil {
		t.Error(err)
	}
	os.Remove(bad)
	if _, err := runUntil(t, y, 0, "--resume_from_checkpoint", "true"); err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, ref, out, "model.safetensors")
}

// TestFinalStageRecovery: a kill while the final outputs were being renamed into place
// (the commit list written, some files moved) is finished by the next run; a kill while
// they were being written (no commit list) leaves a staging dir that is removed.
func TestFinalStageRecovery(t *testing.T) {
	out := t.TempDir()
	stage := filepath.Join(out, finalStage)
	os.Mkdir(stage, 0o755)
	for _, f := range []string{"b.json", resultsFile} {
		os.WriteFile(filepath.Join(stage, f), []byte(f), 0o644)
	}
	os.WriteFile(filepath.Join(out, "a.json"), []byte("a.json"), 0o644) // moved already
	os.WriteFile(filepath.Join(stage, finalCommit), []byte(`{"files":["a.json","b.json","train_results.json"]}`), 0o644)
	var log bytes.Buffer
	if err := recoverFinalStage(out, &log); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.json", "b.json", resultsFile} {
		if b, err := os.ReadFile(filepath.Join(out, f)); err != nil || string(b) != f {
			t.Errorf("%s: %q %v", f, b, err)
		}
	}
	if _, err := os.Stat(stage); err == nil || !strings.Contains(log.String(), "finished moving the final outputs") {
		t.Errorf("stage left, or log %q", log.String())
	}
	os.Mkdir(stage, 0o755)
	os.WriteFile(filepath.Join(stage, "model.safetensors"), []byte("partial"), 0o644)
	log.Reset()
	if err := recoverFinalStage(out, &log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stage); err == nil || !strings.Contains(log.String(), "removed the partial final outputs") {
		t.Errorf("stage left, or log %q", log.String())
	}
	if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		t.Error("an uncommitted staged file was moved into place")
	}
}

// TestHelperRunDirChild is the child process of TestTwoRunsOneDir (it does nothing
// unless PREFTUNE_RUNDIR_CHILD is set): it trains slowly, holding the lock.
func TestHelperRunDirChild(t *testing.T) {
	path := os.Getenv("PREFTUNE_RUNDIR_CHILD")
	if path == "" {
		t.Skip("helper process")
	}
	l, err := config.LoadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(t.Context(), l, Options{AfterStep: func(int) { time.Sleep(100 * time.Millisecond) }}); err != nil {
		t.Fatal(err)
	}
}

// TestTwoRunsOneDir (issue 16, item 7): while one run trains in output_dir, a second
// `preftune train` there exits 2 naming the holder's pid and host, and an in-process
// Run is refused too; the first run then finishes with the uninterrupted outputs.
func TestTwoRunsOneDir(t *testing.T) {
	bin := preftuneBinary(t)
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "ref")
	if _, err := runUntil(t, resumeYAML(modelDir, dataPath, ref), 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfgPath := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(cfgPath, []byte(resumeYAML(modelDir, dataPath, out)), 0o644); err != nil {
		t.Fatal(err)
	}
	first := exec.Command(os.Args[0], "-test.run=^TestHelperRunDirChild$")
	first.Env = append(os.Environ(), "PREFTUNE_RUNDIR_CHILD="+cfgPath)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid %d on host %s", first.Process.Pid, host)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(out, lockFile)); bytes.Contains(b, []byte(fmt.Sprintf(`"pid":%d`, first.Process.Pid))) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run never took the lock; stderr:\n%s", firstErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	second := exec.Command(bin, "train", cfgPath)
	var stderr bytes.Buffer
	second.Stderr = &stderr
	err := second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("second run: %v, want exit 2", err)
	}
	if !strings.Contains(stderr.String(), "is in use by another preftune run ("+holder) {
		t.Errorf("second run's error does not name %q:\n%s", holder, stderr.String())
	}
	// the same in-process, with resume (which skips the output_dir checks)
	_, err = runUntil(t, resumeYAML(modelDir, dataPath, out), 0, "--resume_from_checkpoint", "true")
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), holder) {
		t.Errorf("in-process second run: %v", err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, firstErr.String())
	}
	sameOutputs(t, ref, out, "model.safetensors")
	if b, _ := os.ReadFile(filepath.Join(out, lockFile)); len(b) != 0 {
		t.Errorf("lock file still names a holder after the run: %s", b)
	}
}
