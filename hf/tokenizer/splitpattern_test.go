package tokenizer

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// splitAlphabet mixes every character class the split regexes distinguish:
// ASCII and non-ASCII letters (incl. the contraction letters in both cases),
// decimal/other/letter numbers, ASCII and Unicode whitespace incl. \r \n \v \f
// U+0085 U+00A0 U+2028 U+3000, apostrophes, punctuation, symbols, a combining
// mark, format characters, CJK and emoji.
var splitAlphabet = []string{
	"a", "b", "s", "t", "r", "e", "v", "m", "l", "d", "S", "T", "R", "E", "V", "M", "L", "D",
	"é", "ß", "Ж", "λ", "中", "文", "の", "ا", "ก",
	"0", "1", "9", "٣", "²", "½", "Ⅻ", "𝟙",
	" ", " ", " ", "\t", "\n", "\r", "\v", "\f", "\u0085", "\u00a0", "\u2028", "\u3000", "\u2009",
	"'", "'", "’", ".", ",", "!", "?", "-", "(", ")", "\"", "#", "$", "_", "=", "<", ">", "|",
	"\u0301", "\u200d", "\ufeff", "😀", "🇺", "\u00ad",
}

func randomSplitInput(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(24)
	for range n {
		b.WriteString(splitAlphabet[r.IntN(len(splitAlphabet))])
	}
	return b.String()
}

// TestWordMatchersAgainstRegexp2 checks the hand-written matchers against an
// independent backtracking engine with lookahead (regexp2) running the very
// regexes found in the tokenizer files, on 20,000 random strings each.
func TestWordMatchersAgainstRegexp2(t *testing.T) {
	for _, pattern := range []string{gpt2Pattern, llama3Pattern, qwen2Pattern} {
		ours, err := newRegexMatcher(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ours.(wordMatcher); !ok {
			t.Fatalf("pattern %q did not get a hand-written matcher", pattern)
		}
		re := regexp2Matcher{regexp2.MustCompile(pattern, regexp2.Unicode)}
		r := rand.New(rand.NewPCG(1, uint64(len(pattern))))
		fails := 0
		for range 20000 {
			s := randomSplitInput(r)
			got, want := ours.findAll(nil, s), re.findAll(nil, s)
			if !reflect.DeepEqual(got, want) {
				fails++
				if fails <= 5 {
					t.Errorf("pattern %q on %q:\n got %v\nwant %v", pattern, s, pieces(s, got), pieces(s, want))
				}
			}
		}
	}
}

func pieces(s string, spans []span) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, s[sp.start:sp.end])
	}
	return out
}

