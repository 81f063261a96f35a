package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/hub/hubtest"
	tiny "github.com/preftune/preftune/train/tinymodel"
)

// hubEnv points huggingface_hub's variables at the local fake Hub and an empty cache.
func hubEnv(t *testing.T, srv *hubtest.Server) string {
	cache := filepath.Join(t.TempDir(), "hf", "hub")
	for k, v := range map[string]string{"HF_ENDPOINT": srv.URL(), "HF_HUB_CACHE": cache, "HF_HOME": t.TempDir(),
		"HF_TOKEN": "", "HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": ""} {
		t.Setenv(k, v)
	}
	return cache
}

// TestTrainFromHub runs `train` with a model and a dataset given as Hub ids, served by
// a local fake Hub (HF_ENDPOINT): the model (Qwen2.5 tokenizer, LFS weights), the
// dataset's train split (parquet) and test split (jsonl) are downloaded into the
// cache; a second run with HF_HUB_OFFLINE=1 trains from the cache alone; the trained
// adapter, published as a repo, is scored with --model/--adapter/--data hub ids.
func TestTrainFromHub(t *testing.T) {
	srv := hubtest.New(t)
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 151665, Hidden: 16, Layers: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tiny.CopyTokenizer(filepath.Join("..", "..", "testdata", "tokenizers", "qwen2.5"), modelDir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(modelDir, "pytorch_model.bin"), []byte("never fetched"), 0o644)
	srv.AddDir(t, "model", "org/tiny-qwen", modelDir)
	train, err := os.ReadFile(filepath.Join("..", "..", "data", "testdata", "fixtures", "trl_conversational.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	uf, err := os.ReadFile(filepath.Join("..", "..", "testdata", "preferences", "ultrafeedback_binarized_200.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	test := []byte(strings.Join(strings.SplitN(string(uf), "\n", 4)[:3], "\n") + "\n")
	srv.Add("dataset", "org/prefs", map[string][]byte{
		"data/train-00000-of-00001.parquet": train,
		"data/test-00000-of-00001.jsonl":    test,
		"README.md":                         []byte("---\nconfigs: []\n---\n"),
	}, false)
	cache := hubEnv(t, srv)

	yaml := `model_name_or_path: org/tiny-qwen
dataset: org/prefs
eval_dataset: org/prefs
output_dir: OUT
use_peft: true
lora_r: 4
max_steps: 2
per_device_train_batch_size: 1
max_length: 64
logging_steps: 1
`
	runTrain := func(out string) string {
		cfg := filepath.Join(dir, filepath.Base(out)+".yaml")
		os.WriteFile(cfg, []byte(strings.ReplaceAll(yaml, "OUT", out)), 0o644)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"train", cfg}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
		}
		for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "trainer_log.jsonl"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
		return stderr.String()
	}
	log := runTrain(filepath.Join(dir, "out1"))
	for _, want := range []string{
		"hub: model_name_or_path org/tiny-qwen -> " + filepath.Join(cache, "models--org--tiny-qwen", "snapshots"),
		"hub: dataset org/prefs (split train) -> " + filepath.Join(cache, "datasets--org--prefs", "snapshots"),
		"hub: eval_dataset org/prefs (split test) -> ",
		"data: 2 training examples, 1 evaluation examples", // 2 of the 3 test rows are longer than max_length
	} {
		if !strings.Contains(log, want) {
			t.Errorf("train log lacks %q:\n%s", want, log)
		}
	}
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "pytorch_model.bin") || (strings.HasSuffix(r.Path, "README.md") && !strings.HasPrefix(r.Path, "/datasets/")) {
			t.Errorf("fetched %s", r.Path)
		}
	}

	n := len(srv.Requests())
	t.Setenv("HF_HUB_OFFLINE", "1")
	runTrain(filepath.Join(dir, "out2"))
	if len(srv.Requests()) != n {
		t.Errorf("the offline run made %d requests", len(srv.Requests())-n)
	}
	t.Setenv("HF_HUB_OFFLINE", "")

	var dout, derr bytes.Buffer
	if code := run([]string{"data", "check", "org/prefs"}, nil, &dout, &derr); code != 0 || !strings.Contains(derr.String(), "hub: --dataset org/prefs (split train)") {
		t.Errorf("data check: exit %d\n%s\n%s", code, dout.String(), derr.String())
	}

	srv.AddDir(t, "model", "org/tiny-adapter", filepath.Join(dir, "out1"))
	var stdout, stderr bytes.Buffer
	code := run([]string{"score", "--model", "org/tiny-qwen", "--adapter", "org/tiny-adapter", "--data", "org/prefs"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("score exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "hub: --adapter org/tiny-adapter -> "+filepath.Join(cache, "models--org--tiny-adapter", "snapshots")) {
		t.Errorf("score stderr:\n%s", stderr.String())
	}
	if lines := strings.Count(stdout.String(), "\n"); lines < 2 {
		t.Errorf("score printed %d lines:\n%s", lines, stdout.String())
	}
}

// TestHubErrorsExit2: a private repo without HF_TOKEN, a missing repo, and offline
// without a cache are bad input (exit 2) whose message says what to do or where the
// cache was looked at.
func TestHubErrorsExit2(t *testing.T) {
	srv := hubtest.New(t)
	srv.Token = "hf_x"
	srv.Add("model", "org/private", map[string][]byte{"config.json": []byte("{}"), "model.safetensors": []byte("x")}, true)
	cache := hubEnv(t, srv)
	out := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		offline string
		want    string
	}{
		{"401", []string{"train", "--model_name_or_path", "org/private", "--dataset", "x.jsonl", "--output_dir", out}, "", "set HF_TOKEN"},
		{"404", []string{"generate", "--model", "org/missing", "--prompt", "hi"}, "", "no such repo"},
		{"offline", []string{"generate", "--model", "org/missing", "--prompt", "hi"}, "1", filepath.Join(cache, "models--org--missing", "refs", "main")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("HF_HUB_OFFLINE", c.offline)
			var stdout, stderr bytes.Buffer
			code := run(c.args, nil, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr.String(), c.want)
			}
		})
	}
}

// TestLlamaFactoryHubEntry: a dataset_info.json entry with hf_hub_url (and split) is
// read from the Hub with the entry's formatting and columns, as LLaMA-Factory does.
func TestLlamaFactoryHubEntry(t *testing.T) {
	srv := hubtest.New(t)
	rows := `{"instruction": "Say hi", "input": "", "good": "Hi!", "bad": "No."}
{"instruction": "Add", "input": "1+1", "good": "2", "bad": "3"}
`
	srv.Add("dataset", "org/lf", map[string][]byte{
		"data/train-00000-of-00001.jsonl": []byte(`{"instruction": "unused", "input": "", "good": "a", "bad": "b"}` + "\n"),
		"data/test-00000-of-00001.jsonl":  []byte(rows),
	}, false)
	hubEnv(t, srv)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dataset_info.json"), []byte(`{"lf_hub": {"hf_hub_url": "org/lf", "split": "test", "ranking": true,
  "columns": {"prompt": "instruction", "query": "input", "chosen": "good", "rejected": "bad"}},
 "lf_bad": {"hf_hub_url": "org/lf", "subset": "x"}}`), 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"data", "check", "--dataset-dir", dir, "lf_hub"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "data/test-00000-of-00001.jsonl (dataset lf_hub): 2 rows, 2 loaded, format llamafactory-alpaca×2") {
		t.Errorf("data check output:\n%s", stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"data", "check", "--dataset-dir", dir, "lf_bad"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "subset") {
		t.Errorf("subset: exit %d\n%s", code, stderr.String())
	}
}
