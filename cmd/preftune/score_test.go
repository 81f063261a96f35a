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

// The expected rewards come from the PyTorch goldens of reference/model/gen_fixtures.py:
// full.seq_logps are the base model's completion sums, lora.seq_logps the same with the
// fixture's adapter (chosen rows, then rejected rows).
func TestScoreMatchesGoldenRewards(t *testing.T) {
	const beta = 0.25
	for _, name := range []string{"llama_gqa", "qwen3_qknorm"} {
		dir := fixtureDir(name)
		raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		var g logpsGolden
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		merged := filepath.Join(t.TempDir(), "merged")
		var so, se bytes.Buffer
		if code := run([]string{"export", "--model", dir, "--adapter", filepath.Join(dir, "adapter"), "--out", merged}, nil, &so, &se); code != 0 {
			t.Fatalf("%s: export exit %d: %s", name, code, se.String())
		}
		for _, form := range []struct {
			name string
			args []string
		}{
			{"adapter", []string{"--model", dir, "--adapter", filepath.Join(dir, "adapter")}},
			{"ref-model", []string{"--model", merged, "--ref-model", dir}},
		} {
			t.Run(name+"/"+form.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "scores.jsonl")
				args := append([]string{"score", "--data", filepath.Join(dir, "pairs.jsonl"), "--beta", "0.25", "--out", out, "--batch-size", "3", "--threads", "1"}, form.args...)
				var so, se bytes.Buffer
				if code := run(args, nil, &so, &se); code != 0 {
					t.Fatalf("exit %d: %s", code, se.String())
				}
				rows := readJSONL(t, out)
				if len(rows) != g.NPairs {
					t.Fatalf("%d rows, want %d", len(rows), g.NPairs)
				}
				n := g.NPairs
				for i, r := range rows {
					wc := beta * (g.LoRA.SeqLogps[i] - g.Full.SeqLogps[i])
					wr := beta * (g.LoRA.SeqLogps[n+i] - g.Full.SeqLogps[n+i])
					wp := 1 / (1 + math.Exp(-(wc - wr)))
					for _, c := range []struct {
						key  string
						want float64
					}{{"chosen_reward", wc}, {"rejected_reward", wr}, {"p_chosen", wp}, {"ref_chosen_logps", g.Full.SeqLogps[i]}} {
						got, ok := r[c.key].(float64)
						if !ok || math.Abs(got-c.want) > 2e-5*math.Max(1, math.Abs(c.want)) {
							t.Errorf("row %d %s = %v, want %.8g", i+1, c.key, r[c.key], c.want)
						}
					}
					if int(r["row"].(float64)) != i+1 {
						t.Errorf("row %d: row field %v", i+1, r["row"])
					}
				}
			})
		}
	}
}

func TestScoreBadInput(t *testing.T) {
	dir := fixtureDir("llama_gqa") // vocab 96
	tests := []struct {
		name, data string
		args       []string
		want       string
	}{
		{"both references", "", []string{"--ref-model", dir, "--adapter", dir}, "exactly one of --ref-model and --adapter"},
		{"no reference", "", nil, "exactly one of --ref-model and --adapter"},
		{"id outside vocab", `{"prompt_input_ids":[5],"chosen_input_ids":[7],"rejected_input_ids":[96]}`, []string{"--ref-model", dir}, "data.jsonl:1"},
		{"missing field", `{"prompt_input_ids":[5],"chosen_input_ids":[7]}`, []string{"--ref-model", dir}, "data.jsonl:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			path := filepath.Join(tmp, "data.jsonl")
			if err := os.WriteFile(path, []byte(tc.data+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(tmp, "out.jsonl")
			args := append([]string{"score", "--model", dir, "--data", path, "--out", out}, tc.args...)
			var so, se bytes.Buffer
			if code := run(args, nil, &so, &se); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, se.String())
			}
			if !strings.Contains(se.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", se.String(), tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output file left behind")
			}
		})
	}
}
