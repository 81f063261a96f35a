package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/hf/hub"
)

// The conformance suite: real example configs of LLaMA-Factory and documented configs
// and commands of TRL, copied into testdata/conformance/cases with only paths changed
// (testdata/conformance/PROVENANCE.md). For each case: the trainer chosen, that the
// keys took effect (values as LLaMA-Factory/TRL read them), and, where the reference
// has the case, the tokens of every row against reference/conformance/tokens_ref.py.
// A case that preftune cannot run must be refused with an error naming the key.

type confCase struct {
	file   string
	launch string // for YAML run through a TRL CLI: "trl dpo", ...
	refuse string // the key the error must name; "" when the case must run
	loss   []string
	kind   string
	keys   map[string]any // config key → value it must have taken
	tokens string         // golden case of testdata/conformance/golden/tokens.json
}

// lfDPO are the keys every LLaMA-Factory DPO/reward example sets and how they must land.
func lfKeys(extra map[string]any) map[string]any {
	m := map[string]any{"finetuning_type": "lora", "lora_target": []string{"all"}, "lora_rank": 8,
		"lora_alpha": 16.0, "lora_dropout": 0.0, "max_samples": 1000, "per_device_train_batch_size": 1,
		"gradient_accumulation_steps": 8, "num_train_epochs": 3.0, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1,
		"save_steps": 500.0, "logging_steps": 10.0, "plot_loss": true, "max_prompt_length": 0}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// lfV071Keys are the keys of LLaMA-Factory v0.7.1's lora_single_gpu examples.
func lfV071Keys(extra map[string]any) map[string]any {
	m := lfKeys(map[string]any{"lora_target": []string{"q_proj", "v_proj"}, "learning_rate": 1e-5, "max_length": 1024,
		"template": "llama3", "val_size": 0.1, "eval_strategy": "steps", "eval_steps": 500.0, "warmup_ratio": 0.1})
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// trlKTOTokens: TRL's KTOTrainer unpairs preference rows (chosen → desirable, rejected →
// undesirable) and tokenizes each (prompt, completion) as DPOTrainer tokenizes (prompt,
// chosen) — the same tokenize_fn, EOS rule, keep_start filter and max_length (1024) — so
// the ids of each completion are those of the DPO golden.
const trlKTOTokens = "trl-plain/qwen2.5/max_length1024"

// trlDPOTokens: DPOTrainer's tokenization of ultrafeedback_binarized_200 at max_length 1024.
const trlDPOTokens = "trl-plain/qwen2.5/max_length1024"

// ufSplitDir is trl-lib/ultrafeedback_binarized's layout (data/train-00000-of-00001.*,
// data/test-00000-of-00001.*) with the 200 rows of ultrafeedback_binarized_200.jsonl:
// rows 0–179 train, 180–199 test.
const ufSplitDir = "testdata/conformance/data/ultrafeedback_binarized"

// hhSplitDir holds hh_rlhf_harmless_200.jsonl as train.jsonl (rows 1–180) and test.jsonl
// (181–200): Anthropic/hh-rlhf's train and test splits, which TRL's old
// reward_modeling.py loads (and evaluates on raw_datasets["test"]).
const hhSplitDir = "testdata/conformance/data/hh_rlhf"

var confCases = []confCase{
	// LLaMA-Factory main (ff6d4d12)
	{file: "lf-head-qwen3_lora_dpo.yaml", loss: []string{"sigmoid"}, kind: "pair",
		keys:   lfKeys(map[string]any{"beta": 0.1, "max_length": 2048, "template": "qwen3_nothink", "learning_rate": 5e-6}),
		tokens: "lf/qwen3_nothink/qwen2.5/cutoff2048"},
	{file: "lf-head-qwen3_lora_kto.yaml", loss: []string{"kto"}, kind: "kto",
		keys:   lfKeys(map[string]any{"beta": 0.1, "max_length": 2048, "template": "qwen3_nothink", "desirable_weight": 1.0, "undesirable_weight": 1.0}),
		tokens: "lf-kto/qwen3_nothink/qwen2.5/cutoff2048"},
	{file: "lf-head-qwen3_lora_reward.yaml", loss: []string{"bradley_terry"}, kind: "rm",
		keys:   lfKeys(map[string]any{"max_length": 2048, "template": "qwen3_nothink", "learning_rate": 1e-4}),
		tokens: "lf/qwen3_nothink/qwen2.5/cutoff2048"},
	{file: "lf-head-qwen3vl_lora_dpo.yaml", refuse: "image_max_pixels"},
	// LLaMA-Factory v0.9.3
	{file: "lf-v0.9.3-llama3_lora_dpo.yaml", loss: []string{"sigmoid"}, kind: "pair",
		keys: lfKeys(map[string]any{"beta": 0.1, "max_length": 2048, "template": "llama3"}), tokens: "lf/llama3/llama3/cutoff2048"},
	{file: "lf-v0.9.3-llama3_lora_kto.yaml", loss: []string{"kto"}, kind: "kto",
		keys: lfKeys(map[string]any{"beta": 0.1, "max_length": 2048, "template": "llama3"}), tokens: "lf-kto/llama3/llama3/cutoff2048"},
	{file: "lf-v0.9.3-llama3_lora_reward.yaml", loss: []string{"bradley_terry"}, kind: "rm",
		keys: lfKeys(map[string]any{"max_length": 2048, "template": "llama3"}), tokens: "lf/llama3/llama3/cutoff2048"},
	{file: "lf-v0.9.3-qwen2_5vl_lora_dpo.yaml", refuse: "image_max_pixels"},
	// LLaMA-Factory v0.8.3: no lora_rank (default 8), cutoff_len 1024, evaluation on val_size
	{file: "lf-v0.8.3-llama3_lora_dpo.yaml", loss: []string{"sigmoid"}, kind: "pair",
		keys:   lfKeys(map[string]any{"beta": 0.1, "max_length": 1024, "template": "llama3", "val_size": 0.1, "eval_strategy": "steps", "eval_steps": 500.0}),
		tokens: "lf/llama3/llama3/cutoff1024"},
	{file: "lf-v0.8.3-llama3_lora_kto.yaml", loss: []string{"kto"}, kind: "kto",
		keys:   lfKeys(map[string]any{"beta": 0.1, "max_length": 1024, "template": "llama3", "val_size": 0.1}),
		tokens: "lf-kto/llama3/llama3/cutoff1024"},
	{file: "lf-v0.8.3-llama3_lora_reward.yaml", loss: []string{"bradley_terry"}, kind: "rm",
		keys:   lfKeys(map[string]any{"max_length": 1024, "template": "llama3", "val_size": 0.1}),
		tokens: "lf/llama3/llama3/cutoff1024"},

	// LLaMA-Factory v0.7.1 (examples/lora_single_gpu): q_proj,v_proj, dpo_ftx, warmup_steps 0.1,
	// evaluation_strategy (transformers' older name)
	{file: "lf-v0.7.1-llama3_lora_dpo.yaml", loss: []string{"sigmoid"}, kind: "pair",
		keys: lfV071Keys(map[string]any{"beta": 0.1, "pref_ftx": 1.0}), tokens: "lf/llama3/llama3/cutoff1024"},
	{file: "lf-v0.7.1-llama3_lora_orpo.yaml", loss: []string{"orpo"}, kind: "pair",
		keys: lfV071Keys(nil), tokens: "lf/llama3/llama3/cutoff1024"},
	{file: "lf-v0.7.1-llama3_lora_reward.yaml", loss: []string{"bradley_terry"}, kind: "rm",
		keys: lfV071Keys(nil), tokens: "lf/llama3/llama3/cutoff1024"},

	// TRL CLI (docs/source/clis.md)
	{file: "trl-cli-dpo.sh", loss: []string{"sigmoid"}, kind: "pair", keys: map[string]any{"output_dir": "trainer_output", "max_length": 1024, "beta": 0.1}},
	{file: "trl-cli-reward.sh", loss: []string{"bradley_terry"}, kind: "rm"},
	{file: "trl-cli-kto.sh", loss: []string{"kto"}, kind: "kto", tokens: trlKTOTokens},
	{file: "trl-cli-dpo-num-processes.sh", loss: []string{"sigmoid"}, kind: "pair"},
	{file: "trl-cli-dpo-config.yaml", launch: "trl dpo", loss: []string{"sigmoid"}, kind: "pair"},
	{file: "trl-cli-reward-config.yaml", launch: "trl reward", loss: []string{"bradley_terry"}, kind: "rm"},
	{file: "trl-cli-kto-config.yaml", launch: "trl kto", loss: []string{"kto"}, kind: "kto", tokens: trlKTOTokens},
	{file: "trl-cli-dpo-num-processes-config.yaml", launch: "trl dpo", loss: []string{"sigmoid"}, kind: "pair"},
	// TRL example scripts (their docstring commands)
	// eval_strategy steps: evaluation on the dataset's test split (a directory laid out as
	// trl-lib/ultrafeedback_binarized: data/{train,test}-00000-of-00001.jsonl)
	{file: "trl-script-dpo-full.sh", loss: []string{"sigmoid"}, kind: "pair",
		keys: map[string]any{"eval_strategy": "steps", "eval_steps": 50.0, "eval_dataset": ufSplitDir, "learning_rate": 5e-7,
			"max_steps": 1000, "gradient_accumulation_steps": 8, "remove_unused_columns": false, "finetuning_type": "full"},
		tokens: trlDPOTokens},
	{file: "trl-script-dpo-lora.sh", loss: []string{"sigmoid"}, kind: "pair",
		keys: map[string]any{"eval_strategy": "steps", "eval_dataset": ufSplitDir, "learning_rate": 5e-6,
			"finetuning_type": "lora", "lora_rank": 32, "lora_alpha": 16.0},
		tokens: trlDPOTokens},
	{file: "trl-script-kto-full.sh", loss: []string{"kto"}, kind: "kto",
		keys:   map[string]any{"warmup_ratio": 0.1, "warmup_steps": 0, "logging_first_step": true, "learning_rate": 5e-7, "lr_scheduler_type": "cosine", "per_device_train_batch_size": 16},
		tokens: trlKTOTokens},
	{file: "trl-script-kto-qlora.sh", loss: []string{"kto"}, kind: "kto", // QLoRA: NF4 base, TRL ModelConfig's quant type
		keys: map[string]any{"load_in_4bit": true, "lora_rank": 16, "learning_rate": 5e-7}, tokens: trlKTOTokens},
	{file: "trl-script-cpo-full.sh", loss: []string{"cpo"}, kind: "pair",
		keys: map[string]any{"max_steps": 1000, "warmup_steps": 150, "cpo_alpha": 1.0, "learning_rate": 8e-6, "remove_unused_columns": false}},
	{file: "trl-script-cpo-qlora.sh", loss: []string{"cpo"}, kind: "pair",
		keys: map[string]any{"optim": "rmsprop", "learning_rate": 8e-5, "finetuning_type": "lora", "lora_rank": 16, "lora_alpha": 16.0, "warmup_steps": 150}},
	{file: "trl-script-orpo-regular.sh", loss: []string{"orpo"}, kind: "pair", keys: map[string]any{"max_steps": 1000, "warmup_steps": 150, "logging_first_step": true}},
	{file: "trl-script-orpo-peft.sh", loss: []string{"orpo"}, kind: "pair",
		keys: map[string]any{"optim": "rmsprop", "learning_rate": 8e-5, "finetuning_type": "lora", "lora_rank": 16, "lora_alpha": 16.0}},
	// TRL v0.8.6 / v0.9.6 example scripts (the commands of their docstrings)
	{file: "trl-v0.8.6-script-dpo-regular.sh", loss: []string{"sigmoid"}, kind: "pair",
		keys: map[string]any{"learning_rate": 1e-3, "warmup_steps": 150, "logging_first_step": true, "per_device_train_batch_size": 4, "finetuning_type": "full"}},
	{file: "trl-v0.8.6-script-dpo-peft.sh", loss: []string{"sigmoid"}, kind: "pair",
		keys: map[string]any{"optim": "rmsprop", "finetuning_type": "lora", "lora_rank": 16, "lora_alpha": 16.0, "learning_rate": 1e-3}},
	{file: "trl-v0.8.6-script-kto-full.sh", loss: []string{"kto"}, kind: "kto",
		keys:   map[string]any{"learning_rate": 1e-5, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1, "per_device_train_batch_size": 16},
		tokens: trlKTOTokens},
	{file: "trl-v0.8.6-script-kto-qlora.sh", loss: []string{"kto"}, kind: "kto",
		keys:   map[string]any{"load_in_4bit": true, "lora_rank": 16, "lora_target": []string{"all-linear"}, "learning_rate": 1e-4},
		tokens: trlKTOTokens},
	{file: "trl-v0.8.6-script-reward.sh", loss: []string{"bradley_terry"}, kind: "rm",
		keys: map[string]any{"max_length": 512, "eval_strategy": "steps", "eval_dataset": hhSplitDir, "gradient_accumulation_steps": 16, "optim": "adamw"}},
	{file: "trl-v0.9.6-script-reward.sh", loss: []string{"bradley_terry"}, kind: "rm",
		keys: map[string]any{"max_length": 512, "eval_strategy": "steps", "eval_steps": 500.0, "eval_dataset": hhSplitDir, "gradient_accumulation_steps": 2}},
	// TRL trainer docs
	{file: "trl-doc-kto.sh", loss: []string{"kto"}, kind: "kto", keys: map[string]any{"num_train_epochs": 1.0, "output_dir": "Qwen2-0.5B-KTO"}, tokens: trlKTOTokens},
	{file: "trl-doc-cpo.sh", loss: []string{"cpo"}, kind: "pair", keys: map[string]any{"num_train_epochs": 1.0}},
	{file: "trl-doc-orpo.sh", loss: []string{"orpo"}, kind: "pair", keys: map[string]any{"num_train_epochs": 1.0}},
	{file: "trl-doc-dpo-mpo.yaml", loss: []string{"sigmoid", "bco_pair", "sft"}, kind: "pair",
		keys: map[string]any{"loss_weights": []float64{0.8, 0.2, 1.0}}, tokens: "trl-plain/qwen2.5/max_length1024"},
}

// trlScripts maps TRL's scripts and CLI subcommands to the trainer they run.
var trlScripts = map[string]string{"trl/scripts/dpo.py": "dpo", "examples/scripts/dpo.py": "dpo", "trl/scripts/kto.py": "kto",
	"examples/scripts/kto.py": "kto", "examples/scripts/cpo.py": "cpo", "examples/scripts/orpo.py": "orpo",
	"trl/scripts/reward.py": "reward", "examples/scripts/reward_modeling.py": "reward",
	"dpo": "dpo", "kto": "kto", "reward": "reward"}

// shellWords splits a copied shell command (backslash continuations, quotes).
func shellWords(s string) []string {
	s = strings.ReplaceAll(s, "\\\n", " ")
	var out []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// commandArgs turns a TRL command into preftune train's arguments: the script or
// subcommand becomes --trainer, the rest is passed as is.
func commandArgs(words []string) ([]string, error) {
	switch {
	case len(words) >= 2 && words[0] == "trl":
		words = words[1:]
	case len(words) >= 2 && words[0] == "python":
		words = words[1:]
	case len(words) >= 3 && words[0] == "accelerate" && words[1] == "launch":
		words = words[2:]
	default:
		return nil, fmt.Errorf("not a TRL command: %q", words)
	}
	tr, ok := trlScripts[words[0]]
	if !ok {
		return nil, fmt.Errorf("unknown TRL script %q", words[0])
	}
	return append([]string{"--trainer", tr}, words[1:]...), nil
}

func TestConformanceSuite(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	golden := loadTokenGolden(t)
	files, err := filepath.Glob("testdata/conformance/cases/*")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range confCases {
		listed[c.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no row in confCases", f)
		}
	}
	passed := 0
	var table []string
	for _, tc := range confCases {
		ok := t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "conformance", "cases", tc.file)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var l *Loaded
			switch {
			case strings.HasSuffix(tc.file, ".sh"):
				args, err2 := commandArgs(shellWords(string(raw)))
				if err2 != nil {
					t.Fatal(err2)
				}
				l, err = Parse(nil, args)
			case tc.launch != "":
				args, err2 := commandArgs(append(strings.Fields(tc.launch), "--config", path))
				if err2 != nil {
					t.Fatal(err2)
				}
				l, err = LoadFile(path, args[:2]) // --trainer X
			default:
				l, err = LoadFile(path, nil)
			}
			if tc.refuse != "" {
				var ce *Error
				if err == nil || !strings.Contains(err.Error(), tc.refuse) || !errorsAs(err, &ce) {
					t.Fatalf("want a config error naming %s, got %v", tc.refuse, err)
				}
				table = append(table, fmt.Sprintf("%s → refused (exit 2): %v", tc.file, err))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.LossType, tc.loss) || l.Kind() != tc.kind {
				t.Errorf("trainer: loss %v kind %s, want %v %s", l.LossType, l.Kind(), tc.loss, tc.kind)
			}
			rv := reflect.ValueOf(&l.Config).Elem()
			for k, want := range tc.keys {
				f := byName[k]
				if f == nil {
					t.Errorf("%s: not a key", k)
					continue
				}
				got := rv.Field(f.index).Interface()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v (%T), want %v (%T)", k, got, got, want, want)
				}
			}
			outcome := fmt.Sprintf("loss %s", strings.Join(l.LossType, "+"))
			if tc.tokens != "" {
				n, of := checkTokens(t, l, golden[tc.tokens])
				outcome += fmt.Sprintf(", %d/%d rows token-identical to %s", n, of, tc.tokens)
			}
			table = append(table, fmt.Sprintf("%s → runs: %s", tc.file, outcome))
		})
		if ok {
			passed++
		}
	}
	runs := 0
	for _, tc := range confCases {
		if tc.refuse == "" {
			runs++
		}
	}
	t.Logf("conformance: %d/%d cases as specified; %d/%d (%.1f%%) run, %d refused naming the key\n%s", passed, len(confCases),
		runs, len(confCases), 100*float64(runs)/float64(len(confCases)), len(confCases)-runs, strings.Join(table, "\n"))
	// the acceptance: at least 95% of the suite runs (every case as specified)
	if passed != len(confCases) || !(float64(runs) >= 0.95*float64(len(confCases))) {
		t.Errorf("conformance: %d/%d as specified, %d/%d run: want all as specified and ≥ 95%% run", passed, len(confCases), runs, len(confCases))
	}
}

