package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/preftune/preftune/model"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoad checks that no file content makes loading panic, whatever the format
// detected, read as f.jsonl and as f.json through loadReader (what Load runs on
// each file it opens, so no exec touches the disk), then tokenized and batched. `go test` runs the seeds; `go test -fuzz FuzzLoad ./data` explores.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		`{"prompt": "p", "chosen": "a", "rejected": "b"}`,
		`{"chosen": "\n\nHuman: x\n\nAssistant: a", "rejected": "\n\nHuman: x\n\nAssistant: b"}`,
		`{"chosen": [{"role": "user", "content": "q"}], "rejected": [{"role": "user", "content": "q"}]}`,
		`{"chosen": [], "rejected": []}`,
		`{"prompt": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "chosen": [{"role": "assistant", "content": null}], "rejected": 3}`,
		`{"prompt_input_ids": [1, 2e3, -1], "chosen_input_ids": [1.5], "rejected_input_ids": "x"}`,
		`{"prompt": "p", "completion": "c", "label": 1}`,
		`{"prompt": "p", "responses": ["a", ["b"]], "ranking": [1, "2"]}`,
		`[{"instruction": 1, "input": [], "chosen": "a", "rejected": "b", "history": [[1, 2], "x"]}]`,
		`[{"conversations": [{"from": "system", "value": "s"}], "chosen": {"from": 1}, "rejected": {}}]`,
		`[{"messages": [{"role": "user", "content": "q"}], "label": true}, {"messages": [], "label": false}]`,
		`[{"conversations": "x", "kto_tag": "yes"}]`,
		"\xef\xbb\xbf[1, {\"a\": ",
		"{\"a\": 1}\n\n\n[2]\n\"s\"\nnull",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, name := range []string{"f.jsonl", "f.json"} {
			for _, pol := range []Policy{PolicyDrop, PolicyStrict} {
				ds, _ := loadReader(name, bytes.NewReader(b), Options{Policy: pol})
				if ds == nil {
					continue
				}
				tk := &Tokenizer{Enc: fakeEnc{}, Chat: chatml(false), Opts: TokenizeOptions{Rules: RulesTRLLegacy, MaxLength: 8, MaxPromptLength: 4, MaxCompletionLength: 3}}
				tks, _, _ := tk.TokenizeAll(ds.Examples, PolicyDrop)
				var pairs []model.Pair
				for i := range tks {
					if len(tks[i].Completions) == 2 {
						p := tks[i].Pair()
						pairs = append(pairs, model.Pair{Prompt: p.PromptIDs, Chosen: p.ChosenIDs, Rejected: p.RejectedIDs})
					}
				}
				// The one batcher, in the step's default layout: must not panic on any tokenized pair.
				model.BuildBatch(model.PairGroups(pairs), model.Layout{SharePrompt: true, Pack: true})
			}
		}
	})
}

// FuzzReadJSONL checks the JSON Lines reader against encoding/json: every non-blank
// line gives exactly one record, numbered by its line; a line that is one JSON object
// of valid UTF-8 within the size limit is read, anything else is an error naming the
// file and line. `go test -fuzz FuzzReadJSONL ./data` explores.
func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		`{"prompt": "p", "chosen": "a", "rejected": "b"}`,
		"{\"a\": 1}\n\n  \n{\"b\": [1, {\"c\": null}]}\r\n",
		"\xef\xbb\xbf{\"a\": \"b\"}\n[1]\n\"s\"\nnull\n{\"a\": 1} {\"b\": 2}",
		"{\"a\": \"caf\xe9\"}\n{\"a\": \"\\ud800\"}",
		`{"prompt": "p", "chosen": ` + "\n" + `{"x": tru}`,
		`{"k": "` + strings.Repeat("x", 300) + `"}`,
		"{\"a\":\x00}",
	} {
		f.Add([]byte(s))
	}
	const limit = 256
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := strings.Split(string(b), "\n")
		var got []*Record
		err := readJSONL("f.jsonl", bytes.NewReader(b), 0, limit, func(r *Record) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatalf("reader error: %v", err)
		}
		k := 0
		for i, line := range lines {
			size := len(line) // the limit counts the line's bytes, a byte order mark included
			if i == 0 {
				line = strings.TrimPrefix(line, "\xef\xbb\xbf")
			}
			if strings.TrimSpace(line) == "" && size <= limit {
				continue
			}
			if k >= len(got) {
				t.Fatalf("line %d: no record", i+1)
			}
			r := got[k]
			k++
			if r.Row != i+1 || r.Source != "f.jsonl" {
				t.Fatalf("record %s:%d for line %d", r.Source, r.Row, i+1)
			}
			if (r.Fields == nil) == (r.Err == nil) {
				t.Fatalf("line %d: fields %v and error %v", i+1, r.Fields, r.Err)
			}
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(line))
			ok := dec.Decode(&m) == nil && m != nil && !dec.More() && utf8.ValidString(line) && size <= limit
			if ok != (r.Err == nil) {
				t.Fatalf("line %d %q: encoding/json says ok=%v, reader error %v", i+1, line, ok, r.Err)
			}
			if r.Err != nil && !strings.HasPrefix(r.Err.Error(), fmt.Sprintf("f.jsonl:%d", i+1)) {
				t.Fatalf("error %q does not name f.jsonl:%d", r.Err, i+1)
			}
		}
		if k != len(got) {
			t.Fatalf("%d records for %d non-blank lines", len(got), k)
		}
		for off := 0; off <= len(b)+1; off += 7 {
			fieldAt(b, off) // must not panic on any input
		}
	})
}

