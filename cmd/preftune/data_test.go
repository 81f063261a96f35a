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

	"github.com/parquet-go/parquet-go"
)

func TestDataCommand(t *testing.T) {
	const pref = "../../testdata/preferences"
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt": "p", "chosen": "a", "rejected": "b"}`+"\n"+`{"prompt": "p", "chosen": "a"}`+"\n"), 0o644)
	unknown := filepath.Join(dir, "unknown.jsonl")
	os.WriteFile(unknown, []byte(`{"question": "q", "answer": "a"}`+"\n"), 0o644)
	mapped := filepath.Join(dir, "mapped.jsonl")
	os.WriteFile(mapped, []byte(`{"question": "q", "response_j": "a", "response_k": "b"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out.json")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
	}{
		{"no verb", []string{"data"}, 2, nil, []string{"missing verb"}},
		{"unknown verb", []string{"data", "frob"}, 2, nil, []string{`unknown verb "frob"`}},
		{"check ultrafeedback", []string{"data", "check", pref + "/ultrafeedback_binarized_200.jsonl"}, 0,
			[]string{"200 rows, 199 loaded, format trl×199", "chosen==rejected: 1", "skipped 1 pair(s) with chosen == rejected",
				"warning: ../../testdata/preferences/ultrafeedback_binarized_200.jsonl:44:rejected: chosen and rejected are identical"}, nil},
		{"check ultrafeedback --keep-identical", []string{"data", "check", pref + "/ultrafeedback_binarized_200.jsonl", "--keep-identical"}, 0,
			[]string{"200 rows, 200 loaded, format trl×200", "chosen==rejected: 1"}, nil},
		{"check hh: one empty completion is exit 2", []string{"data", "check", pref + "/hh_rlhf_harmless_200.jsonl"}, 2,
			[]string{"200 rows, 199 loaded, format hh-rlhf×199", "1  invalid: chosen: empty completion"},
			[]string{"hh_rlhf_harmless_200.jsonl:87:chosen: empty completion"}},
		{"check registry names, flags after the dataset", []string{"data", "check", "dpo_en_demo,dpo_zh_demo,kto_en_demo", "--dataset-dir", pref + "/llamafactory"}, 0,
			[]string{"(dataset dpo_en_demo): 300 rows, 300 loaded", "(dataset dpo_zh_demo): 300 rows, 300 loaded", "(dataset kto_en_demo): 300 rows, 300 loaded",
				"total: 900 rows, 900 loaded (pair 600, unpaired 300)", "duplicates: 16"}, nil},
		{"check with tokenizer", []string{"data", "check", "--tokenizer", "../../testdata/tokenizers/qwen2.5", "--dataset-dir", pref + "/llamafactory", "dpo_zh_demo", "--max-length", "256", "--truncation-mode", "keep_end"}, 0,
			// keep_end at 256: a row whose longest completion has 256 tokens or more keeps
			// no prompt token, and is dropped as train drops it (151 kept, 149 dropped)
			[]string{"tokens (../../testdata/tokenizers/qwen2.5, 300 rows", "prompt+longest completion", "with the length limits: 151 rows kept, 149 dropped"}, nil},
		{"check with tokenizer, LLaMA-Factory cutoff", []string{"data", "check", "--tokenizer", "../../testdata/tokenizers/qwen2.5", "--dataset-dir", pref + "/llamafactory", "dpo_zh_demo", "--cutoff-len", "64", "--infer-seqlen"}, 0,
			[]string{"with the length limits: 300 rows kept, 0 dropped"}, nil},
		{"drop invalid", []string{"data", "check", pref + "/hh_rlhf_harmless_200.jsonl", "--drop-invalid"}, 0, []string{"200 rows, 199 loaded"}, nil},
		{"missing field", []string{"data", "check", bad}, 2, []string{"invalid: 1"}, []string{"bad.jsonl:2:rejected: missing field (row has: chosen, prompt)"}},
		{"unknown format", []string{"data", "check", unknown}, 2, nil, []string{"unknown.jsonl:1: unknown format: row has keys {answer, question}"}},
		{"column mapping", []string{"data", "check", mapped, "--columns", "prompt=question,chosen=response_j,rejected=response_k"}, 0, []string{"1 rows, 1 loaded, format trl×1"}, nil},
		{"bad column mapping", []string{"data", "check", mapped, "--columns", "prompt"}, 2, nil, []string{"is not CANONICAL=COLUMN"}},
		{"two datasets needed one", []string{"data", "check", "a", "b"}, 2, nil, []string{"want one dataset"}},
		{"convert to sharegpt", []string{"data", "convert", pref + "/llamafactory/dpo_en_demo.json", out, "--to", "sharegpt"}, 0, []string{"300 rows written as sharegpt"}, nil},
		{"converted file checks", []string{"data", "check", out}, 0, []string{"300 rows, 300 loaded, format llamafactory-sharegpt×300"}, nil},
		{"convert without --to", []string{"data", "convert", mapped, out}, 2, nil, []string{"--to is required"}},
		{"convert invalid input", []string{"data", "convert", bad, out, "--to", "trl"}, 2, nil, []string{"bad.jsonl:2:rejected: missing field"}},
		{"convert tokenized needs tokenizer", []string{"data", "convert", mapped, out, "--to", "jsonl-tokenized", "--columns", "prompt=question,chosen=response_j,rejected=response_k"}, 2, nil, []string{"needs a tokenizer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

func TestDataConvertTokenized(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tok.jsonl")
	var stdout, stderr bytes.Buffer
	code := run([]string{"data", "convert", "../../testdata/preferences/ultrafeedback_binarized_200.jsonl", out,
		"--to", "jsonl-tokenized", "--tokenizer", "../../testdata/tokenizers/gpt2", "--max-length", "64", "--max-completion-length", "48", "--truncation-mode", "keep_end"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"data", "check", out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("check exit %d: %s", code, stderr.String())
	}
	// Row 44 (chosen == rejected) is skipped by default.
	if !strings.Contains(stdout.String(), "199 rows, 199 loaded, format trl-pretokenized×199") {
		t.Errorf("check of the tokenized file: %s", stdout.String())
	}
}

// okPair is a valid TRL row; bad fixtures put it first so the bad row is row 2.
const okPair = `{"prompt": "p", "chosen": "a fine answer", "rejected": "a worse answer"}`

// okRated is a valid UltraFeedback row.
const okRated = `{"instruction": "q", "completions": [{"response": "a fine answer", "annotations": {"helpfulness": {"Rating": "5"}}}, {"response": "a worse answer", "annotations": {"helpfulness": {"Rating": "2"}}}]}`

// writeHuge writes prefix, n bytes of 'a', suffix, streaming.
func writeHuge(t *testing.T, path, prefix string, n int, suffix string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(prefix)
	chunk := strings.Repeat("a", 1<<16)
	for k := 0; k < n; k += len(chunk) {
		w.WriteString(chunk[:min(len(chunk), n-k)])
	}
	w.WriteString(suffix)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDataBadInput runs every bad-input case of the acceptance list through check,
// convert, sample (preference rows) and from-ratings (rated rows): each exits with 2,
// names file:row:field, and leaves no output file.
func TestDataBadInput(t *testing.T) {
	dir := t.TempDir()
	type fixture struct {
		name string            // file name
		make func(path string) // writes it
		want string            // file:row:field: message prefix, after the directory
	}
	text := func(content string) func(string) {
		return func(p string) {
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const huge = 50_000_000
	tests := []struct {
		name    string
		pairs   fixture // for check, convert, sample
		ratings fixture // for from-ratings; zero: not applicable
	}{
		// `{"prompt": "p", ` 16 + `"chosen": "a", ` 15 + `"rejected": ` 12 = 43 bytes
		// before the '}': column 44. In the ratings row, `{"instruction": "q", ` 21 +
		// `"completions": [` 16 = 37 bytes before the 'x': column 38.
		{"malformed JSON line",
			fixture{"malformed.jsonl", text(okPair + "\n" + `{"prompt": "p", "chosen": "a", "rejected": }` + "\n"),
				"malformed.jsonl:2:rejected: invalid JSON at column 44: invalid character '}' looking for beginning of value"},
			fixture{"malformed_r.jsonl", text(okRated + "\n" + `{"instruction": "q", "completions": [x]}` + "\n"),
				"malformed_r.jsonl:2:completions[0]: invalid JSON at column 38: invalid character 'x' looking for beginning of value"}},
		{"malformed JSON array element",
			fixture{"malformed.json", text("[\n" + okPair + ",\n" + `{"prompt": "p", "chosen": tru, "rejected": "b"}` + "\n]\n"),
				"malformed.json:2:chosen: invalid JSON: invalid character ',' in literal true (expecting 'e') (the row starts on line 3)"},
			fixture{}},
		{"missing column",
			fixture{"missing.jsonl", text(okPair + "\n" + `{"prompt": "p", "chosen": "a"}` + "\n"),
				"missing.jsonl:2:rejected: missing field (row has: chosen, prompt)"},
			fixture{"missing_r.jsonl", text(okRated + "\n" + `{"instruction": "q"}` + "\n"),
				"missing_r.jsonl:2:completions: missing field (row has: instruction)"}},
		{"wrong type",
			fixture{"type.jsonl", text(okPair + "\n" + `{"prompt": "p", "chosen": 42, "rejected": "b"}` + "\n"),
				"type.jsonl:2:chosen: expected a string or a list of messages, got number 42"},
			fixture{"type_r.jsonl", text(okRated + "\n" + `{"instruction": 42, "completions": []}` + "\n"),
				"type_r.jsonl:2:instruction: expected a string, got number 42"}},
		{"empty chosen",
			fixture{"empty.jsonl", text(okPair + "\n" + `{"prompt": "p", "chosen": "", "rejected": "b"}` + "\n"),
				"empty.jsonl:2:chosen: empty completion"},
			fixture{}},
		{"null",
			fixture{"null.jsonl", text(okPair + "\n" + `{"prompt": "p", "chosen": null, "rejected": "b"}` + "\n"),
				"null.jsonl:2:chosen: field is null"},
			fixture{"null_r.jsonl", text(okRated + "\n" + `{"instruction": "q", "completions": null}` + "\n"),
				"null_r.jsonl:2:completions: field is null"}},
		{"unknown role",
			fixture{"role.jsonl", text(okPair + "\n" + `{"prompt": [{"role": "bot", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}` + "\n"),
				`role.jsonl:2:prompt[0].role: bad role "bot" (expected system, user, assistant or tool)`},
			fixture{}},
		{"invalid UTF-8",
			// `{"prompt": "p", "chosen": "caf` is 30 bytes: 0xe9 (Latin-1 é) is column 31.
			fixture{"utf8.jsonl", text(okPair + "\n" + "{\"prompt\": \"p\", \"chosen\": \"caf\xe9\", \"rejected\": \"b\"}" + "\n"),
				"utf8.jsonl:2:chosen: invalid UTF-8: byte 0xe9 at column 31"},
			// `{"instruction": "q", ` 21 + `"completions": [` 16 + `{"response": "caf` 17 = 54 bytes.
			fixture{"utf8_r.jsonl", text(okRated + "\n" + "{\"instruction\": \"q\", \"completions\": [{\"response\": \"caf\xe9\", \"annotations\": {}}]}" + "\n"),
				"utf8_r.jsonl:2:completions[0].response: invalid UTF-8: byte 0xe9 at column 55"}},
		{"50 MB field",
			// `{"prompt": "p", "chosen": "` 27 + 50,000,000 + `", "rejected": "b"}` 19.
			fixture{"huge.jsonl", func(p string) {
				writeHuge(t, p, okPair+"\n"+`{"prompt": "p", "chosen": "`, huge, `", "rejected": "b"}`+"\n")
			},
				"huge.jsonl:2:chosen: row too large: 50000046 bytes, over the 16 MiB limit"},
			// `{"instruction": "q", "completions": [{"response": "` 51 + 50,000,000 + `", "annotations": {}}]}` 23.
			fixture{"huge_r.jsonl", func(p string) {
				writeHuge(t, p, okRated+"\n"+`{"instruction": "q", "completions": [{"response": "`, huge, `", "annotations": {}}]}`+"\n")
			}, "huge_r.jsonl:2:completions[0].response: row too large: 50000074 bytes, over the 16 MiB limit"}},
		{"Parquet with the wrong schema",
			fixture{"schema.parquet", func(p string) {
				type row struct {
					Prompt   string `parquet:"prompt"`
					Chosen   int64  `parquet:"chosen"`
					Rejected string `parquet:"rejected"`
				}
				if err := parquet.WriteFile(p, []row{{"p", 7, "b"}}); err != nil {
					t.Fatal(err)
				}
			}, "schema.parquet:1:chosen: expected a string or a list of messages, got number 7"},
			fixture{"schema_r.parquet", func(p string) {
				type row struct {
					Prompt      string `parquet:"prompt"`
					Response    int64  `parquet:"response"`
					Helpfulness int64  `parquet:"helpfulness"`
				}
				if err := parquet.WriteFile(p, []row{{"p", 7, 3}}); err != nil {
					t.Fatal(err)
				}
			}, "schema_r.parquet:1:response: expected a string, got number 7"}},
	}
	run1 := func(t *testing.T, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && strings.HasPrefix(tc.name, "50 MB") {
				t.Skip("writes 100 MB")
			}
			in := filepath.Join(dir, tc.pairs.name)
			tc.pairs.make(in)
			want := filepath.Join(dir, tc.pairs.want)
			out := filepath.Join(dir, "out-"+tc.pairs.name+".jsonl")
			for _, args := range [][]string{
				{"data", "check", in},
				{"data", "convert", in, out, "--to", "trl"},
				{"data", "sample", in, out, "--total", "1", "--ratio", "en=1"},
			} {
				code, stdout, stderr := run1(t, args...)
				if code != 2 {
					t.Errorf("%s: exit %d, want 2\n%s%s", args[1], code, stdout, stderr)
				}
				if !strings.Contains(stderr, want) {
					t.Errorf("%s: stderr lacks %q:\n%s", args[1], want, stderr)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("%s: output file left behind (%v)", args[1], err)
				}
			}
			if tc.ratings.name == "" {
				return
			}
			in = filepath.Join(dir, tc.ratings.name)
			tc.ratings.make(in)
			want = filepath.Join(dir, tc.ratings.want)
			code, stdout, stderr := run1(t, "data", "from-ratings", in, out)
			if code != 2 {
				t.Errorf("from-ratings: exit %d, want 2\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, want) {
				t.Errorf("from-ratings: stderr lacks %q:\n%s", want, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("from-ratings: output file left behind (%v)", err)
			}
			// No temporary file either.
			if m, _ := filepath.Glob(filepath.Join(dir, ".out-*")); len(m) > 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
}

// TestDataCheckReportsAll: one file with a bad row of every kind; check lists them
// all (not only the first), each as file:row:field, and exits 2.
func TestDataCheckReportsAll(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "all.jsonl")
	rows := []string{
		okPair, // 1
		`{"prompt": "p", "chosen": "a", "rejected": }`,          // 2
		`{"prompt": "p", "chosen": "a"}`,                        // 3
		`{"prompt": "p", "chosen": 42, "rejected": "b"}`,        // 4
		`{"prompt": "p", "chosen": "", "rejected": "b"}`,        // 5
		`{"prompt": "p", "chosen": "a", "rejected": null}`,      // 6
		`{"prompt": "p", "chosen": "same", "rejected": "same"}`, // 7
		`{"prompt": [{"role": "bot", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, // 8
		"{\"prompt\": \"p\", \"chosen\": \"caf\xe9\", \"rejected\": \"b\"}",                                                                                     // 9
		`{"prompt": "p", "chosen": "` + strings.Repeat("x", 200) + `", "rejected": "b"}`,                                                                        // 10: 246 bytes, over --max-row-bytes 160
		okPair, // 11
	}
	if err := os.WriteFile(p, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"data", "check", p, "--max-row-bytes", "160"}, nil, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, stderr.String())
	}
	wants := []string{
		"total: 11 rows, 2 loaded", // rows 1 and 11; 7 is skipped (identical)
		"invalid: 8  dropped: 0  chosen==rejected: 1",
		"invalid: all.jsonl:2:rejected: invalid JSON at column 44",
		"invalid: all.jsonl:3:rejected: missing field",
		"invalid: all.jsonl:4:chosen: expected a string or a list of messages, got number 42",
		"invalid: all.jsonl:5:chosen: empty completion",
		"invalid: all.jsonl:6:rejected: field is null",
		"warning: all.jsonl:7:rejected: chosen and rejected are identical",
		`invalid: all.jsonl:8:prompt[0].role: bad role "bot"`,
		"invalid: all.jsonl:9:chosen: invalid UTF-8",
		"invalid: all.jsonl:10:chosen: row too large: 246 bytes, over the 160 bytes limit",
	}
	got := strings.ReplaceAll(stdout.String(), dir+"/", "")
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("check output lacks %q:\n%s", w, got)
		}
	}
	if !strings.Contains(stderr.String(), "8 invalid row(s)") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestDataIdentical: chosen == rejected is a warning and the pair is skipped; the
// command succeeds and writes the other rows.
func TestDataIdentical(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(okPair+"\n"+`{"prompt": "p", "chosen": "same", "rejected": "same"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"data", "convert", in, out, "--to", "trl"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, _ := os.ReadFile(out)
	if n := strings.Count(string(b), "\n"); n != 1 || strings.Contains(string(b), "same") {
		t.Errorf("output %q: want only row 1", b)
	}
	if code := run([]string{"data", "convert", in, out, "--to", "trl", "--keep-identical"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if b, _ = os.ReadFile(out); strings.Count(string(b), "\n") != 2 {
		t.Errorf("--keep-identical: %q", b)
	}
}

func TestDataFromRatings(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "uf.jsonl")
	// Helpfulness 5 → 1 and 2 → 0.25 (UltraFeedback's 1..5 scale); with only
	// helpfulness rated, the score is the helpfulness. A tie row makes no pair.
	os.WriteFile(in, []byte(okRated+"\n"+
		`{"instruction": "t", "completions": [{"response": "first answer", "annotations": {"helpfulness": {"Rating": "3"}}}, {"response": "second answer", "annotations": {"helpfulness": {"Rating": "3"}}}]}`+"\n"), 0o644)
	out := filepath.Join(dir, "pairs.jsonl")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"data", "from-ratings", in, out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, w := range []string{"2 rows, 2 prompts, 4 rated responses", "1 ties", "1 prompts gave no pair", "1 pairs written"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var row struct {
		Prompt, Chosen, Rejected   string
		ScoreChosen, ScoreRejected float64 `json:"-"`
		SC                         float64 `json:"score_chosen"`
		SR                         float64 `json:"score_rejected"`
	}
	if err := json.Unmarshal(b, &row); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if row.Prompt != "q" || row.Chosen != "a fine answer" || row.Rejected != "a worse answer" || math.Abs(row.SC-1) > 1e-12 || math.Abs(row.SR-0.25) > 1e-12 {
		t.Errorf("pair %+v", row)
	}
	// The output loads as TRL standard.
	stdout.Reset()
	if code := run([]string{"data", "check", out}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "1 rows, 1 loaded, format trl×1") {
		t.Errorf("check of the output: %d %s", code, stdout.String())
	}
	// A margin above the only gap (0.75): no pair, exit 2, no file.
	out2 := filepath.Join(dir, "none.jsonl")
	if code := run([]string{"data", "from-ratings", in, out2, "--margin", "0.8"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("margin 0.8: exit %d, want 2", code)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("margin 0.8: output written")
	}
	for _, bad := range [][]string{{"--weights", "honesty=1"}, {"--margin", "-1"}, {"--min-chars", "x"}} {
		if code := run(append([]string{"data", "from-ratings", in, out2}, bad...), nil, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestDataSample(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	for i := 0; i < 6; i++ {
		b.WriteString(`{"prompt": "English question ` + string(rune('a'+i)) + `", "chosen": "yes", "rejected": "no"}` + "\n")
	}
	b.WriteString(`{"prompt": "English question a", "chosen": "yes", "rejected": "no"}` + "\n") // duplicate of row 1
	for i := 0; i < 3; i++ {
		b.WriteString(`{"prompt": "中文问题` + string(rune('一'+i)) + `", "chosen": "是的", "rejected": "不"}` + "\n")
	}
	os.WriteFile(in, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	var stdout, stderr bytes.Buffer
	// 6 rows at 0.5/0.5: 3 en of 6 distinct, 3 zh of 3.
	if code := run([]string{"data", "sample", in, out, "--total", "6", "--ratio", "en=0.5,zh=0.5", "--seed", "3"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, w := range []string{"10 rows, 1 exact duplicates removed", "en     ratio 0.5: 3 wanted, 6 available, 3 taken", "zh     ratio 0.5: 3 wanted, 3 available, 3 taken", "6 rows written as trl"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
		}
	}
	got, _ := os.ReadFile(out)
	if strings.Count(string(got), "中文问题") != 3 || strings.Count(string(got), "English") != 3 {
		t.Errorf("output:\n%s", got)
	}
	// Same seed, same file.
	out2 := filepath.Join(dir, "out2.jsonl")
	run([]string{"data", "sample", in, out2, "--total", "6", "--ratio", "en=0.5,zh=0.5", "--seed", "3"}, nil, &stdout, &stderr)
	if got2, _ := os.ReadFile(out2); !bytes.Equal(got, got2) {
		t.Errorf("same seed, different output")
	}
	// 4 zh wanted, 3 available: exit 2 and no file; --allow-short takes the 3.
	out3 := filepath.Join(dir, "out3.jsonl")
	stderr.Reset()
	if code := run([]string{"data", "sample", in, out3, "--total", "8", "--ratio", "en=0.5,zh=0.5"}, nil, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "zh: 4 wanted, 3 available") {
		t.Errorf("short: exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(out3); !os.IsNotExist(err) {
		t.Errorf("short: output written")
	}
	stdout.Reset()
	if code := run([]string{"data", "sample", in, out3, "--total", "8", "--ratio", "en=0.5,zh=0.5", "--allow-short"}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "7 rows written") {
		t.Errorf("--allow-short: exit %d: %s", code, stdout.String())
	}
	for _, bad := range [][]string{{"--ratio", "en=1"}, {"--total", "3"}, {"--total", "3", "--ratio", "en=0.5"}} {
		if code := run(append([]string{"data", "sample", in, out3}, bad...), nil, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