func errorsAs(err error, target **Error) bool {
	for e := err; e != nil; {
		if ce, ok := e.(*Error); ok {
			*target = ce
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

type tokenCase struct {
	Rules, Template, Tokenizer, Dataset string
	MaxLength                           int `json:"max_length"`
	Rows                                []struct {
		Row     int
		Dropped bool
		SHA256  string
	}
}

func loadTokenGolden(t *testing.T) map[string]tokenCase {
	b, err := os.ReadFile(filepath.Join("testdata", "conformance", "golden", "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Name string
			tokenCase
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string]tokenCase{}
	for _, c := range g.Cases {
		out[c.Name] = c.tokenCase
	}
	return out
}

// checkTokens tokenizes the config's dataset as `preftune train` does (its
// TokenizeOptions, its model's tokenizer) and returns how many rows match the golden
// and how many of the golden's rows the dataset has.
func checkTokens(t *testing.T, l *Loaded, g tokenCase) (int, int) {
	t.Helper()
	if len(g.Rows) == 0 {
		t.Fatal("golden case missing")
	}
	dataset := l.Dataset
	if st, err := os.Stat(dataset); err == nil && st.IsDir() && l.DatasetDir == "" {
		// a directory with split files: the train split, as load_dataset(dir)["train"]
		var rel []string
		filepath.WalkDir(dataset, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				r, _ := filepath.Rel(dataset, p)
				rel = append(rel, filepath.ToSlash(r))
			}
			return nil
		})
		m, _, err := hub.Splits(rel)
		if err != nil || len(m["train"]) != 1 {
			t.Fatalf("%s: train split %v, %v", dataset, m["train"], err)
		}
		dataset = filepath.Join(dataset, filepath.FromSlash(m["train"][0]))
	}
	ds, err := data.Load(dataset, data.Options{DatasetDir: l.DatasetDir, Policy: data.PolicyStrict})
	if err != nil {
		t.Fatal(err)
	}
	exs := ds.Examples
	rows := 0 // the golden's rows that the dataset read has (a train split holds the first ones)
	for _, e := range exs {
		rows = max(rows, e.Row)
	}
	if l.MaxSamples > 0 && len(exs) > l.MaxSamples {
		exs = exs[:l.MaxSamples]
	}
	tok, err := data.LoadTokenizer(l.ModelNameOrPath, l.TokenizeOptions())
	if err != nil {
		t.Fatal(err)
	}
	tks, _, err := tok.TokenizeAll(exs, data.PolicyDrop)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]data.Tokenized{}
	for _, tk := range tks {
		got[tk.Row] = tk
	}
	same, compared := 0, 0
	for _, w := range g.Rows {
		if w.Row > rows {
			continue
		}
		compared++
		tk, ok := got[w.Row]
		if w.Dropped || !ok {
			if w.Dropped == !ok {
				same++
			} else {
				t.Errorf("row %d: dropped %v, reference dropped %v", w.Row, !ok, w.Dropped)
			}
			continue
		}
		nn := func(s []int32) []int32 {
			if s == nil {
				return []int32{}
			}
			return s
		}
		second := []int32{}
		if len(tk.Completions) > 1 {
			second = nn(tk.Completions[1])
		}
		js, _ := json.Marshal([][]int32{nn(tk.PromptIDs), nn(tk.Completions[0]), second})
		sum := sha256.Sum256(js)
		if hex.EncodeToString(sum[:]) == w.SHA256 {
			same++
		} else {
			t.Errorf("row %d: tokens differ from the reference", w.Row)
		}
	}
	return same, compared
}
