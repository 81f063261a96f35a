package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	id         int32
	content    string
	singleWord bool // match only where no word character touches either end
	lstrip     bool // swallow the whitespace before it
	rstrip     bool // swallow the whitespace after it
	normalized bool // matched in the normalized text, not the raw input
	special    bool // skipped by Decode(ids, skipSpecialTokens=true)
}

// addedMatcher finds added tokens in text: leftmost match first, the longest of
// those starting there (aho-corasick MatchKind::LeftmostLongest in HF), then the
// next search resumes after that match. It is a byte trie whose nodes list their
// few children inline, so a walk costs a handful of byte compares.
type addedMatcher struct {
	nodes []trieNode // nodes[0] is the root
	first [256]bool  // bytes that start some pattern
	// A position whose first byte starts only patterns of 4+ bytes is tried only
	// when its first 4 bytes pass quad, a 4096-bit filter on the patterns' first
	// 4 bytes: a normalized "<s>" is "▁<s>" for Llama-2, and every "▁" would walk
	// the trie otherwise.
	shortFirst [256]bool // bytes that start some pattern of 1-3 bytes
	quad       [64]uint64
	onlyFirst  int // the byte that starts every pattern, if only one does; else -1
	toks       []*addedToken
}

type trieNode struct {
	labels []byte  // child edge bytes
	kids   []int32 // child node per label
	term   int32   // index into toks of the pattern ending here, or -1
}

func (n *trieNode) child(c byte) int32 {
	for i, l := range n.labels {
		if l == c {
			return n.kids[i]
		}
	}
	return -1
}

// newAddedMatcher indexes toks under patterns[i] (the content, or its normalized
// form for normalized tokens). Empty patterns never match.
func newAddedMatcher(toks []*addedToken, patterns []string) *addedMatcher {
	am := &addedMatcher{nodes: []trieNode{{term: -1}}, toks: toks}
	for i, p := range patterns {
		if p == "" {
			continue
		}
		node := int32(0)
		for j := 0; j < len(p); j++ {
			next := am.nodes[node].child(p[j])
			if next < 0 {
				next = int32(len(am.nodes))
				am.nodes = append(am.nodes, trieNode{term: -1})
				am.nodes[node].labels = append(am.nodes[node].labels, p[j])
				am.nodes[node].kids = append(am.nodes[node].kids, next)
			}
			node = next
		}
		if am.nodes[node].term < 0 { // the first of equal patterns wins
			am.nodes[node].term = int32(i)
		}
		am.first[p[0]] = true
		if len(p) < 4 {
			am.shortFirst[p[0]] = true
		} else {
			h := quadHash(p)
			am.quad[h>>6] |= 1 << (h & 63)
		}
	}
	am.onlyFirst = -1
	for b, ok := range am.first {
		switch {
		case !ok:
		case am.onlyFirst == -1:
			am.onlyFirst = b
		default:
			am.onlyFirst = -2 // several
		}
	}
	am.onlyFirst = max(am.onlyFirst, -1)
	return am
}

func quadHash(s string) uint32 { return le32(s) * 0x9E3779B1 >> 20 }

// quadHas says whether a pattern may start with the first 4 bytes of s.
func (am *addedMatcher) quadHas(s string) bool {
	h := quadHash(s)
	return am.quad[h>>6]&(1<<(h&63)) != 0
}

func (am *addedMatcher) empty() bool { return len(am.nodes) == 1 }

// longestAt returns the end of the longest pattern starting at s[i] and its token.
func (am *addedMatcher) longestAt(s string, i int) (int, *addedToken) {
	node, end, tok := int32(0), -1, (*addedToken)(nil)
	for j := i; j < len(s); j++ {
		node = am.nodes[node].child(s[j])
		if node < 0 {
			break
		}
		if t := am.nodes[node].term; t >= 0 {
			end, tok = j+1, am.toks[t]
		}
	}
	return end, tok
}

// split walks s, calling text(start, end) for the stretches between added tokens
// and token(tok) for each added token, in order. It follows HF's
// AddedVocabulary::find_matches: single_word matches that touch a word character
// are discarded, lstrip/rstrip widen the match over adjacent whitespace.
func (am *addedMatcher) split(s string, text func(start, end int), token func(tok *addedToken)) {
	startOffset := 0
	if !am.empty() {
		for i := 0; i < len(s); {
			if am.onlyFirst >= 0 { // one byte starts every pattern: jump to it
				k := strings.IndexByte(s[i:], byte(am.onlyFirst))
				if k < 0 {
					break
				}
				i += k
			}
			if !am.first[s[i]] || !am.shortFirst[s[i]] && (i+4 > len(s) || !am.quadHas(s[i:])) {
				i++
				continue
			}
			stop, tok := am.longestAt(s, i)
			if tok == nil {
				i++
				continue
			}
			start := i
			i = stop // the search resumes after the raw match
			if tok.singleWord {
				startSpace := start == 0 || !endsWithWordChar(s[:start])
				stopSpace := stop == len(s) || !startsWithWordChar(s[stop:])
				if !startSpace || !stopSpace {
					continue
				}
			}
			if tok.lstrip {
				start = max(trailingSpaceStart(s[:start]), startOffset)
			}
			if tok.rstrip {
				stop += leadingSpaceLen(s[stop:])
			}
			if startOffset < start {
				text(startOffset, start)
			}
			token(tok)
			startOffset = stop
		}
	}
	if startOffset < len(s) {
		text(startOffset, len(s))
	}
}

// isWordChar is the Unicode \w of Rust's regex crate: Alphabetic, marks, decimal
// digits, connector punctuation, and the two join controls.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		r == '\u200c' || r == '\u200d'
}

func endsWithWordChar(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}

// trailingSpaceStart is where the run of whitespace ending s begins.
func trailingSpaceStart(s string) int {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return len(s)
}

// leadingSpaceLen is the byte length of the whitespace run starting s.
func leadingSpaceLen(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}
