package tokenizer

// Differential test against independent reference goldens.
//
// The goldens in testdata/tokenizer-diff were produced by
// reference/tokenizer/generate.mjs with tokenizers.js (@huggingface/tokenizers,
// pinned in reference/tokenizer/package-lock.json), which reproduces the HF
// Python vectors in testdata/tokenizer-vectors exactly, and were cross-checked
// with tiktoken (byte-level tokenizers) and a stdlib Python SentencePiece-BPE
// re-implementation (llama2, mistral). See testdata/tokenizer-diff/README.md.
//
// Every golden line is {"category", "text", "ids", ["decoded"],
// ["contains_added_token"]}: Encode(text) must equal ids exactly and
// Decode(ids, false) must equal decoded (when present; it differs from text
// where normalization is lossy, e.g. NFC for qwen2.5 or the Prepend("▁")
// normalizer around added tokens for llama2/mistral) or else text.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

const (
	diffGoldenDir    = "../../testdata/tokenizer-diff"
	diffTokenizerDir = "../../testdata/tokenizers"
	diffShowFirst    = 5 // mismatches printed in full per file and kind
)

var diffTokenizers = []string{"qwen2.5", "llama3", "llama2", "gpt2", "mistral"}

type diffGolden struct {
	Category           string  `json:"category"`
	Text               string  `json:"text"`
	IDs                []int   `json:"ids"`
	Decoded            *string `json:"decoded"`
	ContainsAddedToken bool    `json:"contains_added_token"`
}

func readDiffGoldens(t *testing.T, file string) []diffGolden {
	t.Helper()
	f, err := os.Open(filepath.Join(diffGoldenDir, file))
	if err != nil {
		t.Fatalf("open golden: %v", err)
	}
	defer f.Close()
	var out []diffGolden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var g diffGolden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		if g.IDs == nil {
			g.IDs = []int{}
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read golden %s: %v", file, err)
	}
	return out
}

func TestDifferential(t *testing.T) {
	for _, name := range diffTokenizers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok, err := Load(filepath.Join(diffTokenizerDir, name))
			if err != nil {
				t.Fatalf("Load(%s): %v", name, err)
			}
			vocab := &diffVocab{dir: filepath.Join(diffTokenizerDir, name)}
			t.Run("plain", func(t *testing.T) {
				goldens := readDiffGoldens(t, name+".jsonl")
				if len(goldens) < 2000 {
					t.Fatalf("%s.jsonl has only %d lines; regenerate the goldens", name, len(goldens))
				}
				runDifferential(t, tok, vocab, name+".jsonl", goldens, false)
			})
			t.Run("special", func(t *testing.T) {
				goldens := readDiffGoldens(t, name+".special.jsonl")
				runDifferential(t, tok, vocab, name+".special.jsonl", goldens, true)
			})
		})
	}
}

type diffCounts struct{ total, encode, decode int }

