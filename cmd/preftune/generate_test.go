package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/demo"
	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
)

// demoModelDir is the shipped demo model: a real Hugging Face dir with a tokenizer.
var demoModelDir = filepath.Join("..", "..", "demo", "assets", "model")

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var so, se bytes.Buffer
	if code := run(args, nil, &so, &se); code != 0 {
		t.Fatalf("preftune %v: exit %d: %s", args, code, se.String())
	}
	return so.String()
}

// TestGenerateDemoModel: greedy decoding of the demo model spells the number (in one
// of the two forms the SFT data has); --json reports the tokens and the stop.
func TestGenerateDemoModel(t *testing.T) {
	out := runOK(t, "generate", "--model", demoModelDir, "--prompt", "347 in words:", "--max-new-tokens", "12", "--threads", "1")
	if !demo.Correct("347 in words:", strings.TrimSuffix(out, "\n")) {
		t.Errorf("greedy continuation %q does not spell 347", out)
	}
	var js struct {
		Prompt, Completion string
		TokenIDs           []int32 `json:"token_ids"`
		Stopped            bool
	}
	raw := runOK(t, "generate", "--model", demoModelDir, "--prompt", "347 in words:", "--json", "--threads", "1")
	if err := json.Unmarshal([]byte(raw), &js); err != nil {
		t.Fatalf("--json output %q: %v", raw, err)
	}
	if js.Completion+"\n" != out || js.Prompt != "347 in words:" || !js.Stopped || len(js.TokenIDs) < 2 {
		t.Errorf("--json: %+v (text output %q)", js, out)
	}
}

// TestGenerateSampling: a seed fixes the sample; the output equals model.Generate's
// with the same options.
func TestGenerateSampling(t *testing.T) {
	args := []string{"generate", "--model", demoModelDir, "--prompt", "562 in words:", "--temperature", "1.3", "--top-p", "0.95", "--seed", "11", "--json", "--threads", "1"}
	a, b := runOK(t, args...), runOK(t, args...)
	if a != b {
		t.Fatalf("same seed, different samples: %s vs %s", a, b)
	}
	var js struct {
		TokenIDs []int32 `json:"token_ids"`
	}
	if err := json.Unmarshal([]byte(a), &js); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(demoModelDir)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(1)
	defer be.Close()
	m, err := model.Load(demoModelDir, be, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var prompt []int32
	for _, id := range tok.Encode("562 in words:", true) {
		prompt = append(prompt, int32(id))
	}
	eos, _ := tok.EOS()
	g, err := m.Generate(prompt, model.GenerateOptions{MaxNewTokens: 59, Temperature: 1.3, TopP: 0.95, Seed: 11, StopIDs: []int32{int32(eos)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !equalIDs(g.IDs, js.TokenIDs) {
		t.Errorf("CLI sampled %v, model.Generate %v", js.TokenIDs, g.IDs)
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGenerateAdapterAndMessages: --adapter applies a PEFT adapter (the output follows
// the adapted model, not the base), and --messages renders the chat template.
func TestGenerateAdapterAndMessages(t *testing.T) {
	dir := t.TempDir()
	mdir := filepath.Join(dir, "model")
	if err := demo.WriteAssets(mdir); err != nil {
		t.Fatal(err)
	}
	// a chat template that renders the conversation as the plain prompt
	cfgPath := filepath.Join(mdir, "tokenizer_config.json")
	var cfg map[string]any
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	msgs := filepath.Join(dir, "messages.json")
	if err := os.WriteFile(msgs, []byte(`[{"role": "user", "content": "808 in words:"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	fromPrompt := runOK(t, "generate", "--model", mdir, "--prompt", "808 in words:", "--threads", "1")
	fromMessages := runOK(t, "generate", "--model", mdir, "--messages", msgs, "--threads", "1")
	if fromPrompt != fromMessages {
		t.Errorf("--messages gave %q, --prompt %q", fromMessages, fromPrompt)
	}

	// an adapter whose B is large enough to change the greedy output
	be := cpu.New(1)
	defer be.Close()
	lc := &model.LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all-linear"}}
	m, err := model.Load(mdir, be, model.Options{LoRA: lc})
	if err != nil {
		t.Fatal(err)
	}
	m.InitLoRA(3)
	for _, ts := range m.Trainable() {
		if strings.HasSuffix(ts.Name, "lora_B.weight") {
			for i := range ts.Data {
				ts.Data[i] = float32((i%7)-3) * 0.5
			}
		}
	}
	adir := filepath.Join(dir, "adapter")
	if err := m.SaveAdapter(adir, mdir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(mdir)
	if err != nil {
		t.Fatal(err)
	}
	var prompt []int32
	for _, id := range tok.Encode("808 in words:", true) {
		prompt = append(prompt, int32(id))
	}
	eos, _ := tok.EOS()
	want := map[bool]string{}
	for _, base := range []bool{false, true} {
		g, err := m.Generate(prompt, model.GenerateOptions{MaxNewTokens: 59, StopIDs: []int32{int32(eos)}, NoAdapters: base}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int, len(g.IDs))
		for i, id := range g.IDs {
			ids[i] = int(id)
		}
		want[base] = tok.Decode(ids, true) + "\n"
	}
	if want[false] == want[true] {
		t.Fatal("the test adapter does not change the greedy output; make it stronger")
	}
	if want[true] != fromPrompt {
		t.Errorf("base model: library %q, CLI %q", want[true], fromPrompt)
	}
	if got := runOK(t, "generate", "--model", mdir, "--adapter", adir, "--prompt", "808 in words:", "--threads", "1"); got != want[false] {
		t.Errorf("with --adapter: CLI %q, library %q", got, want[false])
	}
}

// TestGenerateBadInput: flag and file problems exit 2 with a message.
func TestGenerateBadInput(t *testing.T) {
	dir := t.TempDir()
	notArray := filepath.Join(dir, "m.json")
	os.WriteFile(notArray, []byte(`{"role": "user"}`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--prompt", "x"}, "--model is required"},
		{[]string{"--model", demoModelDir}, "exactly one of --prompt and --messages"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "--messages", notArray}, "exactly one"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "--temperature", "-1"}, "--temperature"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "--top-p", "0"}, "--top-p"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "--max-new-tokens", "0"}, "--max-new-tokens"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "--max-new-tokens", "100"}, "max_position_embeddings"},
		{[]string{"--model", demoModelDir, "--prompt", ""}, "no tokens"},
		{[]string{"--model", filepath.Join(dir, "missing"), "--prompt", "x"}, "--model"},
		{[]string{"--model", demoModelDir, "--messages", notArray}, "JSON array"},
		{[]string{"--model", demoModelDir, "--messages", notArray + ".missing"}, "messages"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "--adapter", dir}, "--adapter"},
		{[]string{"--model", demoModelDir, "--prompt", "x", "extra"}, "unexpected argument"},
		{[]string{"--bogus"}, "bogus"},
	} {
		var so, se bytes.Buffer
		code := run(append([]string{"generate"}, c.args...), nil, &so, &se)
		if code != 2 || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, se.String(), c.want)
		}
	}
}
