package data

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// This file is `preftune data sample`: language detection by script, exact
// de-duplication and sampling to a total with per-language ratios.

// Language codes [DetectLanguage] returns besides the script languages.
const (
	LangUndetermined = "und"   // no letters at all
	LangOther        = "other" // most letters in a script not listed below
)

// DetectLanguage names the language of a text from the scripts of its letters
// (unicode.IsLetter; digits, punctuation, spaces and symbols are not counted):
//
//   - Han and Japanese kana (Hiragana, Katakana) are counted together as CJK; the text
//     is Japanese ("ja") when kana make at least a tenth of them, Chinese ("zh")
//     otherwise (Japanese prose is mostly kana; Chinese has none);
//   - Hangul → "ko", Cyrillic → "ru", Arabic → "ar", Latin → "en";
//   - the group with the most letters wins; ties go to the earlier group in the
//     order CJK, Hangul, Cyrillic, Arabic, Latin, other;
//   - letters of any other script count as "other"; no letters at all is "und".
//
// Latin is taken as English: the detector tells scripts apart, not languages sharing
// one (French, German and English are all "en").
func DetectLanguage(text string) string {
	const (
		cjk = iota
		hangul
		cyrillic
		arabic
		latin
		other
		groups
	)
	var n [groups]int
	kana := 0
	for _, r := range text {
		if r < 0x80 { // ASCII fast path
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				n[latin]++
			}
			continue
		}
		if !unicode.IsLetter(r) {
			continue
		}
		switch {
		case unicode.Is(unicode.Han, r):
			n[cjk]++
		case unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
			n[cjk]++
			kana++
		case unicode.Is(unicode.Hangul, r):
			n[hangul]++
		case unicode.Is(unicode.Cyrillic, r):
			n[cyrillic]++
		case unicode.Is(unicode.Arabic, r):
			n[arabic]++
		case unicode.Is(unicode.Latin, r):
			n[latin]++
		default:
			n[other]++
		}
	}
	best := 0
	for g := 1; g < groups; g++ {
		if n[g] > n[best] {
			best = g
		}
	}
	if n[best] == 0 {
		return LangUndetermined
	}
	switch best {
	case cjk:
		if kana*10 >= n[cjk] {
			return "ja"
		}
		return "zh"
	case hangul:
		return "ko"
	case cyrillic:
		return "ru"
	case arabic:
		return "ar"
	case latin:
		return "en"
	}
	return LangOther
}

// ExampleText is the text the language of an example is detected on: the prompt and
// the chosen completion (the completion of an unpaired row, the first response of a
// listwise row), message contents joined by newlines. Pre-tokenized rows have none.
func ExampleText(ex *Example) string {
	var b strings.Builder
	add := func(s Segment) {
		b.WriteString(s.Text)
		for _, m := range s.Messages {
			b.WriteByte('\n')
			b.WriteString(m.Content)
		}
		b.WriteByte('\n')
	}
	add(ex.Prompt)
	switch ex.Kind {
	case KindPair:
		add(ex.Chosen)
	case KindUnpaired:
		add(ex.Completion)
	case KindListwise:
		if len(ex.Responses) > 0 {
			add(ex.Responses[0])
		}
	}
	return b.String()
}

// exampleHash is a content hash of an example (its source and row not included), for
// exact duplicate detection.
func exampleHash(ex *Example) [16]byte {
	h := sha256.New()
	put := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	put(ex.Kind.String())
	for _, s := range append([]Segment{ex.Prompt, ex.Chosen, ex.Rejected, ex.Completion}, ex.Responses...) {
		put(s.key())
		h.Write([]byte{0xff})
	}
	fmt.Fprint(h, ex.Label, ex.Scores, ex.PromptIDs, ex.ChosenIDs, ex.RejectedIDs)
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

// LangRatio is one language's share of a sample.
type LangRatio struct {
	Lang  string
	Ratio float64
}

// ParseRatios parses "en=0.7,zh=0.3". The ratios must be positive and sum to 1
// (within 1e-6); a language may appear once.
func ParseRatios(s string) ([]LangRatio, error) {
	var out []LangRatio
	seen := map[string]bool{}
	sum := 0.0
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("ratio: %q is not LANG=RATIO (e.g. en=0.7,zh=0.3)", kv)
		}
		if seen[k] {
			return nil, fmt.Errorf("ratio: %s given twice", k)
		}
		seen[k] = true
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("ratio: %s=%s: expected a number > 0", k, v)
		}
		out = append(out, LangRatio{k, f})
		sum += f
	}
	if math.Abs(sum-1) > 1e-6 {
		return nil, fmt.Errorf("ratio: the ratios sum to %g, not 1", sum)
	}
	return out, nil
}

