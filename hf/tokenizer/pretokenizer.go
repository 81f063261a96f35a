package tokenizer

import "strings"

// pretoken is a piece of text on its way to the model. atStart says it begins at
// the very start of the input (Metaspace's prepend_scheme "first" needs that).
type pretoken struct {
	text    string
	atStart bool
}

// preStep is one pre-tokenizer of a (flattened) Sequence: it cuts one pretoken
// into several, appended to dst. spans is scratch space it may reuse.
type preStep interface {
	apply(dst []pretoken, p pretoken, spans []span) ([]pretoken, []span)
}

// splitBehavior says what a Split does with the text its pattern matched.
type splitBehavior int

const (
	splitIsolated           splitBehavior = iota // matches become pieces of their own
	splitRemoved                                 // matches are dropped
	splitMergedWithPrevious                      // a match joins the piece before it
	splitMergedWithNext                          // a match joins the piece after it
	splitContiguous                              // runs of matches (and of non-matches) merge
)

var splitBehaviors = map[string]splitBehavior{
	"Isolated": splitIsolated, "Removed": splitRemoved, "MergedWithPrevious": splitMergedWithPrevious,
	"MergedWithNext": splitMergedWithNext, "Contiguous": splitContiguous,
}

// piece is a span of the text being split, and whether the pattern matched it.
type piece struct {
	span
	match bool
}

// splitText cuts p.text by the matches in spans according to behavior (HF's
// NormalizedString::split). invert swaps which parts count as matches. Empty
// pieces are dropped, as PreTokenizedString::split does.
func splitText(dst []pretoken, p pretoken, spans []span, behavior splitBehavior, invert bool) []pretoken {
	s := p.text
	emit := func(a, b int) {
		if b > a {
			dst = append(dst, pretoken{s[a:b], p.atStart && a == 0})
		}
	}
	if behavior == splitIsolated { // every part is kept as it is: no bookkeeping
		prev := 0
		for _, m := range spans {
			emit(prev, m.start)
			emit(m.start, m.end)
			prev = m.end
		}
		emit(prev, len(s))
		return dst
	}
	var parts []piece
	prev := 0
	for _, m := range spans {
		if m.start > prev {
			parts = append(parts, piece{span{prev, m.start}, invert})
		}
		parts = append(parts, piece{m, !invert})
		prev = m.end
	}
	if prev < len(s) {
		parts = append(parts, piece{span{prev, len(s)}, invert})
	}
	var out []span
	switch behavior {
	case splitRemoved:
		for _, q := range parts {
			if !q.match {
				out = append(out, q.span)
			}
		}
	case splitContiguous:
		prevMatch := false
		for _, q := range parts {
			if q.match == prevMatch && len(out) > 0 {
				out[len(out)-1].end = q.end
			} else {
				out = append(out, q.span)
			}
			prevMatch = q.match
		}
	case splitMergedWithPrevious:
		prevMatch := false
		for _, q := range parts {
			if q.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = q.end
			} else {
				out = append(out, q.span)
			}
			prevMatch = q.match
		}
	case splitMergedWithNext:
		prevMatch := false
		for i := len(parts) - 1; i >= 0; i-- {
			q := parts[i]
			if q.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = q.start
			} else {
				out = append(out, q.span)
			}
			prevMatch = q.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	for _, o := range out {
		emit(o.start, o.end)
	}
	return dst
}

// splitStep is HF's Split pre-tokenizer.
type splitStep struct {
	m        matcher
	behavior splitBehavior
	invert   bool
}

func (st splitStep) apply(dst []pretoken, p pretoken, spans []span) ([]pretoken, []span) {
	spans = st.m.findAll(spans[:0], p.text)
	return splitText(dst, p, spans, st.behavior, st.invert), spans
}

// byteLevelStep is HF's ByteLevel pre-tokenizer minus the byte-to-character
// mapping, which the BPE stage applies (after its cache lookup on the raw bytes).
// It must therefore be the last step.
type byteLevelStep struct {
	addPrefixSpace bool
	useRegex       bool
}

var gpt2Words = wordMatcher{next: gpt2Next}

func (st byteLevelStep) apply(dst []pretoken, p pretoken, spans []span) ([]pretoken, []span) {
	if st.addPrefixSpace && !strings.HasPrefix(p.text, " ") {
		p.text = " " + p.text
	}
	if !st.useRegex {
		return append(dst, p), spans
	}
	spans = gpt2Words.findAll(spans[:0], p.text)
	return splitText(dst, p, spans, splitIsolated, false), spans
}

// prependScheme is when Metaspace puts its replacement character in front of a piece.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst                // only on the piece that starts the input
	prependNever
)

// metaspaceStep is HF's Metaspace pre-tokenizer: spaces become the replacement
// character ("▁"), which is prepended per the scheme, and each word keeps the "▁"
// that opens it (MergedWithNext).
type metaspaceStep struct {
	replacement string
	prepend     prependScheme
	split       bool
}

func (st metaspaceStep) apply(dst []pretoken, p pretoken, spans []span) ([]pretoken, []span) {
	t := strings.ReplaceAll(p.text, " ", st.replacement)
	if t != "" && !strings.HasPrefix(t, st.replacement) &&
		(st.prepend == prependAlways || st.prepend == prependFirst && p.atStart) {
		t = st.replacement + t
	}
	p.text = t
	if !st.split {
		return append(dst, p), spans
	}
	spans = literalMatcher{st.replacement}.findAll(spans[:0], t)
	return splitText(dst, p, spans, splitMergedWithNext, false), spans
}
