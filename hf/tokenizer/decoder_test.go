package tokenizer

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestLossyUTF8 compares with CPython's bytes.decode("utf-8", "replace")
// (testdata/lossy_utf8.json, made by testdata/lossy_utf8.py).
func TestLossyUTF8(t *testing.T) {
	data, err := os.ReadFile("testdata/lossy_utf8.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Hex, Text string }
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 300 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		raw, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendLossyUTF8(nil, raw)); got != c.Text {
			t.Errorf("%s: got %+q want %+q", c.Hex, got, c.Text)
		}
	}
}

// TestDecoders follows the cases in HF's decoders tests (byte_fallback.rs,
// metaspace.rs, strip.rs, fuse.rs, byte_level.rs).
func TestDecoders(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    decoder
		in   []string
		want []string
	}{
		{"byte fallback plain", byteFallbackDecoder{}, []string{"Hey", "friend!"}, []string{"Hey", "friend!"}},
		{"byte fallback a", byteFallbackDecoder{}, []string{"<0x61>"}, []string{"a"}},
		{"byte fallback lone", byteFallbackDecoder{}, []string{"<0xE5>"}, []string{"\uFFFD"}},
		{"byte fallback two invalid", byteFallbackDecoder{}, []string{"<0xE5>", "<0x8f>"}, []string{"\uFFFD", "\uFFFD"}},
		{"byte fallback 叫", byteFallbackDecoder{}, []string{"<0xE5>", "<0x8f>", "<0xab>"}, []string{"叫"}},
		{"byte fallback then text", byteFallbackDecoder{}, []string{"<0xE5>", "<0x8f>", "<0xab>", "a"}, []string{"叫", "a"}},
		{"byte fallback invalid then text", byteFallbackDecoder{}, []string{"<0xE5>", "<0x8f>", "a"}, []string{"\uFFFD", "\uFFFD", "a"}},
		{"metaspace always", metaspaceDecoder{'▁', prependAlways}, []string{"▁Hey", "▁friend!"}, []string{"Hey", " friend!"}},
		{"metaspace never", metaspaceDecoder{'▁', prependNever}, []string{"▁Hey", "▁friend!"}, []string{" Hey", " friend!"}},
		{"strip", stripDecoder{'H', 1, 0}, []string{"Hey friend!", "HHey friend!"}, []string{"ey friend!", "Hey friend!"}},
		{"strip both", stripDecoder{'y', 0, 1}, []string{"Hey friend!", "Hey friend!y", "yy"}, []string{"Hey friend!", "Hey friend!", "y"}},
		{"fuse", fuseDecoder{}, []string{"Hey", " friend", "!"}, []string{"Hey friend!"}},
		{"byte level", byteLevelDecoder{}, []string{"Hello", "Ġmy", "Ġfriend", ","}, []string{"Hello my friend,"}},
		{"byte level invalid", byteLevelDecoder{}, []string{"âĤ", "Ġx"}, []string{"\uFFFD x"}},
		{"byte level non-alphabet token", byteLevelDecoder{}, []string{"a", "中"}, []string{"a中"}},
	} {
		if got := tc.d.decodeChain(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

// TestPrependReplaceFused: the one-pass Llama normalizer equals its two steps.
func TestPrependReplaceFused(t *testing.T) {
	seq := sequenceNormalizer{prependNormalizer{"▁"}, replaceNormalizer{literalMatcher{" "}, "▁"}}
	fused, ok := seq.fuse().(prependReplaceNormalizer)
	if !ok {
		t.Fatal("Llama's normalizer was not fused")
	}
	for _, s := range []string{"", " ", "Hello world", "  two  spaces ", "▁already", "a\tb\nc"} {
		want := seq[1].normalize(seq[0].normalize(s))
		if got := fused.normalize(s); got != want {
			t.Errorf("%q: fused %q, steps %q", s, got, want)
		}
	}
	unsafe := sequenceNormalizer{prependNormalizer{" "}, replaceNormalizer{literalMatcher{" "}, "▁"}}
	if _, fusedAnyway := unsafe.fuse().(prependReplaceNormalizer); fusedAnyway {
		t.Error("fused a prefix that the replacement rewrites")
	}
}
