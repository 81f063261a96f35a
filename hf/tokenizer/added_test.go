package tokenizer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// charTokenizer builds a tokenizer.json whose BPE model has one token per
// character of alphabet and no merges, a Lowercase normalizer, and the given added
// tokens (ids after the vocabulary, in order). Its ids show exactly how the input
// was cut around the added tokens.
func charTokenizer(t *testing.T, alphabet string, added []map[string]any) (*Tokenizer, map[string]int) {
	t.Helper()
	vocab := map[string]int{}
	for _, r := range strings.ToLower(alphabet) {
		if _, ok := vocab[string(r)]; !ok {
			vocab[string(r)] = len(vocab)
		}
	}
	ids := map[string]int{}
	for i, a := range added {
		a["id"] = len(vocab) + i
		ids[a["content"].(string)] = len(vocab) + i
	}
	doc := map[string]any{
		"added_tokens": added,
		"normalizer":   map[string]any{"type": "Lowercase"},
		"model":        map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{}},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vocab {
		ids[k] = v
	}
	return tok, ids
}

// splitIDs is the expected encoding of a list of pieces: an added token's id, or
// the ids of a text piece's characters.
func splitIDs(ids map[string]int, pieces []piece2) []int {
	var out []int
	for _, p := range pieces {
		if p.token != "" {
			out = append(out, ids[p.token])
			continue
		}
		for _, r := range p.text {
			out = append(out, ids[string(r)])
		}
	}
	return out
}

type piece2 struct{ text, token string }

func tokenPiece(content string) piece2 { return piece2{token: content} }
func textPiece(s string) piece2        { return piece2{text: s} }

func addedTok(content string, special, normalized, singleWord, lstrip, rstrip bool) map[string]any {
	return map[string]any{"content": content, "special": special, "normalized": normalized,
		"single_word": singleWord, "lstrip": lstrip, "rstrip": rstrip}
}

// TestAddedTokenOptions reproduces the expectations of HF's own tests in
// tokenizers/src/tokenizer/added_vocabulary.rs (options_use_cases,
// test_single_word_is_correct, test_single_word_is_unicode_correct,
// test_lstrip_unicode_space) with a Lowercase normalizer.
func TestAddedTokenOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		added []map[string]any
		in    string
		want  []piece2
	}{
		{
			name: "options_use_cases",
			added: []map[string]any{
				addedTok("my", false, true, false, true, true),
				addedTok("name", false, true, false, false, false),
				addedTok("ony", false, true, true, false, false),
				addedTok("[CLS]", true, false, false, false, false),
				addedTok("[SEP]", true, false, false, false, false),
			},
			in: "[CLS] My name is Anthony [SEP]",
			want: []piece2{tokenPiece("[CLS]"), tokenPiece("my"), tokenPiece("name"),
				textPiece(" is anthony "), tokenPiece("[SEP]")},
		},
		{
			name:  "single_word",
			added: []map[string]any{addedTok("<mask>", false, true, true, false, false)},
			in:    "<mask> My name <mask> A<mask> <mask>ony <mask>",
			want: []piece2{tokenPiece("<mask>"), textPiece(" my name "), tokenPiece("<mask>"),
				textPiece(" a<mask> <mask>ony "), tokenPiece("<mask>")},
		},
		{
			name:  "single_word_unicode",
			added: []map[string]any{addedTok("<mask>", false, true, true, false, false)},
			in:    "<mask>, <mask>- ◌̰<mask>",
			want:  []piece2{tokenPiece("<mask>"), textPiece(", "), tokenPiece("<mask>"), textPiece("- ◌̰<mask>")},
		},
		{
			name:  "lstrip_rstrip_unicode_space",
			added: []map[string]any{addedTok("<mask>", false, true, true, true, true)},
			in:    "Hi <mask> there\t<mask>\t<mask>\u2000",
			want: []piece2{textPiece("hi"), tokenPiece("<mask>"), textPiece("there"), tokenPiece("<mask>"),
				tokenPiece("<mask>")},
		},
		{
			// A normalized token matches the normalized text: "Yesterday" lowercases to
			// "yesterday" (the example in added_vocabulary.rs's doc comment); a
			// non-normalized one must match the raw input exactly.
			name: "normalized_vs_raw",
			added: []map[string]any{
				addedTok("yesterday", false, true, false, false, false),
				addedTok("Book", false, false, false, false, false),
			},
			in:   "I read a book Yesterday, a Book",
			want: []piece2{textPiece("i read a book "), tokenPiece("yesterday"), textPiece(", a "), tokenPiece("Book")},
		},
		{
			// Leftmost match wins, then the longest of those starting there.
			name: "leftmost_longest",
			added: []map[string]any{
				addedTok("<a>", true, false, false, false, false),
				addedTok("<a><b>", true, false, false, false, false),
				addedTok("b><c", true, false, false, false, false),
			},
			in:   "x<a><b><c>",
			want: []piece2{textPiece("x"), tokenPiece("<a><b>"), textPiece("<c>")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, ids := charTokenizer(t, tc.in, tc.added)
			want := splitIDs(ids, tc.want)
			if got := tok.Encode(tc.in, false); !reflect.DeepEqual(got, want) {
				t.Errorf("Encode(%q)\n got %v\nwant %v", tc.in, got, want)
			}
		})
	}
}

// TestNormalizedAddedTokenLlama2: Llama-2's <s> is normalized=true, so it is matched
// in the normalized text against its own normalized form "▁<s>" (Prepend "▁"): it
// is found after a space but not glued to a word, as HF's extract_and_normalize
// does.
func TestNormalizedAddedTokenLlama2(t *testing.T) {
	tok := loadTestTokenizer(t, "llama2")
	withSpace := tok.Encode("Hello <s> world", false)
	if !containsID(withSpace, 1) {
		t.Errorf("Encode(%q) = %v: want <s> (1) matched", "Hello <s> world", withSpace)
	}
	glued := tok.Encode("Hello<s>world", false)
	if containsID(glued, 1) {
		t.Errorf("Encode(%q) = %v: want <s> not matched", "Hello<s>world", glued)
	}
}

func containsID(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
