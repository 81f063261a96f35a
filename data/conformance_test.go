package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConformanceTokens tokenizes every row of dpo_en_demo (LLaMA-Factory's templates
// and TRL's chat-template rules, Qwen2.5's and Llama-3's tokenizers) and of
// ultrafeedback_binarized_200 (TRL's plain-string rules) and compares each row with
// reference/conformance/tokens_ref.py, a re-implementation of LLaMA-Factory's
// pairwise processor / templates / infer_seqlen and of current TRL's DPOTrainer
// tokenization and collator truncation (Jinja2 for the chat templates, tokenizers.js
// for the ids), in ../testdata/conformance/golden/tokens.json.
func TestConformanceTokens(t *testing.T) {
	b, err := os.ReadFile("../testdata/conformance/golden/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Name, Rules, Template, Tokenizer, Dataset string
			MaxLength                                 int `json:"max_length"`
			Refused                                   string
			Rows                                      []struct {
				Row     int
				Dropped bool
				SHA256  string
				Len     []int
				IDs     [][]int32
			}
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no cases")
	}
	specs := map[string]string{
		"dpo_en_demo":                 filepath.Join(prefDir, "llamafactory", "dpo_en_demo.json"),
		"ultrafeedback_binarized_200": filepath.Join(prefDir, "ultrafeedback_binarized_200.jsonl"),
		"trl_tools_dpo":               filepath.Join("..", "testdata", "conformance", "data", "trl_tools_dpo.jsonl"),
		"kto_en_demo":                 filepath.Join(prefDir, "llamafactory", "kto_en_demo.json"),
	}
	loaded := map[string][]Example{}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			native := c.Template == "" || (c.Template == "qwen" && c.Tokenizer == "qwen2.5") || (c.Template == "llama3" && c.Tokenizer == "llama3")
			if testing.Short() && !native {
				t.Skip("-short: only the native templates (qwen on Qwen2.5, llama3 on Llama-3) and TRL's rules")
			}
			exs, ok := loaded[c.Dataset]
			if !ok {
				spec, opts := specs[c.Dataset], Options{Policy: PolicyStrict}
				if c.Dataset == "lf_tools_dpo" {
					spec, opts.DatasetDir = c.Dataset, filepath.Join("..", "testdata", "conformance", "data", "lf")
				}
				ds, err := Load(spec, opts)
				if err != nil {
					t.Fatal(err)
				}
				exs, loaded[c.Dataset] = ds.Examples, ds.Examples
			}
			opts := TokenizeOptions{Rules: c.Rules, Template: c.Template, MaxLength: c.MaxLength, TruncationMode: KeepStart}
			tok, err := LoadTokenizer(filepath.Join("..", "testdata", "tokenizers", c.Tokenizer), opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.Refused != "" {
				// LLaMA-Factory would grow the vocabulary; preftune refuses, naming the template.
				err := tok.Prepare()
				if err == nil || !strings.Contains(err.Error(), "template "+c.Template) {
					t.Fatalf("want a refusal naming template %s (%s), got %v", c.Template, c.Refused, err)
				}
				return
			}
			if len(exs) != len(c.Rows) {
				t.Fatalf("%d examples, the reference has %d rows", len(exs), len(c.Rows))
			}
			tks, rep, err := tok.TokenizeAll(exs, PolicyDrop)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]Tokenized{}
			for _, tk := range tks {
				got[tk.Row] = tk
			}
			same, dropped := 0, 0
			for _, want := range c.Rows {
				tk, ok := got[want.Row]
				if want.Dropped {
					dropped++
					if ok {
						t.Errorf("row %d: tokenized, the reference drops it (prompt fills max_length)", want.Row)
					} else {
						same++
					}
					continue
				}
				if !ok {
					t.Errorf("row %d: not tokenized (%v)", want.Row, rep.Issues)
					continue
				}
				p, ch, rj := nonNil(tk.PromptIDs), nonNil(tk.Completions[0]), []int32{}
				if len(tk.Completions) > 1 {
					rj = nonNil(tk.Completions[1])
				}
				js, _ := json.Marshal([][]int32{p, ch, rj})
				sum := sha256.Sum256(js)
				if hex.EncodeToString(sum[:]) == want.SHA256 {
					same++
					continue
				}
				if want.IDs != nil {
					for k, side := range [][]int32{p, ch, rj} {
						if !reflect.DeepEqual(side, nonNil(want.IDs[k])) {
							t.Errorf("row %d %s: got %v\nwant %v", want.Row, [3]string{"prompt", "chosen", "rejected"}[k], side, want.IDs[k])
						}
					}
				} else {
					t.Errorf("row %d: ids differ: lengths %d/%d/%d, reference %v", want.Row, len(p), len(ch), len(rj), want.Len)
				}
			}
			if same != len(c.Rows) {
				t.Errorf("%d/%d rows token-identical", same, len(c.Rows))
			}
			t.Logf("%d/%d rows token-identical (%d dropped by both)", same, len(c.Rows), dropped)
		})
	}
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
