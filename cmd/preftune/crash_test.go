package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

// TestHelperCrashCLI is the child of the crafted-input matrix: with PREFTUNE_CRASH_CLI
// set it is `preftune` (the arguments after --), nothing otherwise.
func TestHelperCrashCLI(t *testing.T) {
	if os.Getenv("PREFTUNE_CRASH_CLI") == "" {
		t.Skip("helper process")
	}
	os.Exit(run(flag.Args(), os.Stdin, os.Stdout, os.Stderr))
}

// addressSpaceCap is the fault campaign's cap on every command (ulimit -v 3 GB): an
// allocation the preflight lets through past it is a Go runtime crash, not an error.
const addressSpaceCap = 3_000_000 // KiB

// runCLI runs preftune args in a child process under the address-space cap and
// returns its exit code and stderr.
func runCrashCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	script := `ulimit -v ` + fmt.Sprint(addressSpaceCap) + ` 2>/dev/null; exec "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh", os.Args[0], "-test.run=^TestHelperCrashCLI$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "PREFTUNE_CRASH_CLI=1", "PREFTUNE_NO_PREFLIGHT=", "PREFTUNE_MEMORY_LIMIT=", "OPENBLAS_NUM_THREADS=1")
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &bytes.Buffer{}
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v: no exit after 120 s (a hang)", args)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatal(err)
	return -1, ""
}

// crashMarkers are what a Go runtime crash or an escaped panic prints.
var crashMarkers = []string{"panic:", "fatal error:", "goroutine ", "runtime.", "internal error", "SIGSEGV", "[signal"}

// crafted is one crafted input: how to make it from a copy of the valid one, and the
// exit code every command reading it must give.
type crafted struct {
	name string
	make func(t *testing.T, dir string)
	code int
}

func editJSON(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fileBytesCLI(t, path), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, _ := json.Marshal(m)
	writeCrashFile(t, path, string(raw))
}

func fileBytesCLI(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeCrashFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setKey(key string, v any) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m[key] = v })
	}
}

// pokeF32 overwrites element k of an F32 tensor in a safetensors file.
func pokeF32(t *testing.T, path, name string, k int, v float32) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := f.Tensor(name)
	f.Close()
	if !ok || info.DType != safetensors.F32 {
		t.Fatalf("%s: no F32 tensor %s", path, name)
	}
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteAt(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)), info.Offset+4*int64(k)); err != nil {
		t.Fatal(err)
	}
}

func truncateFile(t *testing.T, path string, frac float64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(float64(st.Size())*frac)); err != nil {
		t.Fatal(err)
	}
}

// modelInputs are crafted model dirs (config.json, model.safetensors).
var modelInputs = []crafted{
	{"valid", func(*testing.T, string) {}, 0},
	{"vocab_size 1e12", setKey("vocab_size", 1e12), 2},
	{"num_hidden_layers 1e12", setKey("num_hidden_layers", 1e12), 2},
	{"hidden_size 2^40", setKey("hidden_size", float64(int64(1)<<40)), 2},
	{"intermediate_size 1e15", setKey("intermediate_size", 1e15), 2},
	{"num_attention_heads 0", setKey("num_attention_heads", 0), 2},
	{"num_key_value_heads -2", setKey("num_key_value_heads", -2), 2},
	{"max_position_embeddings 1e15", setKey("max_position_embeddings", 1e15), 2},
	{"vocab_size fractional", setKey("vocab_size", 1.5), 2},
	{"rope_scaling garbage", setKey("rope_scaling", map[string]any{"rope_type": "yarn", "factor": -3}), 2},
	{"Llama-2-7B config over tiny weights", func(t *testing.T, dir string) {
		writeCrashFile(t, filepath.Join(dir, "config.json"), llama2_7bConfig)
	}, 2},
	{"Llama-2-7B header-only weights", func(t *testing.T, dir string) {
		writeHeaderOnlyModel(t, dir, llama2_7bConfig)
	}, 2},
	{"NaN weight", func(t *testing.T, dir string) {
		pokeF32(t, filepath.Join(dir, "model.safetensors"), "model.layers.0.mlp.up_proj.weight", 7, float32(math.NaN()))
	}, 2},
	{"Inf weight", func(t *testing.T, dir string) {
		pokeF32(t, filepath.Join(dir, "model.safetensors"), "model.norm.weight", 0, float32(math.Inf(1)))
	}, 2},
	{"truncated safetensors", func(t *testing.T, dir string) { truncateFile(t, filepath.Join(dir, "model.safetensors"), 0.5) }, 2},
	{"safetensors header garbage", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "model.safetensors")
		b := fileBytesCLI(t, p)
		copy(b[8:], "{\"x\": [[[[[[")
		writeCrashFile(t, p, string(b))
	}, 2},
	{"safetensors header length 2^62", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "model.safetensors")
		b := fileBytesCLI(t, p)
		binary.LittleEndian.PutUint64(b, 1<<62)
		writeCrashFile(t, p, string(b))
	}, 2},
	{"empty safetensors", func(t *testing.T, dir string) { writeCrashFile(t, filepath.Join(dir, "model.safetensors"), "") }, 2},
	{"no weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) }, 2},
	{"config.json not JSON", func(t *testing.T, dir string) {
		writeCrashFile(t, filepath.Join(dir, "config.json"), "{\"vocab_size\": 1")
	}, 2},
	{"config.json empty object", func(t *testing.T, dir string) { writeCrashFile(t, filepath.Join(dir, "config.json"), "{}") }, 2},
	{"config.json deeply nested", func(t *testing.T, dir string) {
		writeCrashFile(t, filepath.Join(dir, "config.json"), strings.Repeat("[", 200000)+strings.Repeat("]", 200000))
	}, 2},
}

// adapterInputs are crafted PEFT adapter dirs.
var adapterInputs = []crafted{
	{"valid", func(*testing.T, string) {}, 0},
	{"r 0", func(t *testing.T, dir string) {
		editJSON(t, filepath.Join(dir, "adapter_config.json"), func(m map[string]any) { m["r"] = 0 })
	}, 2},
	{"r 1e12", func(t *testing.T, dir string) {
		editJSON(t, filepath.Join(dir, "adapter_config.json"), func(m map[string]any) { m["r"] = 1e12 })
	}, 2},
	{"unknown target", func(t *testing.T, dir string) {
		editJSON(t, filepath.Join(dir, "adapter_config.json"), func(m map[string]any) { m["target_modules"] = []string{"c_attn"} })
	}, 2},
	{"NaN in lora_B", func(t *testing.T, dir string) {
		pokeF32(t, filepath.Join(dir, "adapter_model.safetensors"), "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", 3, float32(math.NaN()))
	}, 2},
	{"adapter_config not JSON", func(t *testing.T, dir string) { writeCrashFile(t, filepath.Join(dir, "adapter_config.json"), "[") }, 2},
	{"adapter weights truncated", func(t *testing.T, dir string) {
		truncateFile(t, filepath.Join(dir, "adapter_model.safetensors"), 0.7)
	}, 2},
}

// dataInputs are crafted preference files: text pairs (score, train, data check) and
// pre-tokenized pairs (logps).
type dataInput struct {
	name       string
	text, toks string // file contents
	code       int
	except     map[string]int // per command, where the code differs
}

const validText = `{"prompt":" hi there","chosen":" hello","rejected":" go away"}
{"prompt":" what is 2+2?","chosen":" 4","rejected":" 5"}
`
const validToks = `{"prompt_input_ids":[1,2,3],"chosen_input_ids":[4,5],"rejected_input_ids":[6]}
{"prompt_input_ids":[7,8],"chosen_input_ids":[9],"rejected_input_ids":[10,11,12]}
`

// textValid: only the pre-tokenized file (logps) is crafted.
var textValid = map[string]int{"score": 0, "train": 0, "data check": 0}

var dataInputs = []dataInput{
	{"valid", validText, validToks, 0, nil},
	{"empty file", "\n", "\n", 2, map[string]int{"data check": 0}}, // a report of 0 rows
	{"not JSON", "{\"prompt\": \"a\", \n", "{\"prompt_input_ids\": [1,\n", 2, nil},
	{"binary garbage", "\x00\xff\xfe\x01PK\x03\x04", "\x00\xff\xfe\x01PK\x03\x04", 2, nil},
	{"missing field", `{"prompt":"a","chosen":"b"}` + "\n", `{"prompt_input_ids":[1],"chosen_input_ids":[2]}` + "\n", 2, nil},
	{"ids out of vocabulary", validText, `{"prompt_input_ids":[1,1000000000000],"chosen_input_ids":[-5],"rejected_input_ids":[6]}` + "\n", 2, textValid},
	{"ids huge floats", validText, `{"prompt_input_ids":[1e300],"chosen_input_ids":[2],"rejected_input_ids":[6]}` + "\n", 2, textValid},
	{"deeply nested row", `{"prompt":` + strings.Repeat("[", 100000) + "\n", `{"prompt_input_ids":` + strings.Repeat("[", 100000) + "\n", 2, nil},
	{"wrong types", `{"prompt":5,"chosen":true,"rejected":null}` + "\n", `{"prompt_input_ids":"abc","chosen_input_ids":{},"rejected_input_ids":[6]}` + "\n", 2, nil},
}

// matrixBase writes the valid inputs: a tiny Qwen2 with the real Qwen2.5 tokenizer, a
// LoRA adapter for it.
func matrixBase(t *testing.T, root string) (modelDir, adapterDir string) {
	modelDir, adapterDir = filepath.Join(root, "model"), filepath.Join(root, "adapter")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 151665, Hidden: 16, Layers: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tiny.CopyTokenizer(filepath.Join("..", "..", "testdata", "tokenizers", "qwen2.5"), modelDir); err != nil {
		t.Fatal(err)
	}
	be := cpu.New(1)
	defer be.Close()
	m, err := model.Load(modelDir, be, model.Options{LoRA: &model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"q_proj", "v_proj"}}})
	if err != nil {
		t.Fatal(err)
	}
	m.InitLoRA(1)
	if err := m.SaveAdapter(adapterDir, modelDir); err != nil {
		t.Fatal(err)
	}
	return modelDir, adapterDir
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestCrashMatrix is the crafted-input matrix of the fault campaign, rebuilt: every
// crafted model dir × logps, score, generate, train, export; every crafted adapter ×
// score, generate, export; every crafted data file × logps, score, train, data check.
// Each run is a child process capped at 3 GB of address space; it must exit with the
// expected code (0 for the valid inputs, 2 for bad input) and never print a Go panic or
// runtime crash. -short runs a few inputs of each kind.
func TestCrashMatrix(t *testing.T) {
	root := t.TempDir()
	modelDir, adapterDir := matrixBase(t, root)
	text, toks := filepath.Join(root, "valid.jsonl"), filepath.Join(root, "valid_tok.jsonl")
	writeCrashFile(t, text, validText)
	writeCrashFile(t, toks, validToks)
	out := func(t *testing.T) string { return filepath.Join(t.TempDir(), "out") }
	type command struct {
		name string
		args func(t *testing.T, model, adapter, text, toks string) []string
	}
	logps := command{"logps", func(t *testing.T, m, a, x, k string) []string {
		return []string{"logps", "--model", m, "--data", k, "--out", out(t), "--threads", "1"}
	}}
	score := command{"score", func(t *testing.T, m, a, x, k string) []string {
		return []string{"score", "--model", m, "--adapter", a, "--data", x, "--threads", "1"}
	}}
	generate := command{"generate", func(t *testing.T, m, a, x, k string) []string {
		return []string{"generate", "--model", m, "--adapter", a, "--prompt", "hi", "--max-new-tokens", "2", "--threads", "1"}
	}}
	train := command{"train", func(t *testing.T, m, a, x, k string) []string {
		return []string{"train", "--model_name_or_path", m, "--dataset", x, "--output_dir", out(t), "--max_steps", "1",
			"--finetuning_type", "lora", "--per_device_train_batch_size", "2", "--threads", "1", "--plot_loss", "false"}
	}}
	export := command{"export", func(t *testing.T, m, a, x, k string) []string {
		return []string{"export", "--model", m, "--adapter", a, "--out", out(t)}
	}}
	check := command{"data check", func(t *testing.T, m, a, x, k string) []string {
		return []string{"data", "check", x, "--tokenizer", m}
	}}
	short := func(cs []crafted) []crafted {
		if testing.Short() && len(cs) > 3 {
			return []crafted{cs[0], cs[1], cs[len(cs)-1]}
		}
		return cs
	}
	runs, crashes, wrong := 0, 0, 0
	check1 := func(t *testing.T, want int, args []string) {
		code, stderr := runCrashCLI(t, args...)
		runs++
		for _, mk := range crashMarkers {
			if strings.Contains(stderr, mk) {
				crashes++
				t.Errorf("%v printed %q (exit %d):\n%s", args, mk, code, stderr)
				break
			}
		}
		if code != want {
			wrong++
			t.Errorf("%v: exit %d, want %d:\n%s", args, code, want, stderr)
		} else if want != 0 {
			t.Logf("exit %d: %s", code, lastLine(stderr))
		}
	}
	for _, in := range short(modelInputs) {
		dir := filepath.Join(root, "models", strings.ReplaceAll(in.name, " ", "_"))
		copyDir(t, modelDir, dir)
		in.make(t, dir)
		for _, c := range []command{logps, score, generate, train, export} {
			t.Run("model "+in.name+"/"+c.name, func(t *testing.T) { check1(t, in.code, c.args(t, dir, adapterDir, text, toks)) })
		}
	}
	for _, in := range short(adapterInputs) {
		dir := filepath.Join(root, "adapters", strings.ReplaceAll(in.name, " ", "_"))
		copyDir(t, adapterDir, dir)
		in.make(t, dir)
		for _, c := range []command{score, generate, export} {
			t.Run("adapter "+in.name+"/"+c.name, func(t *testing.T) { check1(t, in.code, c.args(t, modelDir, dir, text, toks)) })
		}
	}
	ds := dataInputs
	if testing.Short() {
		ds = []dataInput{ds[0], ds[1], ds[len(ds)-1]}
	}
	for i, in := range ds {
		x, k := filepath.Join(root, fmt.Sprintf("d%d.jsonl", i)), filepath.Join(root, fmt.Sprintf("d%d_tok.jsonl", i))
		writeCrashFile(t, x, in.text)
		writeCrashFile(t, k, in.toks)
		for _, c := range []command{logps, score, train, check} {
			want := in.code
			if w, ok := in.except[c.name]; ok {
				want = w
			}
			t.Run("data "+in.name+"/"+c.name, func(t *testing.T) { check1(t, want, c.args(t, modelDir, adapterDir, x, k)) })
		}
	}
	t.Logf("crafted-input matrix: %d runs, %d runtime crashes, %d wrong exit codes", runs, crashes, wrong)
}
