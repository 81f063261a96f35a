package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tiny "github.com/preftune/preftune/train/tinymodel"
)

// TestHelperCLI is `preftune` itself when PREFTUNE_CLI_ARGS (a JSON list of arguments)
// is set: the mpirun tests start this test binary as each rank.
func TestHelperCLI(t *testing.T) {
	raw := os.Getenv("PREFTUNE_CLI_ARGS")
	if raw == "" {
		t.Skip("helper process")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(run(args, os.Stdin, os.Stdout, os.Stderr))
}

// mpirunCLI runs `mpirun -np np preftune ARGS…` (this test binary as preftune) and
// returns its stdout, stderr and exit status, or skips when mpirun is absent.
func mpirunCLI(t *testing.T, np int, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skipf("skipped: mpirun not installed (apt-get install openmpi-bin libopenmpi-dev): %v", err)
	}
	a, _ := json.Marshal(args)
	cmd := exec.Command(p, "--allow-run-as-root", "--oversubscribe", "-np", fmt.Sprint(np),
		"-x", "PREFTUNE_CLI_ARGS="+string(a), "-x", "PREFTUNE_CACHE="+t.TempDir(), os.Args[0], "-test.run=^TestHelperCLI$")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestTrainUnderMpirun: `mpirun -np 2 preftune train` trains once (one result line,
// one log line per logged step, outputs written by rank 0), and a config error is
// reported once with exit status 2 and nothing written.
func TestTrainUnderMpirun(t *testing.T) {
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 64, Hidden: 16, Layers: 1, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&data, `{"prompt_input_ids": [%d, 5, 6], "chosen_input_ids": [7, %d], "rejected_input_ids": [%d, 9, 10]}`+"\n", 3+i, 11+i, 20+i)
	}
	dataPath := filepath.Join(dir, "pairs.jsonl")
	os.WriteFile(dataPath, data.Bytes(), 0o644)
	cfg := filepath.Join(dir, "cfg.yaml")
	out := filepath.Join(dir, "out")
	os.WriteFile(cfg, []byte(fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nmax_steps: 4\nlogging_steps: 2\nper_device_train_batch_size: 1\nplot_loss: false\n", modelDir, dataPath, out)), 0o644)

	t.Run("config error", func(t *testing.T) {
		_, stderr, code := mpirunCLI(t, 2, "train", cfg, "--output_dir", filepath.Join(dir, "bad"), "--no_such_key", "1")
		if code != 2 || strings.Count(stderr, "no_such_key (command line): unknown key") != 1 {
			t.Errorf("exit %d, want 2 with one message; stderr:\n%s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
			t.Error("output_dir created for a bad config")
		}
	})
	t.Run("dataset error", func(t *testing.T) {
		// every rank fails in setup and agrees: rank 0 prints once, before any rank exits
		bad := filepath.Join(dir, "bad.jsonl")
		os.WriteFile(bad, []byte(`{"prompt_input_ids": [1], "chosen_input_ids": "x"}`+"\n"), 0o644)
		_, stderr, code := mpirunCLI(t, 2, "train", cfg, "--dataset", bad, "--output_dir", filepath.Join(dir, "bad2"))
		if code != 2 || strings.Count(stderr, "preftune train: ") != 1 || !strings.Contains(stderr, "bad.jsonl") {
			t.Errorf("exit %d, want 2 with one message naming bad.jsonl; stderr:\n%s", code, stderr)
		}
	})
	t.Run("train", func(t *testing.T) {
		stdout, stderr, code := mpirunCLI(t, 2, "train", cfg)
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		if strings.Count(stdout, "trained 4 steps") != 1 || !strings.Contains(stdout, "on 2 ranks") {
			t.Errorf("stdout:\n%s", stdout)
		}
		if n := strings.Count(stderr, "resolved config:"); n != 1 {
			t.Errorf("config printed %d times, want once (rank 0)", n)
		}
		if !strings.Contains(stderr, "communication") {
			t.Errorf("no communication line in:\n%s", stderr)
		}
		log, err := os.ReadFile(filepath.Join(out, "trainer_log.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(log, []byte("\n")); n != 2 {
			t.Errorf("trainer_log.jsonl has %d lines, want 2 (steps 2 and 4):\n%s", n, log)
		}
		if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err != nil {
			t.Error(err)
		}
	})
}
