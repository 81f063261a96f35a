package tokenizer

import (
	"strconv"
	"strings"
	"testing"
)

// minimalTokenizer is a byte-level-free BPE tokenizer.json with the given
// vocab, merges, added_tokens and post_processor JSON.
func minimalTokenizer(vocab, merges, added, post string) string {
	if merges == "" {
		merges = "[]"
	}
	if added == "" {
		added = "[]"
	}
	if post == "" {
		post = "null"
	}
	return `{"version": "1.0", "added_tokens": ` + added + `, "normalizer": null, "pre_tokenizer": null,
 "post_processor": ` + post + `, "decoder": null,
 "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": ` + vocab + `, "merges": ` + merges + `}}`
}

// TestStructuralErrors: a tokenizer.json whose ids or merges do not hold
// together is refused with an error naming the field, the token and the id
// (issue 16 item 12: a duplicate id used to be accepted silently), never a
// panic or an allocation sized by a bogus id.
func TestStructuralErrors(t *testing.T) {
	added := func(id int, content string) string {
		return `[{"id": ` + itoa(id) + `, "content": "` + content + `", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]`
	}
	cases := []struct {
		name string
		json string
		want []string // all must appear in the error
	}{
		{"vocab_duplicate_id", minimalTokenizer(`{"a": 0, "b": 1, "c": 1}`, "", "", ""),
			[]string{"model.vocab", "duplicate id 1", `"b"`, `"c"`}},
		{"vocab_duplicate_id_first_entries", minimalTokenizer(`{"x": 0, "y": 0}`, "", "", ""),
			[]string{"model.vocab", "duplicate id 0", `"x"`, `"y"`}},
		{"added_token_takes_vocab_id", minimalTokenizer(`{"a": 0, "b": 1}`, "", added(1, "<s>"), ""),
			[]string{"added_tokens[0]", "duplicate id 1", `"<s>"`, `"b"`}},
		{"added_token_collides_across_a_gap", minimalTokenizer(`{"a": 0, "b": 1, "c": 3}`, "", added(3, "<s>"), ""),
			[]string{"added_tokens[0]", "duplicate id 3", `"<s>"`, `"c"`}},
		{"added_token_wrong_id", minimalTokenizer(`{"a": 0, "b": 1}`, "", added(7, "<s>"), ""),
			[]string{"added_tokens[0]", `"<s>"`, "id 7", "assigns it id 2"}},
		{"id_far_out_of_range", minimalTokenizer(`{"a": 0, "b": 2147483647}`, "", "", ""),
			[]string{"model.vocab", `"b"`, "2147483647", "only 2 tokens"}},
		{"id_beyond_int32", minimalTokenizer(`{"a": 0, "b": 2147483648}`, "", "", ""),
			[]string{"model.vocab", "token id"}},
		{"negative_id", minimalTokenizer(`{"a": -1}`, "", "", ""),
			[]string{"model.vocab", "token id"}},
		{"fractional_id", minimalTokenizer(`{"a": 0.5}`, "", "", ""),
			[]string{"model.vocab"}},
		{"merge_of_unknown_token", minimalTokenizer(`{"a": 0, "b": 1, "ab": 2}`, `["a z"]`, "", ""),
			[]string{"model.merges[0]", `"z"`, "not in model.vocab"}},
		{"merge_result_unknown", minimalTokenizer(`{"a": 0, "b": 1}`, `["a b"]`, "", ""),
			[]string{"model.merges[0]", `"ab"`, "not in model.vocab"}},
		{"merge_not_a_pair", minimalTokenizer(`{"a": 0, "b": 1, "ab": 2}`, `[["a", "b", "c"]]`, "", ""),
			[]string{"model.merges[0]", "pair"}},
		{"merge_without_space", minimalTokenizer(`{"a": 0, "b": 1, "ab": 2}`, `["ab"]`, "", ""),
			[]string{"model.merges[0]", "two tokens"}},
		{"unk_not_in_vocab", strings.Replace(minimalTokenizer(`{"a": 0}`, "", "", ""), `"unk_token": null`, `"unk_token": "<unk>"`, 1),
			[]string{"unk_token", `"<unk>"`}},
		{"post_processor_unknown_id", minimalTokenizer(`{"a": 0, "b": 1}`, "", "",
			`{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [99], "tokens": ["<s>"]}}}`),
			[]string{"post_processor", "id 99"}},
		{"post_processor_negative_pair_id", minimalTokenizer(`{"a": 0, "b": 1}`, "", "",
			`{"type": "BertProcessing", "sep": ["b", -4], "cls": ["a", 0]}`),
			[]string{"post_processor.sep", "-4"}},
		{"truncated", minimalTokenizer(`{"a": 0}`, "", "", "")[:60], []string{"JSON"}},
		{"model_missing", `{"added_tokens": []}`, []string{"model: missing"}},
		{"vocab_not_object", minimalTokenizer(`[1, 2]`, "", "", ""), []string{"model.vocab"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := Parse([]byte(c.json))
			if err == nil {
				t.Fatalf("accepted (vocab size %d)", tok.VocabSize())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestStructurallySoundAccepted: the checks refuse nothing that holds
// together — a repeated vocab key (serde keeps the last), a repeated added
// token, an added token that is a vocab entry, an id gap.
func TestStructurallySoundAccepted(t *testing.T) {
	for _, js := range []string{
		minimalTokenizer(`{"a": 0, "b": 1, "ab": 2}`, `["a b"]`, "", ""),
		minimalTokenizer(`{"a": 0, "b": 1, "a": 2, "x": 0}`, "", "", ""),
		minimalTokenizer(`{"a": 0, "b": 1, "c": 3}`, "", "", ""),
		minimalTokenizer(`{"a": 0, "b": 1}`, "", `[{"id": 1, "content": "b", "special": true}, {"id": 2, "content": "<s>", "special": true}, {"id": 2, "content": "<s>", "special": true}]`,
			`{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [2], "tokens": ["<s>"]}}}`),
	} {
		tok, err := Parse([]byte(js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		_ = tok.Encode("ab<s>ba", true)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
