package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

const twoPairs = `{"prompt": "The answer is", "chosen": " yes", "rejected": " no"}
{"prompt": "Is it so", "chosen": " yes, sure", "rejected": " no way"}
`

// TestFirstHourMessages: the messages of issue 17, point 7, each with its exit code;
// a failed run leaves no output_dir behind.
func TestFirstHourMessages(t *testing.T) {
	dir := t.TempDir()
	m := gpt2Model(t, dir)
	pairs := writeFile(t, filepath.Join(dir, "pairs.jsonl"), twoPairs)
	empty := writeFile(t, filepath.Join(dir, "empty.jsonl"), "")
	cfg := writeFile(t, filepath.Join(dir, "c.yaml"), "model_name_or_path: "+m+"\ndataset: "+pairs+"\noutput_dir: "+filepath.Join(dir, "out")+"\n")
	badCfg := writeFile(t, filepath.Join(dir, "bad.yaml"), "model_name_or_path: "+m+"\ndataset: "+pairs+"\nbeta: high\n")
	// a datasets.save_to_disk Dataset and DatasetDict
	saved := filepath.Join(dir, "saved")
	os.MkdirAll(saved, 0o755)
	for _, f := range []string{"dataset_info.json", "state.json", "data-00000-of-00001.arrow"} {
		writeFile(t, filepath.Join(saved, f), "{}")
	}
	savedDict := filepath.Join(dir, "saved_dict")
	os.MkdirAll(filepath.Join(savedDict, "train"), 0o755)
	writeFile(t, filepath.Join(savedDict, "dataset_dict.json"), `{"splits": ["train"]}`)
	out := filepath.Join(dir, "out")
	trainWith := func(extra ...string) []string {
		return append([]string{"train", "--model_name_or_path", m, "--output_dir", out}, extra...)
	}
	cases := []struct {
		name    string
		args    []string
		code    int
		want    []string // in stdout+stderr
		notWant []string
	}{
		{"dataset not found", trainWith("--dataset", filepath.Join(dir, "nope.jsonl")), 2,
			[]string{"dataset: " + filepath.Join(dir, "nope.jsonl") + ": no such file or directory (want a JSON, JSONL or Parquet file"},
			[]string{"dataset dataset", "stat "}},
		{"data check not found", []string{"data", "check", "nope.jsonl"}, 2, []string{"nope.jsonl: no such file or directory"}, []string{"stat "}},
		{"empty dataset", trainWith("--dataset", empty), 2, []string{empty + ": no rows (an empty dataset)"}, []string{"map["}},
		{"override blamed on the command line", []string{"train", cfg, "--beta", "high"}, 2,
			[]string{`--beta (command line): "high" is not a number`}, []string{cfg}},
		{"override validation", []string{"train", cfg, "--max_grad_norm", "-1"}, 2, []string{"--max_grad_norm (command line): -1 must be"}, []string{cfg}},
		{"file error still names the file and line", []string{"train", badCfg}, 2, []string{badCfg + ": line 3: beta"}, nil},
		{"one step", []string{"train", cfg, "--max_steps", "1", "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "2"}, 0,
			[]string{"trained 1 step (", "steps: 1 (1 per epoch: 2 micro-batches of 1 pair, 2 per step)",
				"trainable params: ", " || all params: ", " || trainable%: 100.0000"},
			[]string{"1 steps", "1 pairs"}},
		{"judge -h", []string{"judge", "-h"}, 0, []string{"usage: preftune judge --a", "flags:", "-bootstrap"}, []string{"Usage of"}},
		{"tokenize -h", []string{"tokenize", "-h"}, 0, []string{"usage: preftune tokenize --tokenizer DIR", "flags:"}, []string{"Usage of"}},
		{"detokenize -h", []string{"detokenize", "-h"}, 0, []string{"usage: preftune detokenize --tokenizer DIR", "flags:"}, []string{"Usage of"}},
		{"bench -h", []string{"bench", "-h"}, 0, []string{"usage: preftune bench"}, []string{"../shared", "shared/"}},
		{"save_to_disk data check", []string{"data", "check", saved}, 2,
			[]string{saved + " is a Hugging Face datasets save_to_disk folder (a Dataset in Arrow files)", ".to_json("}, []string{"LLaMA-Factory"}},
		{"save_to_disk DatasetDict train", trainWith("--dataset", savedDict), 2, []string{"save_to_disk folder (a DatasetDict", `["train"].to_json(`}, nil},
		{"adapter dir as --model", []string{"score", "--model", filepath.Join("..", "..", "model", "testdata", "qwen2_bias", "adapter"),
			"--ref-model", m, "--data", pairs}, 2, []string{"this is an adapter; use --model .. --adapter"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(out)
			code, stdout, stderr := runCLI(t, tc.args...)
			both := stdout + stderr
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, both)
			}
			for _, w := range tc.want {
				if !strings.Contains(both, w) {
					t.Errorf("output lacks %q:\n%s", w, both)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(both, w) {
					t.Errorf("output has %q:\n%s", w, both)
				}
			}
			if _, err := os.Stat(out); code != 0 && err == nil {
				t.Errorf("the failed run left %s behind", out)
			}
		})
	}
}

