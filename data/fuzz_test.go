package data

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that no file content makes loading panic, whatever the format
// detected. `go test` runs the seeds; `go test -fuzz FuzzLoad ./data` explores.
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
		dir := t.TempDir()
		for _, name := range []string{"f.jsonl", "f.json"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, pol := range []Policy{PolicyDrop, PolicyStrict} {
				ds, _ := Load(p, Options{Policy: pol})
				if ds == nil {
					continue
				}
				tk := &Tokenizer{Enc: fakeEnc{}, Chat: chatml(false), Opts: TokenizeOptions{MaxLength: 8, MaxPromptLength: 4, MaxCompletionLength: 3}}
				tks, _, _ := tk.TokenizeAll(ds.Examples, PolicyDrop)
				var pairs []Pair
				for i := range tks {
					if len(tks[i].Completions) == 2 {
						pairs = append(pairs, tks[i].Pair())
					}
				}
				Batches(pairs, BatchOptions{BatchSize: 2, Packed: true, PackLength: 8})
			}
		}
	})
}
