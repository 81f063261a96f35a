package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tiny "github.com/preftune/preftune/train/tinymodel"
)

// tinyRun writes a tiny model and n pre-tokenized pairs, and returns a config file
// for out (extra YAML appended).
func tinyRun(t *testing.T, dir string, n int, out, extra string) string {
	t.Helper()
	modelDir := filepath.Join(dir, "model")
	if _, err := os.Stat(modelDir); err != nil {
		if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 64, Hidden: 16, Layers: 1, Seed: 3}); err != nil {
			t.Fatal(err)
		}
	}
	dataPath := filepath.Join(dir, "pairs.jsonl")
	if _, err := os.Stat(dataPath); err != nil {
		rng := rand.New(rand.NewPCG(1, 2))
		ids := func(k int) []int {
			o := make([]int, k)
			for i := range o {
				o[i] = 3 + rng.IntN(61)
			}
			return o
		}
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			row, _ := json.Marshal(map[string][]int{"prompt_input_ids": ids(2 + rng.IntN(4)), "chosen_input_ids": ids(1 + rng.IntN(6)), "rejected_input_ids": ids(1 + rng.IntN(6))})
			b.Write(append(row, '\n'))
		}
		if err := os.WriteFile(dataPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	y := fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nlearning_rate: 1e-2\nper_device_train_batch_size: 2\nmax_steps: 6\nlogging_steps: 1\nseed: 4\nplot_loss: false\n%s",
		modelDir, dataPath, out, extra)
	p := filepath.Join(dir, filepath.Base(out)+".yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelperSignalChild is the child process of TestSignals (it does nothing unless
// PREFTUNE_SIGNAL_CHILD is set): `preftune train CONFIG` as the binary runs it, with
// the real signal handling, pausing after step PREFTUNE_SIGNAL_AT (announced on
// stderr) for PREFTUNE_SIGNAL_PAUSE so that the parent's signal lands between steps.
func TestHelperSignalChild(t *testing.T) {
	cfg := os.Getenv("PREFTUNE_SIGNAL_CHILD")
	if cfg == "" {
		t.Skip("helper process")
	}
	at, _ := strconv.Atoi(os.Getenv("PREFTUNE_SIGNAL_AT"))
	pause, _ := time.ParseDuration(os.Getenv("PREFTUNE_SIGNAL_PAUSE"))
	trainAfterStep = func(step int) {
		if step == at {
			fmt.Fprintf(os.Stderr, "CHILD AT STEP %d\n", step)
			time.Sleep(pause)
		}
	}
	os.Exit(run([]string{"train", cfg}, nil, os.Stdout, os.Stderr))
}

// startChild starts the helper training cfg and returns it once it has announced
// step at; the rest of its stderr is collected into the returned buffer.
func startChild(t *testing.T, cfg string, at int, pause string) (*exec.Cmd, *bytes.Buffer, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSignalChild$")
	cmd.Env = append(os.Environ(), "PREFTUNE_SIGNAL_CHILD="+cfg, "PREFTUNE_SIGNAL_AT="+strconv.Itoa(at), "PREFTUNE_SIGNAL_PAUSE="+pause)
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sc := bufio.NewScanner(pr)
	marker := fmt.Sprintf("CHILD AT STEP %d", at)
	for sc.Scan() {
		buf.WriteString(sc.Text() + "\n")
		if sc.Text() == marker {
			break
		}
	}
	if !strings.Contains(buf.String(), marker) {
		cmd.Wait()
		t.Fatalf("child ended before step %d:\n%s", at, buf.String())
	}
	done := make(chan struct{})
	go func() {
		io.Copy(&buf, pr)
		close(done)
	}()
	return cmd, &buf, done
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// TestSignals: SIGINT and SIGTERM between steps finish the step, write checkpoint-3
// (save_strategy no), print the resume hint and exit 130 / 143; resuming gives the
// uninterrupted run's final weights byte for byte. A second SIGTERM while the first
// is being handled exits 143 at once, leaving the last complete checkpoint intact.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	refCfg := tinyRun(t, dir, 12, filepath.Join(dir, "ref"), "save_strategy: \"no\"\n")
	var so, se bytes.Buffer
	if code := run([]string{"train", refCfg}, nil, &so, &se); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, se.String())
	}
	want, err := os.ReadFile(filepath.Join(dir, "ref", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []struct {
		name string
		s    syscall.Signal
		code int
	}{{"SIGINT", syscall.SIGINT, 130}, {"SIGTERM", syscall.SIGTERM, 143}} {
		t.Run(sig.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+sig.name)
			cfg := tinyRun(t, dir, 12, out, "save_strategy: \"no\"\n")
			cmd, stderr, done := startChild(t, cfg, 3, "2s")
			if err := cmd.Process.Signal(sig.s); err != nil {
				t.Fatal(err)
			}
			<-done // all of stderr read: Wait closes the pipe, so it comes after
			err := cmd.Wait()
			if c := exitCode(err); c != sig.code {
				t.Fatalf("exit %d, want %d\n%s", c, sig.code, stderr.String())
			}
			if msg := "stopped at step 3; resume with resume_from_checkpoint: true"; !strings.Contains(stderr.String(), msg) {
				t.Errorf("stderr lacks %q:\n%s", msg, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(out, "checkpoint-3", "checkpoint_manifest.json")); err != nil {
				t.Fatalf("no complete checkpoint-3: %v", err)
			}
			if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
				t.Error("a stopped run wrote the final model")
			}
			var so, se bytes.Buffer
			if code := run([]string{"train", cfg, "--resume_from_checkpoint", "true"}, nil, &so, &se); code != 0 {
				t.Fatalf("resume: exit %d\n%s", code, se.String())
			}
			got, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Error("resumed run's model.safetensors differs from the uninterrupted run's")
			}
		})
	}
	t.Run("second signal", func(t *testing.T) {
		out := filepath.Join(dir, "out-abort")
		cfg := tinyRun(t, dir, 12, out, "save_steps: 2\n")
		cmd, stderr, done := startChild(t, cfg, 3, "120s")
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200 && !strings.Contains(stderr.String(), "finishing the current optimizer step"); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-done // all of stderr read: Wait closes the pipe, so it comes after
		err := cmd.Wait()
		if c := exitCode(err); c != 143 {
			t.Fatalf("exit %d, want 143\n%s", c, stderr.String())
		}
		if !strings.Contains(stderr.String(), "second signal") {
			t.Errorf("stderr lacks the abort notice:\n%s", stderr.String())
		}
		if _, err := os.Stat(filepath.Join(out, "checkpoint-3")); err == nil {
			t.Error("the aborted run wrote checkpoint-3: it did not abort at once")
		}
		var so, se bytes.Buffer
		if code := run([]string{"train", cfg, "--resume_from_checkpoint", "true"}, nil, &so, &se); code != 0 {
			t.Fatalf("resume from checkpoint-2: exit %d\n%s", code, se.String())
		}
		if !strings.Contains(se.String(), "checkpoint-2 at step 2") {
			t.Errorf("resume did not start from checkpoint-2:\n%s", se.String())
		}
		if got, err := os.ReadFile(filepath.Join(out, "model.safetensors")); err != nil || !bytes.Equal(got, want) {
			t.Errorf("resumed run's model.safetensors differs from the uninterrupted run's (%v)", err)
		}
	})
}

