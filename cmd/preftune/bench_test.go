package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchData writes n copies of the fixture's first pair (enough rows for any step count).
func benchData(t *testing.T, name string, n int) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir(name), "pairs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(raw), "\n", 2)[0]
	path := filepath.Join(t.TempDir(), "pairs.jsonl")
	if err := os.WriteFile(path, []byte(strings.Repeat(first+"\n", n)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every mode prints one JSON line with the peer's keys; the fast layouts give the
// plain layout's loss (same pairs, same steps, same updates).
func TestBench(t *testing.T) {
	data := benchData(t, "llama_gqa", 8)
	loss := map[string]float64{}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", []string{"--plain"}},
		{"fast", nil},
		{"lora-live", []string{"--lora-r", "4", "--ref", "live"}},
		{"lora-live-plain", []string{"--lora-r", "4", "--ref", "live", "--plain"}},
		{"full-live", []string{"--ref", "live", "--checkpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench", "--model", fixtureDir("llama_gqa"), "--data", data, "--steps", "3", "--threads", "2", "--lr", "1e-2"}, tc.args...)
			var so, se bytes.Buffer
			if code := run(args, nil, &so, &se); code != 0 {
				t.Fatalf("exit %d: %s", code, se.String())
			}
			var res map[string]any
			if err := json.Unmarshal(so.Bytes(), &res); err != nil {
				t.Fatalf("%v: %q", err, so.String())
			}
			for _, k := range []string{"step_s_median", "pairs_per_s", "tokens_per_s", "peak_rss_mb", "gflops", "mfu", "last_loss"} {
				if v, ok := res[k].(float64); !ok || !(v >= 0) {
					t.Errorf("%s = %v", k, res[k])
				}
			}
			if res["steps"].(float64) != 3 {
				t.Errorf("steps = %v", res["steps"])
			}
			loss[tc.name] = res["last_loss"].(float64)
		})
	}
	for _, k := range []string{"fast"} {
		if !(math.Abs(loss[k]-loss["plain"]) <= 1e-5) {
			t.Errorf("%s layout: last loss %v, plain %v", k, loss[k], loss["plain"])
		}
	}
	if !(math.Abs(loss["lora-live"]-loss["lora-live-plain"]) <= 1e-5) {
		t.Errorf("LoRA: last loss %v, plain %v", loss["lora-live"], loss["lora-live-plain"])
	}
}

func TestBenchBadInput(t *testing.T) {
	data := benchData(t, "llama_gqa", 3)
	for _, args := range [][]string{
		{"bench", "--data", data},
		{"bench", "--model", fixtureDir("llama_gqa")},
		{"bench", "--model", fixtureDir("llama_gqa"), "--data", data, "--ref", "sometimes"},
		{"bench", "--model", fixtureDir("llama_gqa"), "--data", data, "--batch-pairs", "0"},
	} {
		var so, se bytes.Buffer
		if code := run(args, nil, &so, &se); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, se.String())
		}
	}
}