func runDifferential(t *testing.T, tok *Tokenizer, vocab *diffVocab, file string, goldens []diffGolden, addSpecial bool) {
	t.Helper()
	perCat := map[string]*diffCounts{}
	var encShown, decShown, encBad, decBad int
	for i, g := range goldens {
		c := perCat[g.Category]
		if c == nil {
			c = &diffCounts{}
			perCat[g.Category] = c
		}
		c.total++
		if !utf8.ValidString(g.Text) {
			t.Errorf("%s line %d: golden text is not valid UTF-8 (broken golden)", file, i+1)
			continue
		}

		got, panicMsg := diffEncode(tok, g.Text, addSpecial)
		if panicMsg != "" || !equalInts(got, g.IDs) {
			c.encode++
			encBad++
			if encShown < diffShowFirst {
				encShown++
				t.Errorf("%s line %d [%s]: Encode(%s, %v) mismatch\n%s", file, i+1, g.Category,
					quoteTrunc(g.Text, 160), addSpecial, describeIDDiff(vocab, g.IDs, got, panicMsg))
			}
		}

		want := g.Text
		if g.Decoded != nil {
			want = *g.Decoded
		}
		dec, panicMsg := diffDecode(tok, g.IDs)
		if panicMsg != "" || dec != want {
			c.decode++
			decBad++
			if decShown < diffShowFirst {
				decShown++
				detail := panicMsg
				if detail == "" {
					detail = describeStringDiff(want, dec)
				}
				t.Errorf("%s line %d [%s]: Decode(%d ids, false) mismatch for text %s\n%s", file, i+1, g.Category,
					len(g.IDs), quoteTrunc(g.Text, 160), detail)
			}
		}
	}

	cats := make([]string, 0, len(perCat))
	for k := range perCat {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d strings, %d encode mismatches, %d decode mismatches\n", file, len(goldens), encBad, decBad)
	fmt.Fprintf(&b, "  %-15s %6s %8s %8s\n", "category", "total", "enc-bad", "dec-bad")
	for _, k := range cats {
		c := perCat[k]
		fmt.Fprintf(&b, "  %-15s %6d %8d %8d\n", k, c.total, c.encode, c.decode)
	}
	if encBad+decBad > 0 {
		t.Errorf("differential summary\n%s", b.String())
	} else {
		t.Logf("differential summary\n%s", b.String())
	}
}

func diffEncode(tok *Tokenizer, text string, addSpecial bool) (ids []int, panicMsg string) {
	defer func() {
		if r := recover(); r != nil {
			panicMsg = fmt.Sprintf("    panic: %v", r)
		}
	}()
	return tok.Encode(text, addSpecial), ""
}

func diffDecode(tok *Tokenizer, ids []int) (s string, panicMsg string) {
	defer func() {
		if r := recover(); r != nil {
			panicMsg = fmt.Sprintf("    panic: %v", r)
		}
	}()
	return tok.Decode(ids, false), ""
}

func equalInts(a, b []int) bool {
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

func quoteTrunc(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return fmt.Sprintf("%q…(%d runes)", string(r[:n]), len(r))
	}
	return fmt.Sprintf("%q", s)
}

// describeIDDiff shows the id sequences around the first differing position,
// with token strings looked up in tokenizer.json (display only).
func describeIDDiff(vocab *diffVocab, want, got []int, panicMsg string) string {
	if panicMsg != "" {
		return panicMsg
	}
	k := 0
	for k < len(want) && k < len(got) && want[k] == got[k] {
		k++
	}
	lo := max(0, k-3)
	var b strings.Builder
	fmt.Fprintf(&b, "    first difference at index %d (want %d ids, got %d ids)\n", k, len(want), len(got))
	fmt.Fprintf(&b, "    want[%d:]: %s\n", lo, vocab.render(want[lo:min(len(want), k+6)]))
	fmt.Fprintf(&b, "    got [%d:]: %s", lo, vocab.render(got[lo:min(len(got), k+6)]))
	return b.String()
}

func describeStringDiff(want, got string) string {
	w, g := []rune(want), []rune(got)
	k := 0
	for k < len(w) && k < len(g) && w[k] == g[k] {
		k++
	}
	lo := max(0, k-10)
	return fmt.Sprintf("    first difference at rune %d (want %d runes, got %d runes)\n    want[%d:]: %q\n    got [%d:]: %q",
		k, len(w), len(g), lo, string(w[lo:min(len(w), k+20)]), lo, string(g[lo:min(len(g), k+20)]))
}

// diffVocab lazily reads id -> token string from tokenizer.json, only to make
// mismatch reports readable; it plays no part in the comparison.
type diffVocab struct {
	dir  string
	once sync.Once
	m    map[int]string
}

func (v *diffVocab) render(ids []int) string {
	v.once.Do(func() {
		v.m = map[int]string{}
		data, err := os.ReadFile(filepath.Join(v.dir, "tokenizer.json"))
		if err != nil {
			return
		}
		var tj struct {
			Model struct {
				Vocab map[string]int `json:"vocab"`
			} `json:"model"`
			AddedTokens []struct {
				ID      int    `json:"id"`
				Content string `json:"content"`
			} `json:"added_tokens"`
		}
		if json.Unmarshal(data, &tj) != nil {
			return
		}
		for s, id := range tj.Model.Vocab {
			v.m[id] = s
		}
		for _, a := range tj.AddedTokens {
			v.m[a.ID] = a.Content
		}
	})
	parts := make([]string, len(ids))
	for i, id := range ids {
		if s, ok := v.m[id]; ok {
			parts[i] = fmt.Sprintf("%d:%q", id, s)
		} else {
			parts[i] = fmt.Sprintf("%d:?", id)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}
