package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/demo"
)

// writePrompts writes prompt rows for numbers ns: {"prompt": "N in words:",
// "reference": words, "id": k}, with some prompts padded by a prefix so the lengths
// differ.
func writePrompts(t *testing.T, path string, ns []int) {
	t.Helper()
	var b bytes.Buffer
	for k, n := range ns {
		p := demo.Prompt(n)
		if k%3 == 1 {
			p = "so " + p // a longer prompt
		}
		row, _ := json.Marshal(map[string]any{"prompt": p, "reference": demo.Words(n, false), "id": k})
		b.Write(row)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type genOut struct {
	Prompt     string  `json:"prompt"`
	Completion string  `json:"completion"`
	TokenIDs   []int32 `json:"token_ids"`
	Stopped    bool    `json:"stopped"`
	Reference  string  `json:"reference"`
	ID         int     `json:"id"`
}

func readGenRows(t *testing.T, path string) []genOut {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []genOut
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var g genOut
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		out = append(out, g)
	}
	return out
}

// TestGenerateData: --data writes one row per prompt in input order with the prompt,
// completion, token ids, stop flag and the copied reference and id; the file is the
// same byte for byte at batch sizes 1, 3 and 8, greedy and sampled; greedy rows equal
// the single-prompt `generate --prompt … --json`.
func TestGenerateData(t *testing.T) {
	dir := t.TempDir()
	prompts := filepath.Join(dir, "prompts.jsonl")
	ns := []int{347, 12, 808, 5, 999, 61, 700, 18, 233, 4, 150}
	writePrompts(t, prompts, ns)
	for _, mode := range [][]string{
		{"--max-new-tokens", "16"},
		{"--max-new-tokens", "16", "--temperature", "1.3", "--top-p", "0.95", "--seed", "7"},
	} {
		var files [][]byte
		for _, bs := range []string{"1", "3", "8"} {
			out := filepath.Join(dir, "gens"+bs+".jsonl")
			msg := runOK(t, append([]string{"generate", "--model", demoModelDir, "--data", prompts, "--out", out, "--batch-size", bs, "--threads", "1"}, mode...)...)
			if !strings.Contains(msg, fmt.Sprintf("wrote %d generations", len(ns))) || !strings.Contains(msg, "tokens/s") {
				t.Errorf("summary %q", msg)
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, raw)
		}
		for i := 1; i < len(files); i++ {
			if !bytes.Equal(files[i], files[0]) {
				t.Errorf("%v: batch size %d output differs from batch size 1:\n%s\nvs\n%s", mode, []int{1, 3, 8}[i], files[i], files[0])
			}
		}
		rows := readGenRows(t, filepath.Join(dir, "gens1.jsonl"))
		if len(rows) != len(ns) {
			t.Fatalf("%d rows for %d prompts", len(rows), len(ns))
		}
		for k, r := range rows {
			if r.ID != k || r.Reference != demo.Words(ns[k], false) || !strings.HasSuffix(r.Prompt, demo.Prompt(ns[k])) {
				t.Errorf("row %d: %+v (out of order or fields not copied)", k, r)
			}
			if len(r.TokenIDs) == 0 || len(r.TokenIDs) > 16 || r.Stopped != (r.TokenIDs[len(r.TokenIDs)-1] == 348) {
				t.Errorf("row %d: %d tokens, stopped %v: %v", k, len(r.TokenIDs), r.Stopped, r.TokenIDs)
			}
		}
		if len(mode) > 2 {
			continue
		}
		for _, k := range []int{0, 1, 4} {
			var js genOut
			raw := runOK(t, "generate", "--model", demoModelDir, "--prompt", rows[k].Prompt, "--max-new-tokens", "16", "--json", "--threads", "1")
			if err := json.Unmarshal([]byte(raw), &js); err != nil {
				t.Fatal(err)
			}
			if !equalIDs(js.TokenIDs, rows[k].TokenIDs) || js.Completion != rows[k].Completion {
				t.Errorf("row %d: --data %v %q, --prompt %v %q", k, rows[k].TokenIDs, rows[k].Completion, js.TokenIDs, js.Completion)
			}
		}
	}
}

// TestGenerateDataJudge: `judge` reads --data output directly: two generation files
// (greedy, sampled) of one prompts file align by prompt, and the exact judge's counts
// against the copied references are the ones computed here from the rows; a file
// against itself is all ties.
func TestGenerateDataJudge(t *testing.T) {
	dir := t.TempDir()
	prompts := filepath.Join(dir, "prompts.jsonl")
	ns := []int{1, 2, 3, 10, 11, 20, 42, 99, 100, 512}
	writePrompts(t, prompts, ns)
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	runOK(t, "generate", "--model", demoModelDir, "--data", prompts, "--out", a, "--max-new-tokens", "12", "--threads", "1")
	runOK(t, "generate", "--model", demoModelDir, "--data", prompts, "--out", b, "--max-new-tokens", "12", "--temperature", "1.5", "--seed", "3", "--threads", "1")
	ra, rb := readGenRows(t, a), readGenRows(t, b)
	var want struct{ Wins, Ties, Losses int }
	for k := range ra {
		sa := strings.TrimSpace(ra[k].Completion) == strings.TrimSpace(ra[k].Reference)
		sb := strings.TrimSpace(rb[k].Completion) == strings.TrimSpace(rb[k].Reference)
		switch {
		case sa == sb:
			want.Ties++
		case sa:
			want.Wins++
		default:
			want.Losses++
		}
	}
	var res struct {
		N, Wins, Ties, Losses int
	}
	raw := runOK(t, "judge", "--a", a, "--b", b, "--judge", "exact", "--json")
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("judge output %q: %v", raw, err)
	}
	if res.N != len(ns) || res.Wins != want.Wins || res.Ties != want.Ties || res.Losses != want.Losses {
		t.Errorf("judge %+v, from the rows %+v (n %d)", res, want, len(ns))
	}
	raw = runOK(t, "judge", "--a", a, "--b", a, "--judge", demo.JudgeName, "--json")
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatal(err)
	}
	if res.N != len(ns) || res.Ties != len(ns) {
		t.Errorf("a file against itself: %+v", res)
	}
}