// TestSignalBuiltBinary sends SIGINT to a `go build`-built preftune in the middle of a
// long run: it stops at the step it names, exits 130, and its checkpoint holds exactly
// that many steps with the log lines up to it.
func TestSignalBuiltBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "preftune")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "out")
	cfg := tinyRun(t, dir, 12, out, "save_strategy: \"no\"\n")
	cmd := exec.Command(bin, "train", cfg, "--max_steps", "1000000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(out, "trainer_log.jsonl")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		raw, _ := os.ReadFile(logPath)
		if bytes.Count(raw, []byte("\n")) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no 3 log lines in time:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-waited
		t.Fatalf("SIGINT did not stop the run:\n%s", stderr.String())
	}
	if c := exitCode(err); c != 130 {
		t.Fatalf("exit %d, want 130\n%s", c, stderr.String())
	}
	m := regexp.MustCompile(`stopped at step (\d+); resume with resume_from_checkpoint: true`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no stop message:\n%s", stderr.String())
	}
	n, _ := strconv.Atoi(m[1])
	var st struct {
		GlobalStep int `json:"global_step"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "checkpoint-"+m[1], "trainer_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.GlobalStep != n {
		t.Errorf("checkpoint-%d global_step %d (%v)", n, st.GlobalStep, err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint-"+m[1], "checkpoint_manifest.json")); err != nil {
		t.Error(err)
	}
	logRaw, _ := os.ReadFile(logPath)
	if lines := bytes.Count(logRaw, []byte("\n")); lines != n {
		t.Errorf("trainer_log.jsonl has %d lines after a stop at step %d (logging_steps 1)", lines, n)
	}
}
