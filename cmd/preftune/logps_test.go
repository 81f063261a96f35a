package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The goldens are model/testdata/<case>/golden.json, written by
// reference/model/gen_fixtures.py (PyTorch): seq_logps holds the completion sums of
// the chosen rows, then the rejected rows.
type logpsGolden struct {
	NPairs int `json:"n_pairs"`
	Full   struct {
		SeqLogps []float64 `json:"seq_logps"`
	} `json:"full"`
	LoRA struct {
		SeqLogps []float64 `json:"seq_logps"`
	} `json:"lora"`
}

func fixtureDir(name string) string { return filepath.Join("..", "..", "model", "testdata", name) }

func TestLogpsGoldens(t *testing.T) {
	tests := []struct {
		name    string
		adapter bool
		batch   string
	}{
		{"llama_gqa", false, "1"},
		{"llama_gqa", true, "2"},
		{"qwen2_bias", false, "8"},
		{"qwen3_qknorm", true, "2"},
		{"mistral_window", false, "2"},
		{"llama_bf16", true, "3"},
		// bitsandbytes 4-bit checkpoints (reference/quant/gen_bnb_model.py): float64 forwards over the dequantized weights
		{"llama_bnb4_nf4", false, "2"},
		{"llama_bnb4_nf4_dq", true, "3"},
		{"llama_bnb4_fp4_dq", false, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name+map[bool]string{false: "", true: "+adapter"}[tc.adapter], func(t *testing.T) {
			dir := fixtureDir(tc.name)
			raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g logpsGolden
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatal(err)
			}
			want := g.Full.SeqLogps
			out := filepath.Join(t.TempDir(), "out.jsonl")
			args := []string{"logps", "--model", dir, "--data", filepath.Join(dir, "pairs.jsonl"), "--out", out, "--batch-size", tc.batch, "--threads", "1", "--compute-dtype", "float32"}
			if tc.adapter {
				args = append(args, "--adapter", filepath.Join(dir, "adapter"))
				want = g.LoRA.SeqLogps
			}
			var so, se bytes.Buffer
			if code := run(args, nil, &so, &se); code != 0 {
				t.Fatalf("exit %d: %s", code, se.String())
			}
			rows := readJSONL(t, out)
			if len(rows) != g.NPairs {
				t.Fatalf("%d output rows, want %d", len(rows), g.NPairs)
			}
			pairs := readJSONL(t, filepath.Join(dir, "pairs.jsonl"))
			for i, r := range rows {
				for _, c := range []struct {
					key  string
					want float64
				}{{"chosen_logps", want[i]}, {"rejected_logps", want[g.NPairs+i]}} {
					got := r[c.key].(float64)
					if !(math.Abs(got-c.want) <= 1e-5*math.Max(1, math.Abs(c.want))) {
						t.Errorf("row %d %s = %.8g, want %.8g", i+1, c.key, got, c.want)
					}
				}
				if got, want := r["chosen_tokens"].(float64), len(pairs[i]["chosen_input_ids"].([]any)); int(got) != want {
					t.Errorf("row %d chosen_tokens = %v, want %d", i+1, got, want)
				}
				if got, want := r["rejected_tokens"].(float64), len(pairs[i]["rejected_input_ids"].([]any)); int(got) != want {
					t.Errorf("row %d rejected_tokens = %v, want %d", i+1, got, want)
				}
			}
		})
	}
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogpsBadInput(t *testing.T) {
	dir := fixtureDir("llama_gqa") // vocab 96, max_position_embeddings 64
	good := `{"prompt_input_ids":[5,6],"chosen_input_ids":[7],"rejected_input_ids":[8,9]}`
	long := strings.TrimSuffix(strings.Repeat("3,", 64), ",")
	tests := []struct {
		name, data, want string
		extra            []string
	}{
		{"id ≥ vocab", good + "\n" + `{"prompt_input_ids":[5],"chosen_input_ids":[96],"rejected_input_ids":[8]}`, "data.jsonl:2: chosen_input_ids[0]: token id 96 outside the vocabulary [0,96)", nil},
		{"empty completion", good + "\n\n" + `{"prompt_input_ids":[5],"chosen_input_ids":[7],"rejected_input_ids":[]}`, "data.jsonl:3: rejected_input_ids: empty completion", nil},
		{"too long", `{"prompt_input_ids":[` + long + `],"chosen_input_ids":[7],"rejected_input_ids":[8]}`, "data.jsonl:1: chosen_input_ids: prompt + completion is 65 tokens, longer than max_position_embeddings 64", nil},
		{"missing field", `{"prompt_input_ids":[5],"chosen_input_ids":[7]}`, "data.jsonl:1: rejected_input_ids: missing", nil},
		{"not JSON", good + "\n{", "data.jsonl:2: invalid JSON", nil},
		{"empty prompt", `{"prompt_input_ids":[],"chosen_input_ids":[7],"rejected_input_ids":[8]}`, "data.jsonl:1: prompt_input_ids: empty", nil},
		{"no rows", "\n", "data.jsonl: no rows", nil},
		{"bad batch size", good, "--batch-size", []string{"--batch-size", "0"}},
		{"missing adapter", good, "--adapter", []string{"--adapter", "nowhere"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			data := filepath.Join(tmp, "data.jsonl")
			if err := os.WriteFile(data, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(tmp, "out.jsonl")
			var so, se bytes.Buffer
			args := append([]string{"logps", "--model", dir, "--data", data, "--out", out, "--threads", "1"}, tc.extra...)
			if code := run(args, nil, &so, &se); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, se.String())
			}
			if !strings.Contains(se.String(), tc.want) {
				t.Errorf("stderr %q does not contain %q", se.String(), tc.want)
			}
			entries, _ := os.ReadDir(tmp)
			if len(entries) != 1 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}
