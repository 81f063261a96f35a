package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEvalCommand: `preftune eval CONFIG`, `preftune eval --config CONFIG` and
// `preftune train` with do_train: false write the same eval_results.json with TRL's
// keys and print them; a config without an eval split is bad input.
func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	trained := filepath.Join(dir, "trained")
	cfg := tinyRun(t, dir, 8, trained, "finetuning_type: lora\nlora_rank: 4\nlora_target: all\n")
	var so, se bytes.Buffer
	if code := run([]string{"train", cfg}, nil, &so, &se); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, se.String())
	}
	evalCfg := filepath.Join(dir, "eval.yaml")
	y := "model_name_or_path: " + filepath.Join(dir, "model") + "\nadapter_name_or_path: " + trained + "\nfinetuning_type: lora\neval_dataset: " +
		filepath.Join(dir, "pairs.jsonl") + "\noutput_dir: " + filepath.Join(dir, "ev1") + "\n"
	if err := os.WriteFile(evalCfg, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	results := map[string]map[string]float64{}
	for name, args := range map[string][]string{
		"eval":  {"eval", evalCfg},
		"train": {"train", evalCfg, "--do_train", "false", "--do_eval", "true", "--output_dir", filepath.Join(dir, "ev2")},
		"trl":   {"eval", "--config", evalCfg, "--output_dir", filepath.Join(dir, "ev3")}, // TRL's form, as train takes it
	} {
		so.Reset()
		se.Reset()
		if code := run(args, nil, &so, &se); code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, code, se.String())
		}
		out := filepath.Join(dir, map[string]string{"eval": "ev1", "train": "ev2", "trl": "ev3"}[name])
		raw, err := os.ReadFile(filepath.Join(out, "eval_results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]float64
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"eval_loss", "eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/accuracies", "eval_rewards/margins",
			"eval_logps/chosen", "eval_logps/rejected", "eval_logits/chosen", "eval_logits/rejected", "eval_runtime"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: eval_results.json lacks %s", name, k)
			}
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + `: `).MatchString(so.String()) {
				t.Errorf("%s: stdout lacks %s:\n%s", name, k, so.String())
			}
		}
		if _, err := os.Stat(filepath.Join(out, "trainer_log.jsonl")); err == nil {
			t.Errorf("%s: an evaluation wrote trainer_log.jsonl", name)
		}
		delete(m, "eval_runtime")
		delete(m, "eval_samples_per_second")
		delete(m, "eval_steps_per_second")
		results[name] = m
	}
	for k, v := range results["eval"] {
		for _, other := range []string{"train", "trl"} {
			if w, ok := results[other][k]; !ok || !(v == w) {
				t.Errorf("%s: eval %v, %s form %v", k, v, other, w)
			}
		}
	}
	if results["eval"]["eval_rewards/margins"] == 0 {
		t.Error("the adapter changed nothing: margins 0")
	}

	noEval := filepath.Join(dir, "noeval.yaml")
	os.WriteFile(noEval, []byte(strings.Replace(y, "eval_dataset:", "dataset:", 1)), 0o644)
	se.Reset()
	if code := run([]string{"eval", noEval}, nil, &so, &se); code != 2 || !strings.Contains(se.String(), "eval_dataset") {
		t.Errorf("no eval split: exit %d, %s", code, se.String())
	}
}

func TestVersionCommand(t *testing.T) {
	var so, se bytes.Buffer
	if code := run([]string{"version"}, nil, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	lines := strings.Split(strings.TrimSpace(so.String()), "\n")
	prefixes := []string{"preftune ", "go: go", "commit: ", "backend: cpu"}
	if len(lines) != len(prefixes) {
		t.Fatalf("version printed %q", so.String())
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d %q, want prefix %q", i+1, lines[i], p)
		}
	}
	if code := run([]string{"version", "x"}, nil, &so, &se); code != 2 {
		t.Errorf("version x: exit %d, want 2", code)
	}
}