// TestWriteFailureExitCodes: a failure to write the output is an internal failure
// (exit 1) in data convert, data sample and export, as in data from-ratings; bad
// input stays exit 2 (issue 17, point 8).
func TestWriteFailureExitCodes(t *testing.T) {
	dir := t.TempDir()
	pairs := writeFile(t, filepath.Join(dir, "pairs.jsonl"), twoPairs)
	blocker := writeFile(t, filepath.Join(dir, "a-file"), "x") // a file where a directory is needed
	unwritable := filepath.Join(blocker, "out.jsonl")
	base := filepath.Join("..", "..", "model", "testdata", "qwen2_bias")
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"convert write failure", []string{"data", "convert", pairs, unwritable, "--to", "trl"}, 1},
		{"convert bad format", []string{"data", "convert", pairs, filepath.Join(dir, "o.jsonl"), "--to", "nope"}, 2},
		{"sample write failure", []string{"data", "sample", pairs, unwritable, "--total", "1", "--ratio", "en=1"}, 1},
		{"export write failure", []string{"export", "--model", base, "--adapter", filepath.Join(base, "adapter"), "--out", filepath.Join(blocker, "merged")}, 1},
		{"export bad adapter", []string{"export", "--model", base, "--adapter", filepath.Join(dir, "none"), "--out", filepath.Join(dir, "merged")}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s%s", code, tc.code, stdout, stderr)
			}
		})
	}
}

