package train

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/train/config"
)

// TestPrecomputeCache: the second run with the same reference and data reads the
// cached reference log-probs and trains to the same weights as the first.
func TestPrecomputeCache(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 10)
	cache := t.TempDir()
	var outs []string
	var logs []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		l, err := config.Parse([]byte(fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nprecompute_ref_log_probs: true\nper_device_train_batch_size: 5\nmax_steps: 4\nlearning_rate: 1e-3\n", modelDir, dataPath, out)), nil)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if _, err := Run(t.Context(), l, Options{Log: &log, CacheDir: cache}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		logs = append(logs, log.String())
	}
	if !strings.Contains(logs[0], "(cached in ") || !strings.Contains(logs[1], "(read from cache ") {
		t.Errorf("cache not written then read:\nfirst: %s\nsecond: %s", refLine(logs[0]), refLine(logs[1]))
	}
	if !bytes.Equal(fileBytes(t, filepath.Join(outs[0], "model.safetensors")), fileBytes(t, filepath.Join(outs[1], "model.safetensors"))) {
		t.Error("cached reference gives different weights")
	}
	// and the precomputed reference trains exactly like the live frozen copy
	live := filepath.Join(dir, "live")
	if _, err := runConfig(t, fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nper_device_train_batch_size: 5\nmax_steps: 4\nlearning_rate: 1e-3\n", modelDir, dataPath, live)); err != nil {
		t.Fatal(err)
	}
	a, _ := report.ReadLog(filepath.Join(outs[0], "trainer_log.jsonl"))
	b, _ := report.ReadLog(filepath.Join(live, "trainer_log.jsonl"))
	if len(a) != 1 || len(b) != 1 || math.Abs(a[0].Values["loss"]-b[0].Values["loss"]) > 1e-9 {
		t.Errorf("precomputed vs live reference: %v vs %v", a, b)
	}
}

func refLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "reference:") {
			return l
		}
	}
	return ""
}

// TestModes runs the other trainer kinds and strategies end to end on tiny data:
// SFT (token-mean NLL falls), reference_free, a loss list, eval lines, val_size.
func TestModes(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 12)
	cases := []struct {
		name  string
		extra string
		check func(t *testing.T, log []report.Entry, stderr string)
	}{
		{"sft", "stage: sft\nfinetuning_type: full\nmax_steps: 20\nwarmup_steps: 0\nlogging_steps: 1\n", func(t *testing.T, log []report.Entry, _ string) {
			first, last := log[0].Values["loss"], log[len(log)-1].Values["loss"]
			// a random model over 64 tokens starts near ln 64
			if math.Abs(first-math.Log(64)) > 0.1 || !(last < first-0.3) {
				t.Errorf("sft loss %v → %v: want ≈ln 64 falling", first, last)
			}
		}},
		{"reference_free", "reference_free: true\nmax_steps: 2\nlogging_steps: 1\n", func(t *testing.T, log []report.Entry, stderr string) {
			if !strings.Contains(stderr, "reference: none (reference_free") {
				t.Error("reference not reported as none")
			}
			// rewards are β·policy log-probs when the reference is 0
			e := log[0].Values
			if math.Abs(e["rewards/chosen"]-0.1*e["logps/chosen"]) > 1e-9 {
				t.Errorf("rewards/chosen %v ≠ β·logps/chosen %v", e["rewards/chosen"], 0.1*e["logps/chosen"])
			}
		}},
		{"loss list with eval", "loss_type: [sigmoid, sft]\nloss_weights: [1.0, 0.5]\nmax_steps: 4\nlogging_steps: 2\neval_dataset: " + dataPath + "\neval_steps: 2\n", func(t *testing.T, log []report.Entry, _ string) {
			var evals int
			for _, e := range log {
				if _, ok := e.Values["eval_loss"]; ok {
					evals++
					if _, ok := e.Values["eval_rewards/accuracies"]; !ok {
						t.Error("eval line lacks eval_rewards/accuracies")
					}
				}
			}
			if evals != 2 || len(log) != 4 {
				t.Errorf("%d lines with %d eval lines, want 4 with 2", len(log), evals)
			}
		}},
		{"val_size", "val_size: 0.25\nmax_steps: 2\nlogging_steps: 1\neval_strategy: steps\neval_steps: 2\n", func(t *testing.T, log []report.Entry, stderr string) {
			if !strings.Contains(stderr, "data: 9 training examples, 3 evaluation examples") {
				t.Errorf("val split not reported: %s", stderr)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			lr := "1e-3"
			if tc.name == "sft" {
				lr = "1e-2"
			}
			l, err := config.Parse([]byte(fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nper_device_train_batch_size: 4\nlearning_rate: %s\n%s", modelDir, dataPath, out, lr, tc.extra)), nil)
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			if _, err := Run(t.Context(), l, Options{Log: &stderr, CacheDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			log, err := report.ReadLog(filepath.Join(out, "trainer_log.jsonl"))
			if err != nil || len(log) == 0 {
				t.Fatalf("log %v: %v", log, err)
			}
			tc.check(t, log, stderr.String())
		})
	}
}

// TestUnsupported: configurations the engine cannot run fail before training, clearly.
func TestUnsupported(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 4)
	for _, tc := range []struct{ extra, want string }{
		{"stage: kto\nuse_weighting: true\n", "use_weighting"},
		{"loss_type: lipo_listmle\nprecompute_ref_log_probs: true\n", "precompute_ref_log_probs"},
	} {
		_, err := runConfig(t, fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\n%s", modelDir, dataPath, filepath.Join(dir, "o"), tc.extra))
		var se *SetupError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errorsAs(err, &se) {
			t.Errorf("%q: error %v, want a setup error mentioning %q", tc.extra, err, tc.want)
		}
	}
}

func errorsAs(err error, target **SetupError) bool {
	se, ok := err.(*SetupError)
	if ok {
		*target = se
	}
	return ok
}
