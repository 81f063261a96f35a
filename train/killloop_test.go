package train

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preftune/preftune/train/config"
)

// TestHelperKillLoopChild is the child of TestKillLoop (nothing unless
// PREFTUNE_KILL_CHILD is set): one training run of the config, resumed when asked.
func TestHelperKillLoopChild(t *testing.T) {
	path := os.Getenv("PREFTUNE_KILL_CHILD")
	if path == "" {
		t.Skip("helper process")
	}
	var over []string
	if os.Getenv("PREFTUNE_KILL_CHILD_RESUME") != "" {
		over = []string{"--resume_from_checkpoint", "true"}
	}
	l, err := config.LoadFile(path, over)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(t.Context(), l, Options{}); err != nil {
		t.Fatal(err)
	}
}

// writingCheckpoint reports whether a checkpoint or the final outputs are being
// written in out (a staging directory exists).
func writingCheckpoint(out string) bool {
	es, _ := os.ReadDir(out)
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".tmp") {
			return true
		}
	}
	return false
}

// TestKillLoop kills training children with SIGKILL at random moments — half of them
// while a checkpoint (or the final set) is being staged — and after each kill continues
// as a user would: resume when a complete checkpoint exists, start again when none
// does. Every child that is not killed must succeed (no state that looks complete
// fails to load), and every episode must end with the uninterrupted run's weights and
// log, byte for byte. At least 30 kills (8 with -short).
func TestKillLoop(t *testing.T) {
	minKills := 30
	if testing.Short() {
		minKills = 8
	}
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 20)
	ref := filepath.Join(dir, "uninterrupted")
	if _, err := runConfig(t, resumeYAML(modelDir, dataPath, ref)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(20261203, 16))
	start := func(cfg string, resume bool) (*exec.Cmd, chan error, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKillLoopChild$")
		cmd.Env = append(os.Environ(), "PREFTUNE_KILL_CHILD="+cfg, "OPENBLAS_NUM_THREADS=1")
		if resume {
			cmd.Env = append(cmd.Env, "PREFTUNE_KILL_CHILD_RESUME=1")
		}
		var stderr bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done, &stderr
	}
	// the duration of one uninterrupted child run sets the range of kill moments
	probe := filepath.Join(dir, "probe")
	probeCfg := filepath.Join(dir, "probe.yaml")
	if err := os.WriteFile(probeCfg, []byte(resumeYAML(modelDir, dataPath, probe)), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	_, done, stderr := start(probeCfg, false)
	if err := <-done; err != nil {
		t.Fatalf("probe run: %v\n%s", err, stderr)
	}
	full := time.Since(t0)
	t.Logf("one child run: %v", full.Round(time.Millisecond))

	kills, duringWrites, resumes, restarts, episodes := 0, 0, 0, 0, 0
	for kills < minKills {
		episodes++
		out := filepath.Join(dir, "episode", fmt.Sprint(episodes))
		cfg := out + ".yaml"
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, []byte(resumeYAML(modelDir, dataPath, out)), 0o644); err != nil {
			t.Fatal(err)
		}
		for attempt := 0; ; attempt++ {
			if attempt > 50 {
				t.Fatalf("episode %d: no end after 50 runs", episodes)
			}
			steps, err := listCheckpoints(out)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			resume := len(steps) > 0
			if attempt > 0 {
				if resume {
					resumes++
				} else {
					restarts++
				}
			}
			cmd, done, stderr := start(cfg, resume)
			atWrite := rng.IntN(2) == 0
			deadline := time.After(time.Duration(rng.Float64() * 1.2 * float64(full)))
			killed := false
		wait:
			for {
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("episode %d run %d (resume %v, checkpoints %v) failed on its own: %v\n%s", episodes, attempt, resume, steps, err, stderr)
					}
					break wait
				case <-deadline:
					if atWrite {
						continue
					}
					killed = true
				case <-time.After(time.Millisecond):
					if !atWrite || !writingCheckpoint(out) {
						continue
					}
					time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
					killed = true
				}
				if killed {
					during := writingCheckpoint(out)
					if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
						t.Fatal(err)
					}
					if err := <-done; err == nil {
						killed = false // it had finished
					} else {
						kills++
						if during {
							duringWrites++
						}
					}
					break wait
				}
			}
			if !killed {
				break // the run finished
			}
		}
		for _, f := range []string{"model.safetensors", "trainer_log.jsonl", resultsFile} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Fatalf("episode %d ended without %s", episodes, f)
			}
		}
		sameOutputs(t, ref, out, "model.safetensors")
	}
	t.Logf("kill -9 loop: %d kills (%d while a checkpoint or the final set was staged), %d resumes, %d fresh restarts, %d episodes, all bit-exact",
		kills, duringWrites, resumes, restarts, episodes)
}