// TestGenerateDataMessages: message prompts ({"prompt": [...]} and {"messages": [...]})
// are rendered with the chat template (one that renders the content as is gives the
// plain prompt's tokens), and the output keeps the prompt value as given.
func TestGenerateDataMessages(t *testing.T) {
	dir := t.TempDir()
	mdir := filepath.Join(dir, "model")
	if err := demo.WriteAssets(mdir); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(mdir, "tokenizer_config.json")
	var cfg map[string]any
	raw, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	prompts := filepath.Join(dir, "p.jsonl")
	rows := `{"prompt": "808 in words:"}
{"prompt": [{"role": "user", "content": "808 in words:"}]}
{"messages": [{"role": "user", "content": "808 in words:"}], "answer": 808}
`
	if err := os.WriteFile(prompts, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "g.jsonl")
	runOK(t, "generate", "--model", mdir, "--data", prompts, "--out", out, "--threads", "1")
	lines := strings.Split(strings.TrimSpace(readFile(t, out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d output rows: %q", len(lines), lines)
	}
	var got []map[string]json.RawMessage
	for _, l := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	for k := 1; k < 3; k++ {
		if string(got[k]["token_ids"]) != string(got[0]["token_ids"]) {
			t.Errorf("row %d: %s, the plain prompt %s", k+1, got[k]["token_ids"], got[0]["token_ids"])
		}
	}
	if want := `[{"role":"user","content":"808 in words:"}]`; string(got[1]["prompt"]) != want || string(got[2]["prompt"]) != want {
		t.Errorf("prompt values %s, %s; want %s", got[1]["prompt"], got[2]["prompt"], want)
	}
	if string(got[2]["answer"]) != "808" {
		t.Errorf("answer not copied: %s", lines[2])
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGenerateDataBadInput: bad rows and flags exit 2 naming file:row:field, and
// nothing is written.
func TestGenerateDataBadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good.jsonl", `{"prompt": "12 in words:"}`+"\n")
	missing := file("missing.jsonl", `{"prompt": "12 in words:"}`+"\n"+`{"text": "x"}`+"\n")
	notJSON := file("notjson.jsonl", `{"prompt": "1 in words:"}`+"\n\n"+`{"prompt": `+"\n")
	badMsgs := file("badmsgs.jsonl", `{"prompt": [{"content": "hi"}]}`+"\n")
	noTemplate := file("notemplate.jsonl", `{"prompt": [{"role": "user", "content": "hi"}]}`+"\n")
	empty := file("emptyprompt.jsonl", `{"prompt": ""}`+"\n")
	msgString := file("msgstring.jsonl", `{"messages": "hi"}`+"\n")
	out := filepath.Join(dir, "out.jsonl")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", missing, "--out", out}, missing + ":2:prompt: missing"},
		{[]string{"--data", notJSON, "--out", out}, notJSON + ":3: not a JSON object"},
		{[]string{"--data", badMsgs, "--out", out}, badMsgs + `:1:prompt: message 0: "role" must be a string`},
		{[]string{"--data", noTemplate, "--out", out}, noTemplate + ":1:prompt: a list of messages needs a chat template"},
		{[]string{"--data", empty, "--out", out}, empty + ":1:prompt: encodes to no tokens"},
		{[]string{"--data", msgString, "--out", out}, msgString + ":1:messages: must be a list of messages"},
		{[]string{"--data", good, "--out", out, "--max-new-tokens", "64"}, good + ":1:prompt: the prompt"},
		{[]string{"--data", filepath.Join(dir, "nope.jsonl"), "--out", out}, "--data"},
		{[]string{"--data", good}, "--data needs --out"},
		{[]string{"--out", out, "--prompt", "x"}, "--out is for --data"},
		{[]string{"--prompt", "x", "--batch-size", "2"}, "--batch-size is for --data"},
		{[]string{"--data", good, "--out", out, "--batch-size", "0"}, "--batch-size"},
		{[]string{"--data", good, "--out", out, "--prompt", "x"}, "exactly one of --prompt, --messages and --data"},
	} {
		var so, se bytes.Buffer
		code := run(append([]string{"generate", "--model", demoModelDir, "--threads", "1"}, c.args...), nil, &so, &se)
		if code != 2 || !strings.Contains(se.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, se.String(), c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: output written despite the error", c.args)
		}
	}
}