// SampleOptions control [Sample].
type SampleOptions struct {
	Total  int
	Ratios []LangRatio
	Seed   uint64
	// AllowShort takes every row of a language that has fewer than its share (the
	// sample is then smaller than Total) instead of failing.
	AllowShort bool
}

// SampleReport says what [Sample] did.
type SampleReport struct {
	Input      int            // examples given
	Duplicates int            // exact duplicates removed (the first occurrence kept)
	Available  map[string]int // distinct examples per detected language
	Target     map[string]int // rows asked per language
	Taken      map[string]int // rows sampled per language
	Excluded   int            // distinct examples in languages the ratios do not name
	Short      []string       // languages with fewer rows than their target
}

// Targets splits total over the ratios (normalised to sum to 1) by the largest-remainder method: each language
// gets floor(total·ratio), and the rows left go one each to the largest fractional
// parts (ties to the language listed first), so the targets sum to total.
func Targets(total int, ratios []LangRatio) []int {
	t := make([]int, len(ratios))
	frac := make([]float64, len(ratios))
	sum := 0.0
	for _, r := range ratios {
		sum += r.Ratio
	}
	left := total
	for i, r := range ratios {
		x := float64(total) * r.Ratio / sum
		t[i] = int(math.Floor(x + 1e-9))
		frac[i] = x - float64(t[i])
		left -= t[i]
	}
	order := make([]int, len(ratios))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return frac[order[a]] > frac[order[b]]+1e-9 })
	for k := 0; left > 0 && len(order) > 0; k = (k + 1) % len(order) {
		t[order[k]]++
		left--
	}
	return t
}

// Sample removes exact duplicates, detects each example's language ([DetectLanguage]
// on [ExampleText]) and draws Targets(Total, Ratios) examples per language, uniformly
// without replacement, with a generator seeded by Seed: the same input, options and
// seed give the same sample. The result keeps the input order.
func Sample(exs []Example, opts SampleOptions) ([]Example, *SampleReport, error) {
	rep := &SampleReport{Input: len(exs), Available: map[string]int{}, Target: map[string]int{}, Taken: map[string]int{}}
	if opts.Total <= 0 {
		return nil, rep, fmt.Errorf("total %d: must be at least 1", opts.Total)
	}
	if len(opts.Ratios) == 0 {
		return nil, rep, fmt.Errorf("no language ratios given")
	}
	wanted := map[string]bool{}
	for _, r := range opts.Ratios {
		wanted[r.Lang] = true
	}
	byLang := map[string][]int{}
	seen := map[[16]byte]bool{}
	for i := range exs {
		k := exampleHash(&exs[i])
		if seen[k] {
			rep.Duplicates++
			continue
		}
		seen[k] = true
		lang := DetectLanguage(ExampleText(&exs[i]))
		rep.Available[lang]++
		if !wanted[lang] {
			rep.Excluded++
			continue
		}
		byLang[lang] = append(byLang[lang], i)
	}
	targets := Targets(opts.Total, opts.Ratios)
	var short []string
	for i, r := range opts.Ratios {
		rep.Target[r.Lang] = targets[i]
		if have := len(byLang[r.Lang]); have < targets[i] {
			rep.Short = append(rep.Short, r.Lang)
			short = append(short, fmt.Sprintf("%s: %d wanted, %d available", r.Lang, targets[i], have))
		}
	}
	if len(short) > 0 && !opts.AllowShort {
		return nil, rep, fmt.Errorf("not enough rows (after removing %d duplicates): %s (take what there is with --allow-short, or lower --total)",
			rep.Duplicates, strings.Join(short, "; "))
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x736d706c)) // "smpl"
	var picked []int
	for i, r := range opts.Ratios {
		idx := byLang[r.Lang]
		n := min(targets[i], len(idx))
		// A partial Fisher–Yates shuffle: the first n of idx are a uniform sample.
		for k := 0; k < n; k++ {
			j := k + rng.IntN(len(idx)-k)
			idx[k], idx[j] = idx[j], idx[k]
		}
		picked = append(picked, idx[:n]...)
		rep.Taken[r.Lang] = n
	}
	sort.Ints(picked)
	out := make([]Example, len(picked))
	for i, k := range picked {
		out[i] = exs[k]
	}
	return out, rep, nil
}
