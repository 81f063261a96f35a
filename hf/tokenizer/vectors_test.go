package tokenizer

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const testdataDir = "../../testdata"

// vector is one llama.cpp tokenizer test case: text and the ids HF's
// AutoTokenizer.encode(text, add_special_tokens=False) gave for it.
type vector struct {
	text string
	ids  []int
}

// readVectors reads testdata/tokenizer-vectors/NAME.inp/.out: inputs separated
// by "\n__ggml_vocab_test__\n" (the last piece is empty), one line of " <id>"s per
// input.
func readVectors(t *testing.T, name string) []vector {
	t.Helper()
	inp, err := os.ReadFile(filepath.Join(testdataDir, "tokenizer-vectors", name+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(testdataDir, "tokenizer-vectors", name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	texts = texts[:len(texts)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d inputs but %d output lines", name, len(texts), len(lines))
	}
	vs := make([]vector, len(texts))
	for i, text := range texts {
		vs[i].text = text
		for _, f := range strings.Fields(lines[i]) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", name, i+1, err)
			}
			vs[i].ids = append(vs[i].ids, id)
		}
	}
	return vs
}

var (
	loadOnce  sync.Map // dir name -> *loaded
	loadMutex sync.Mutex
)

type loaded struct {
	tok *Tokenizer
	err error
}

// loadTestTokenizer loads testdata/tokenizers/NAME once per test binary.
func loadTestTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	loadMutex.Lock()
	defer loadMutex.Unlock()
	if v, ok := loadOnce.Load(name); ok {
		l := v.(*loaded)
		if l.err != nil {
			t.Fatal(l.err)
		}
		return l.tok
	}
	tok, err := Load(filepath.Join(testdataDir, "tokenizers", name))
	loadOnce.Store(name, &loaded{tok, err})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVectors(t *testing.T) {
	for _, tc := range []struct{ vectors, tokenizer string }{
		{"qwen2", "qwen2.5"},
		{"llama-bpe", "llama3"},
		{"llama-spm", "llama2"},
		{"gpt-2", "gpt2"},
	} {
		t.Run(tc.vectors, func(t *testing.T) {
			tok := loadTestTokenizer(t, tc.tokenizer)
			vs := readVectors(t, tc.vectors)
			if len(vs) != 46 {
				t.Fatalf("want 46 vectors, got %d", len(vs))
			}
			pass := 0
			for i, v := range vs {
				got := tok.Encode(v.text, false)
				if len(got) == 0 && len(v.ids) == 0 || reflect.DeepEqual(got, v.ids) {
					pass++
				} else {
					t.Errorf("vector %d %q:\n got %v\nwant %v", i, v.text, got, v.ids)
				}
				if back := tok.Decode(got, false); back != v.text {
					t.Errorf("vector %d: Decode(Encode(%q)) = %q", i, v.text, back)
				}
			}
			t.Logf("%s: %d/%d exact", tc.vectors, pass, len(vs))
		})
	}
}