// FuzzMessages checks the TRL message-list parser on any JSON value: it never panics;
// a list it accepts gives one message per element, each with a known role and the
// element's text; an error names the field (m, m[i], m[i].role, m[i].content...).
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]`,
		`[{"from": "human", "value": "q"}]`,
		`[{"role": "system", "content": [{"type": "text", "text": "s"}, {"type": "text", "text": "t"}]}]`,
		`[{"role": "bot", "content": "q"}]`,
		`[{"role": "user"}]`,
		`[{"role": "user", "content": null}]`,
		`[{"role": 1, "content": "x"}, 2, "s"]`,
		`[{"role": "user", "content": [{"type": "image"}]}]`,
		`{"role": "user"}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		r := &row{fields: map[string]any{"m": v}}
		msgs, err := r.messages("m", v)
		if err != nil {
			if err.Field != "m" && !strings.HasPrefix(err.Field, "m[") {
				t.Fatalf("error field %q", err.Field)
			}
			if err.Err == nil {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		l := v.([]any) // accepted: must be a list
		if len(msgs) != len(l) {
			t.Fatalf("%d messages from %d elements", len(msgs), len(l))
		}
		for i, m := range msgs {
			if !trlRoles[m.Role] {
				t.Fatalf("message %d: role %q accepted", i, m.Role)
			}
			e := l[i].(map[string]any)
			if _, hasRole := e["role"]; !hasRole {
				continue // {from, value}
			}
			if c, ok := e["content"].(string); ok && c != m.Content {
				t.Fatalf("message %d: content %q, want %q", i, m.Content, c)
			}
		}
		checkConversation("prompt", msgs, "chosen", msgs) // must not panic
	})
}

// FuzzReadJSONArray checks the JSON array splitter against encoding/json: when the
// whole text is an array of objects (valid UTF-8), the reader gives one record per
// element with the same fields and no error; whatever the text, it never panics and
// numbers records 1, 2, 3...
func FuzzReadJSONArray(f *testing.F) {
	for _, s := range []string{
		`[{"prompt": "p", "chosen": "a", "rejected": "b"}, {"a": [1, {"b": "]}"}]}]`,
		"[\n{\"a\": \"x\\\"]\"},\n{\"b\": null}\n]",
		`[{"a": 1}, 2, "s", null, [3]]`,
		`[{"a": }, {"b": 1}]`,
		`[{"a": 1} {"b": 2}]`,
		`[{"a": "unterminated}]`,
		`[]`,
		` [ ] `,
		`[{"a":1},]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []*Record
		err := readJSON("f.json", bytes.NewReader(b), 1<<20, func(r *Record) error {
			got = append(got, r)
			return nil
		})
		if !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("[")) {
			return // not an array: read as JSON Lines (FuzzReadJSONL) or refused
		}
		for i, r := range got {
			if r.Row != i+1 || (r.Fields == nil) == (r.Err == nil) {
				t.Fatalf("record %d: row %d fields %v err %v", i, r.Row, r.Fields, r.Err)
			}
		}
		var want []map[string]any
		if json.Unmarshal(b, &want) != nil || !utf8.Valid(b) {
			return
		}
		for _, m := range want {
			if m == nil { // a null element
				return
			}
		}
		if err != nil {
			t.Fatalf("valid array: error %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records, encoding/json reads %d elements", len(got), len(want))
		}
		for i := range want {
			if got[i].Err != nil || len(got[i].Fields) != len(want[i]) {
				t.Fatalf("element %d: %v / %d fields, want %d", i+1, got[i].Err, len(got[i].Fields), len(want[i]))
			}
		}
	})
}

// TestLoadReaderIsLoad holds FuzzLoad to what users run: loadReader on a file's
// bytes (in place, and through a plain io.Reader, which Parquet reads into memory)
// gives exactly the Dataset Load gives for the file, for every fixture format and
// both policies, read one after another (the pooled read buffers carry nothing over).
func TestLoadReaderIsLoad(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*.*"))
	if err != nil || len(paths) < 10 {
		t.Fatalf("fixtures: %v %v", paths, err)
	}
	type plainReader struct{ io.Reader }
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pol := range []Policy{PolicyDrop, PolicyStrict} {
			want, wantErr := Load(p, Options{Policy: pol})
			if want == nil || len(want.Report.Sources) != 1 {
				t.Fatalf("%s: Load: %v", p, wantErr)
			}
			for _, r := range []struct {
				name string
				r    io.Reader
			}{{"bytes.Reader", bytes.NewReader(raw)}, {"io.Reader", plainReader{bytes.NewReader(raw)}}} {
				got, gotErr := loadReader(p, r.r, Options{Policy: pol})
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Errorf("%s policy %d, %s: error %v, Load's %v", p, pol, r.name, gotErr, wantErr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s policy %d, %s: dataset differs from Load's (%d vs %d examples)", p, pol, r.name, len(got.Examples), len(want.Examples))
				}
			}
		}
	}
}
