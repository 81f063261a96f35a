package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestScoreSummaryAndAdapterBeta: score ends with the mean reward accuracy and margin
// of the PyTorch golden rewards, and takes β from the adapter's training_args.yaml
// (pref_beta here, as LLaMA-Factory writes it; from the run dir for checkpoint-N)
// unless --beta is given.
func TestScoreSummaryAndAdapterBeta(t *testing.T) {
	dir := fixtureDir("llama_gqa")
	var g logpsGolden
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	run0 := t.TempDir()
	adapter := filepath.Join(run0, "checkpoint-7")
	if err := os.MkdirAll(adapter, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(dir, "adapter", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(adapter, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(run0, "training_args.yaml"), []byte("stage: dpo\npref_beta: 0.4\n"), 0o644)

	summary := regexp.MustCompile(`(?m)^score: (\d+) pairs, beta ([0-9.e+-]+) \(([^)]*\)?)\): mean reward accuracy ([0-9.]+), mean margin ([0-9.e+-]+)`)
	for _, c := range []struct {
		name     string
		args     []string
		beta     float64
		betaFrom string
	}{
		{"from training_args.yaml", nil, 0.4, "training_args.yaml (pref_beta)"},
		{"--beta wins", []string{"--beta", "0.25"}, 0.25, "--beta"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var so, se bytes.Buffer
			args := append([]string{"score", "--model", dir, "--adapter", adapter, "--data", filepath.Join(dir, "pairs.jsonl"), "--threads", "1"}, c.args...)
			if code := run(args, nil, &so, &se); code != 0 {
				t.Fatalf("exit %d: %s", code, se.String())
			}
			lines := strings.Split(strings.TrimSpace(se.String()), "\n")
			m := summary.FindStringSubmatch(lines[len(lines)-1])
			if m == nil {
				t.Fatalf("last stderr line %q is not the summary", lines[len(lines)-1])
			}
			n := g.NPairs
			correct, margin := 0, 0.0
			for i := 0; i < n; i++ {
				wc := c.beta * (g.LoRA.SeqLogps[i] - g.Full.SeqLogps[i])
				wr := c.beta * (g.LoRA.SeqLogps[n+i] - g.Full.SeqLogps[n+i])
				if wc > wr {
					correct++
				}
				margin += (wc - wr) / float64(n)
			}
			gotN, _ := strconv.Atoi(m[1])
			gotBeta, _ := strconv.ParseFloat(m[2], 64)
			acc, _ := strconv.ParseFloat(m[4], 64)
			mar, _ := strconv.ParseFloat(m[5], 64)
			if gotN != n || gotBeta != c.beta || !strings.Contains(m[3], c.betaFrom) {
				t.Errorf("summary %q: want %d pairs, beta %v from %s", m[0], n, c.beta, c.betaFrom)
			}
			if d := math.Abs(acc - float64(correct)/float64(n)); !(d <= 1e-4) {
				t.Errorf("accuracy %v, golden %v", acc, float64(correct)/float64(n))
			}
			if d := math.Abs(mar - margin); !(d <= 1e-4*math.Max(1, math.Abs(margin))) {
				t.Errorf("margin %v, golden %v", mar, margin)
			}
			rows := bytes.Split(bytes.TrimSpace(so.Bytes()), []byte("\n"))
			var r0 map[string]float64
			json.Unmarshal(rows[0], &r0)
			if w := c.beta * (g.LoRA.SeqLogps[0] - g.Full.SeqLogps[0]); !(math.Abs(r0["chosen_reward"]-w) <= 2e-5*math.Max(1, math.Abs(w))) {
				t.Errorf("row 1 chosen_reward %v, want %v (beta %v)", r0["chosen_reward"], w, c.beta)
			}
		})
	}
	os.WriteFile(filepath.Join(run0, "training_args.yaml"), []byte("beta: -1\n"), 0o644)
	var so, se bytes.Buffer
	if code := run([]string{"score", "--model", dir, "--adapter", adapter, "--data", filepath.Join(dir, "pairs.jsonl")}, nil, &so, &se); code != 2 || !strings.Contains(se.String(), "training_args.yaml: beta") {
		t.Errorf("bad beta in training_args.yaml: exit %d, %s", code, se.String())
	}
}
