package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/preftune/preftune/hf/config"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

// llama2_7bConfig is meta-llama/Llama-2-7b-hf's config.json (the fields we read).
const llama2_7bConfig = `{
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 4096,
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false,
  "torch_dtype": "float16", "vocab_size": 32000
}`

// writeHeaderOnlyModel writes config.json and a model.safetensors whose header lists
// every tensor configJSON implies (F16) and whose data section is a hole: a sparse
// file of the full size that takes no disk.
func writeHeaderOnlyModel(t *testing.T, dir, configJSON string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(configJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(configJSON), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	var hdr bytes.Buffer
	hdr.WriteString(`{"__metadata__":{"format":"pt"}`)
	var off int64
	for _, p := range cfg.Parameters() {
		n := int64(2)
		for _, d := range p.Shape {
			n *= int64(d)
		}
		shape, _ := json.Marshal(p.Shape)
		fmt.Fprintf(&hdr, `,%q:{"dtype":"F16","shape":%s,"data_offsets":[%d,%d]}`, p.Name, shape, off, off+n)
		off += n
	}
	hdr.WriteString("}")
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(hdr.Len()))
	if _, err := f.Write(append(n[:], hdr.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(8+hdr.Len()) + off); err != nil {
		t.Fatal(err)
	}
}

// pretokenizedPairs writes a TRL pre-tokenized preference file of n pairs.
func pretokenizedPairs(t *testing.T, path string, n, promptLen, complLen int) {
	t.Helper()
	var b strings.Builder
	ids := func(k, base int) string {
		s := make([]int, k)
		for i := range s {
			s[i] = base + i
		}
		raw, _ := json.Marshal(s)
		return string(raw)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"prompt_input_ids":%s,"chosen_input_ids":%s,"rejected_input_ids":%s}`+"\n",
			ids(promptLen, 10+i), ids(complLen, 100+i), ids(complLen, 200+i))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPreflightRefuses7B: a Llama-2-7B-shaped checkpoint (header-only, sparse) on a
// machine that cannot hold it is refused by every command that loads it, with exit 2
// and the estimate, in seconds and before anything large is allocated. The machine is
// made small with PREFTUNE_MEMORY_LIMIT so the test means the same everywhere.
func TestPreflightRefuses7B(t *testing.T) {
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "llama2-7b")
	writeHeaderOnlyModel(t, modelDir, llama2_7bConfig)
	if err := tiny.CopyTokenizer(filepath.Join("..", "..", "testdata", "tokenizers", "llama2"), modelDir); err != nil {
		t.Fatal(err)
	}
	pairs := filepath.Join(dir, "pairs.jsonl")
	pretokenizedPairs(t, pairs, 2, 128, 112)
	adapter := filepath.Join(dir, "adapter")
	if err := os.MkdirAll(adapter, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(adapter, "adapter_config.json"), []byte(`{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PREFTUNE_MEMORY_LIMIT", "1GiB") // or less, when the machine has less free
	t.Setenv("PREFTUNE_NO_PREFLIGHT", "")
	train := []string{"train", "--model_name_or_path", modelDir, "--dataset", pairs, "--output_dir", filepath.Join(dir, "out"),
		"--max_steps", "1", "--per_device_train_batch_size", "1"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"train full", train, []string{"weights 25.1 GiB", "gradients 25.1 GiB", "optimizer 50.2 GiB", "try LoRA"}},
		{"train full dry-run", append([]string{"train", "--dry-run"}, train[1:]...), []string{"optimizer 50.2 GiB"}},
		// a frozen base (LoRA, inference) stays in the checkpoint's bf16: half the bytes
		{"train lora", append(cloneArgs(train), "--finetuning_type", "lora"), []string{"weights 12.6 GiB", "adapters"}},
		{"train qlora", append(cloneArgs(train), "--finetuning_type", "lora", "--load_in_4bit", "true"), []string{"weights 3.", "adapters"}},
		{"logps", []string{"logps", "--model", modelDir, "--data", pairs, "--out", filepath.Join(dir, "l.jsonl")}, []string{"weights 12.6 GiB"}},
		{"score", []string{"score", "--model", modelDir, "--adapter", adapter, "--data", pairs}, []string{"weights 12.6 GiB"}},
		{"generate", []string{"generate", "--model", modelDir, "--prompt", "hi"}, []string{"weights 12.6 GiB"}},
		{"export", []string{"export", "--model", modelDir, "--adapter", adapter, "--out", filepath.Join(dir, "merged")}, []string{"weights 25.1 GiB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			code := run(tc.args, nil, &stdout, &stderr)
			took := time.Since(start) // the figure (under 5 s), logged, not asserted
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("exit %d after %v, %d MiB allocated: %s", code, took.Round(time.Millisecond), allocated>>20, lastLine(stderr.String()))
			// Refused before any weight is allocated: the smallest tensor of the 7B
			// shape (one bf16 norm row aside) is 8 MiB in bf16, the whole set 12.6 GiB;
			// what a refusal may allocate is the tokenizer, the data and the headers.
			if !(allocated < 256<<20) {
				t.Errorf("the refusal allocated %d MiB (weights loaded before the preflight?)", allocated>>20)
			}
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstderr:\n%s", code, stderr.String())
			}
			msg := stderr.String()
			for _, want := range append([]string{"memory preflight: needs ≈", " available ("}, tc.want...) {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr lacks %q:\n%s", want, msg)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "merged")); err == nil {
				t.Errorf("export left %s behind", filepath.Join(dir, "merged"))
			}
		})
	}
}

func cloneArgs(s []string) []string { return append([]string(nil), s...) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
