package train

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/preftune/preftune/train/config"
)

// splitDir writes a dataset directory laid out as trl-lib/ultrafeedback_binarized is on
// the Hub (data/train-00000-of-00001.*, data/test-00000-of-00001.*) from the first
// nTrain and the next rows of a pairs file.
func splitDir(t *testing.T, dir, pairs string, nTrain int) (root, trainFile, testFile string) {
	t.Helper()
	b, err := os.ReadFile(pairs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	root = filepath.Join(dir, "uf")
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	trainFile = filepath.Join(root, "data", "train-00000-of-00001.jsonl")
	testFile = filepath.Join(root, "data", "test-00000-of-00001.jsonl")
	if err := os.WriteFile(trainFile, []byte(strings.Join(lines[:nTrain], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testFile, []byte(strings.Join(lines[nTrain:], "")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, trainFile, testFile
}

func TestLocalSplitFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(rel ...string) string {
		d, err := os.MkdirTemp(dir, "ds")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rel {
			p := filepath.Join(d, filepath.FromSlash(r))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		files  []string
		split  string
		strict bool
		want   []string // nil: not a split directory (ok false)
		err    string
	}{
		{"hub layout train", []string{"data/train-00000-of-00001.jsonl", "data/test-00000-of-00001.jsonl", "README.md"}, "train", false, []string{"data/train-00000-of-00001.jsonl"}, ""},
		{"hub layout test", []string{"data/train-00000-of-00001.jsonl", "data/test-00000-of-00001.jsonl"}, "test", true, []string{"data/test-00000-of-00001.jsonl"}, ""},
		{"file names", []string{"train.jsonl", "test.jsonl"}, "test", false, []string{"test.jsonl"}, ""},
		{"valid is validation", []string{"train.json", "my_valid.json"}, "validation", false, []string{"my_valid.json"}, ""},
		{"plain dir is the dataset", []string{"a.jsonl", "b.jsonl"}, "train", false, nil, ""},
		{"plain dir, user eval_dataset", []string{"a.jsonl"}, "test", false, nil, ""},
		{"TRL eval without a test split", []string{"a.jsonl"}, "test", true, nil, `no split "test" (splits of its files: train)`},
		{"missing split", []string{"train.jsonl", "test.jsonl"}, "validation", false, nil, `no split "validation"`},
		{"LLaMA-Factory dataset_dir", []string{"dataset_info.json", "train.json", "test.json"}, "train", false, nil, ""},
		{"hidden files skipped", []string{"train.jsonl", "test.jsonl", ".cache/test-x.jsonl"}, "test", false, []string{"test.jsonl"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := write(tc.files...)
			got, ok, err := localSplitFiles(d, tc.split, tc.strict)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, filepath.Join(d, filepath.FromSlash(w)))
			}
			if ok != (tc.want != nil) || !slices.Equal(got, want) {
				t.Errorf("got %v ok %v, want %v", got, ok, want)
			}
		})
	}
	if _, ok, err := localSplitFiles(filepath.Join(dir, "nope.jsonl"), "train", true); ok || err != nil {
		t.Errorf("a missing path: ok %v err %v, want it left to data.Load", ok, err)
	}
}

func runLogged(t *testing.T, yaml string) (string, error) {
	t.Helper()
	l, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		return "", err
	}
	var log bytes.Buffer
	_, err = Run(context.Background(), l, Options{Log: &log, CacheDir: t.TempDir(), Backend: testBackend})
	return log.String(), err
}

// TestTRLEvalOnTestSplit: a TRL script's `--dataset_name DIR --eval_strategy steps` on a
// directory laid out as trl-lib/ultrafeedback_binarized trains on the train split only
// and evaluates on the test split: the run matches, byte for byte, the run given the
// train file as dataset and the test file as eval_dataset, and differs from one that
// evaluates on the train file.
func TestTRLEvalOnTestSplit(t *testing.T) {
	dir := t.TempDir()
	modelDir, pairs := fixture(t, dir, 11)
	root, trainFile, testFile := splitDir(t, dir, pairs, 8)
	yaml := func(out, ds, eval string) string {
		y := fmt.Sprintf("model_name_or_path: %s\ndataset_name: %s\noutput_dir: %s\neval_strategy: steps\neval_steps: 1\nlearning_rate: 1e-2\nper_device_train_batch_size: 4\nmax_steps: 2\nlogging_steps: 1\nprecompute_ref_log_probs: true\nlr_scheduler_type: constant\n",
			modelDir, ds, out)
		if eval != "" {
			y += "eval_dataset: " + eval + "\n"
		}
		return y
	}
	split := filepath.Join(dir, "split")
	log, err := runLogged(t, yaml(split, root, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dataset: " + root + " (split train) -> " + trainFile,
		"eval_dataset: " + root + " (split test) -> " + testFile,
		"data: 8 training examples, 3 evaluation examples",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	files := filepath.Join(dir, "files")
	if _, err := runLogged(t, yaml(files, trainFile, testFile)); err != nil {
		t.Fatal(err)
	}
	onTrain := filepath.Join(dir, "ontrain")
	if _, err := runLogged(t, yaml(onTrain, trainFile, trainFile)); err != nil {
		t.Fatal(err)
	}
	logA := fileBytes(t, filepath.Join(split, "trainer_log.jsonl"))
	if !bytes.Contains(logA, []byte(`"eval_loss"`)) {
		t.Fatalf("no evaluation logged:\n%s", logA)
	}
	for _, f := range []string{"model.safetensors", "trainer_log.jsonl"} {
		if !bytes.Equal(fileBytes(t, filepath.Join(split, f)), fileBytes(t, filepath.Join(files, f))) {
			t.Errorf("%s: the split directory run differs from train file + test file", f)
		}
	}
	if bytes.Equal(logA, fileBytes(t, filepath.Join(onTrain, "trainer_log.jsonl"))) {
		t.Error("evaluating on the train split logs the same as on the test split: the check cannot tell them apart")
	}
	// a directory without a test split: refused, naming eval_dataset
	only := filepath.Join(dir, "only")
	os.MkdirAll(only, 0o755)
	if err := os.WriteFile(filepath.Join(only, "train.jsonl"), fileBytes(t, trainFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runLogged(t, yaml(filepath.Join(dir, "o"), only, "")); err == nil || !strings.Contains(err.Error(), "eval_dataset") || !strings.Contains(err.Error(), `no split "test"`) {
		t.Errorf("a directory without a test split: %v", err)
	}
}