// TestWordMatcherExamples pins well-known splits, written out by hand from the
// regexes (and HF's byte_level.rs tests for GPT-2).
func TestWordMatcherExamples(t *testing.T) {
	for _, tc := range []struct {
		pattern, in string
		want        []string
	}{
		{gpt2Pattern, "Hello my friend, how is your day going?", []string{"Hello", " my", " friend", ",", " how", " is", " your", " day", " going", "?"}},
		{gpt2Pattern, "Hello there\nHello there", []string{"Hello", " there", "\n", "Hello", " there"}},
		{gpt2Pattern, "Hello there       dear", []string{"Hello", " there", "      ", " dear"}},
		{gpt2Pattern, "I'm can't WE'RE", []string{"I", "'m", " can", "'t", " WE", "'", "RE"}},
		{llama3Pattern, "I'm can't WE'RE", []string{"I", "'m", " can", "'t", " WE", "'RE"}},
		{llama3Pattern, "12345 abc", []string{"123", "45", " abc"}},
		{qwen2Pattern, "12345", []string{"1", "2", "3", "4", "5"}},
		{llama3Pattern, "  \n\n  hello", []string{"  \n\n", " ", " hello"}},
		{llama3Pattern, "(hello) ...\n\nworld", []string{"(hello", ")", " ...\n\n", "world"}},
		{llama3Pattern, "\thello", []string{"\thello"}},
		{llama3Pattern, "\nhello", []string{"\n", "hello"}},
		// U+017F LATIN SMALL LETTER LONG S case-folds to "s" (CaseFolding.txt: 017F; C; 0073),
		// so (?i:'s) matches "'ſ" and the rest is a word of its own.
		{llama3Pattern, "'ſup", []string{"'ſ", "up"}},
	} {
		m, err := newRegexMatcher(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := pieces(tc.in, m.findAll(nil, tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q with %.20q...: got %q want %q", tc.in, tc.pattern, got, tc.want)
		}
	}
}

// TestSplitBehaviors follows the example in HF's NormalizedString::split docs:
// "the-final--countdown" split on "-".
func TestSplitBehaviors(t *testing.T) {
	const in = "the-final--countdown"
	for _, tc := range []struct {
		behavior splitBehavior
		invert   bool
		want     []string
	}{
		{splitRemoved, false, []string{"the", "final", "countdown"}},
		{splitIsolated, false, []string{"the", "-", "final", "-", "-", "countdown"}},
		{splitMergedWithPrevious, false, []string{"the-", "final-", "-", "countdown"}},
		{splitMergedWithNext, false, []string{"the", "-final", "-", "-countdown"}},
		{splitContiguous, false, []string{"the", "-", "final", "--", "countdown"}},
		{splitRemoved, true, []string{"-", "-", "-"}},
	} {
		spans := literalMatcher{"-"}.findAll(nil, in)
		var got []string
		for _, p := range splitText(nil, pretoken{text: in}, spans, tc.behavior, tc.invert) {
			got = append(got, p.text)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("behavior %d invert %v: got %q want %q", tc.behavior, tc.invert, got, tc.want)
		}
	}
}

// TestMetaspaceStep follows HF's metaspace.rs tests.
func TestMetaspaceStep(t *testing.T) {
	for _, tc := range []struct {
		step    metaspaceStep
		in      string
		atStart bool
		want    []string
	}{
		{metaspaceStep{"▁", prependAlways, true}, "Hey friend!", true, []string{"▁Hey", "▁friend!"}},
		{metaspaceStep{"▁", prependAlways, true}, "Hey   friend!", true, []string{"▁Hey", "▁", "▁", "▁friend!"}},
		{metaspaceStep{"▁", prependFirst, false}, "Hey my friend ", true, []string{"▁Hey▁my▁friend▁"}},
		{metaspaceStep{"▁", prependFirst, false}, "how are you", false, []string{"how▁are▁you"}},
		{metaspaceStep{"▁", prependNever, true}, "Hey friend", true, []string{"Hey", "▁friend"}},
	} {
		got, _ := tc.step.apply(nil, pretoken{tc.in, tc.atStart}, nil)
		var texts []string
		for _, p := range got {
			texts = append(texts, p.text)
		}
		if !reflect.DeepEqual(texts, tc.want) {
			t.Errorf("%+v on %q: got %q want %q", tc.step, tc.in, texts, tc.want)
		}
	}
}

func TestRuneClassesMatchUnicode(t *testing.T) {
	// \s must be exactly Unicode White_Space (onig's \s): no U+001C..U+001F, no U+FEFF, no U+200B.
	for _, r := range []rune{0x1c, 0x1f, 0xfeff, 0x200b, 0x180e} {
		if c, _ := classAt(string(r), 0); c&clsS != 0 {
			t.Errorf("U+%04X classed as whitespace", r)
		}
	}
	for _, r := range []rune{'\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xa0, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000} {
		if c, _ := classAt(string(r), 0); c&clsS == 0 {
			t.Errorf("U+%04X not classed as whitespace", r)
		}
	}
	if !utf8.ValidString(strings.Join(splitAlphabet, "")) {
		t.Fatal("alphabet is not UTF-8")
	}
}

// TestRegexFallback: a pattern without a hand-written matcher runs on regexp2, with
// byte offsets (not rune offsets) in the spans.
func TestRegexFallback(t *testing.T) {
	m, err := newRegexMatcher(`\p{N}+|(?<=é)x`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(regexp2Matcher); !ok {
		t.Fatalf("got %T, want regexp2Matcher", m)
	}
	in := "é12 éx ٣٤"
	if got, want := pieces(in, m.findAll(nil, in)), []string{"12", "x", "٣٤"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
	if _, err := newRegexMatcher(`(`); err == nil {
		t.Error("invalid regex accepted")
	}
}

// TestPackShortInjective: distinct words never share a short-cache key.
func TestPackShortInjective(t *testing.T) {
	words := []string{"a", "a\x00", "\x00", "▁", "▁a", "a▁", "▁\x00", "\xe2\x96", "abcdefg", "▁abcdefg", " the", "the ",
		"abcdefgh", "abcdefgh\x00", "abcdefghijklmno", "▁abcdefghijklmno", "abcdefgha", "aabcdefgh"}
	seen := map[shortKey]string{}
	for _, w := range words {
		k, ok := packShort(w)
		if !ok {
			t.Fatalf("packShort(%q) refused", w)
		}
		if k.hi == 0 {
			t.Errorf("packShort(%q) has hi 0 (the empty-slot marker)", w)
		}
		if prev, dup := seen[k]; dup && prev != w {
			t.Errorf("packShort(%q) == packShort(%q)", w, prev)
		}
		seen[k] = w
	}
	for _, w := range []string{"", "abcdefghijklmnop", "▁abcdefghijklmnop"} {
		if _, ok := packShort(w); ok {
			t.Errorf("packShort(%q) accepted", w)
		}
	}
}