// TestScoreEmptyPrompt: score warns about and skips a row with an empty prompt, naming
// file:row, as data check does (issue 17, point 8).
func TestScoreEmptyPrompt(t *testing.T) {
	dir := t.TempDir()
	m := gpt2Model(t, dir)
	pairs := writeFile(t, filepath.Join(dir, "ep.jsonl"), `{"prompt": "", "chosen": " yes", "rejected": " no"}`+"\n"+
		`{"prompt": "Is it", "chosen": " yes", "rejected": " no"}`+"\n")
	code, stdout, stderr := runCLI(t, "score", "--model", m, "--ref-model", m, "--data", pairs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: "+pairs+":1:prompt: empty prompt: row skipped") {
		t.Errorf("stderr lacks the file:row warning:\n%s", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var row map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &row) != nil || row["row"] != 2.0 {
		t.Errorf("stdout %q: want one scored row, row 2", stdout)
	}
	only := writeFile(t, filepath.Join(dir, "only.jsonl"), `{"prompt": "", "chosen": " yes", "rejected": " no"}`+"\n")
	if code, _, stderr := runCLI(t, "score", "--model", m, "--ref-model", m, "--data", only); code != 2 || !strings.Contains(stderr, only+":1") {
		t.Errorf("every prompt empty: exit %d, %s", code, stderr)
	}
}

// TestResumeExtendsMaxSteps: resuming with a larger max_steps continues to it, as HF
// Trainer does; the learning rate after the restored step follows the new total: it
// equals a fresh run's of that many steps (issue 17, point 7).
func TestResumeExtendsMaxSteps(t *testing.T) {
	dir := t.TempDir()
	m := gpt2Model(t, dir)
	pairs := writeFile(t, filepath.Join(dir, "pairs.jsonl"), twoPairs)
	common := []string{"--model_name_or_path", m, "--dataset", pairs, "--per_device_train_batch_size", "1",
		"--logging_steps", "1", "--lr_scheduler_type", "linear", "--learning_rate", "1e-3", "--num_train_epochs", "10"}
	lrs := func(out string) map[int]float64 {
		raw, err := os.ReadFile(filepath.Join(out, "trainer_log.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]float64{}
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var e map[string]float64
			if json.Unmarshal([]byte(l), &e) == nil {
				if lr, ok := e["learning_rate"]; ok {
					got[int(e["step"])] = lr
				}
			}
		}
		return got
	}
	a := filepath.Join(dir, "a")
	if code, _, stderr := runCLI(t, append([]string{"train", "--output_dir", a, "--max_steps", "2", "--save_steps", "1"}, common...)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	code, _, stderr := runCLI(t, append([]string{"train", "--output_dir", a, "--max_steps", "4", "--save_steps", "1", "--resume_from_checkpoint", filepath.Join(a, "checkpoint-1")}, common...)...)
	if code != 0 {
		t.Fatalf("resume to 4 steps: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "continuing from step 1 to 4") {
		t.Errorf("no resume note:\n%s", stderr)
	}
	fresh := filepath.Join(dir, "fresh")
	if code, _, stderr := runCLI(t, append([]string{"train", "--output_dir", fresh, "--max_steps", "4"}, common...)...); code != 0 {
		t.Fatalf("fresh run: exit %d\n%s", code, stderr)
	}
	got, want := lrs(a), lrs(fresh)
	for s := 2; s <= 4; s++ {
		if _, ok := got[s]; !ok || !(got[s] == want[s]) {
			t.Errorf("step %d: resumed lr %v, fresh 4-step lr %v", s, got[s], want[s])
		}
	}
}

// TestAdapterBaseFromAnotherDirectory: a LoRA adapter trained with a relative
// model_name_or_path records the base as an absolute path, so it loads from another
// working directory, with --model taken from it when left out (issue 17, point 4).
func TestAdapterBaseFromAnotherDirectory(t *testing.T) {
	dir := t.TempDir()
	m := gpt2Model(t, dir)
	pairs := writeFile(t, filepath.Join(dir, "pairs.jsonl"), twoPairs)
	t.Chdir(dir)
	if code, _, stderr := runCLI(t, "train", "--model_name_or_path", filepath.Base(m), "--dataset", "pairs.jsonl", "--output_dir", "out",
		"--finetuning_type", "lora", "--max_steps", "1"); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "out", "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ac map[string]any
	if err := json.Unmarshal(raw, &ac); err != nil {
		t.Fatal(err)
	}
	if ac["base_model_name_or_path"] != m {
		t.Errorf("base_model_name_or_path %v, want the absolute %s", ac["base_model_name_or_path"], m)
	}
	t.Chdir(t.TempDir())
	code, stdout, stderr := runCLI(t, "score", "--adapter", filepath.Join(dir, "out"), "--data", pairs)
	if code != 0 {
		t.Fatalf("score from another directory without --model: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "--model: "+m+" (the adapter's base_model_name_or_path)") || strings.Count(stdout, "\n") != 2 {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
}
