package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file reads the JSON of tokenizer.json's components. Every error names the
// field it is about; the caller prefixes the file name.

// tokenizerFile is tokenizer.json's top level.
type tokenizerFile struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
}

type addedTokenJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

// isNull says whether a component is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// typeOf reads a component's "type" and decodes it into v.
func decodeComponent(raw json.RawMessage, field string, v any) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return "", fmt.Errorf("%s (type %q): %w", field, head.Type, err)
		}
	}
	return head.Type, nil
}

// patternJSON is a Split/Replace pattern: {"String": "..."} or {"Regex": "..."}.
type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p patternJSON) matcher(field string) (matcher, error) {
	switch {
	case p.String != nil:
		return literalMatcher{*p.String}, nil
	case p.Regex != nil:
		m, err := newRegexMatcher(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s.pattern: %w", field, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s.pattern: want {\"String\": ...} or {\"Regex\": ...}", field)
}

func parseNormalizer(raw json.RawMessage, field string) (normalizer, error) {
	var c struct {
		Normalizers []json.RawMessage `json:"normalizers"`
		StripLeft   bool              `json:"strip_left"`
		StripRight  bool              `json:"strip_right"`
		Prepend     string            `json:"prepend"`
		Pattern     patternJSON       `json:"pattern"`
		Content     string            `json:"content"`
	}
	typ, err := decodeComponent(raw, field, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var seq sequenceNormalizer
		for i, sub := range c.Normalizers {
			if isNull(sub) {
				continue
			}
			n, err := parseNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", field, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, n)
		}
		return seq.fuse(), nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Strip":
		return stripNormalizer{c.StripLeft, c.StripRight}, nil
	case "Prepend":
		return prependNormalizer{c.Prepend}, nil
	case "Replace":
		m, err := c.Pattern.matcher(field)
		if err != nil {
			return nil, err
		}
		return replaceNormalizer{m, c.Content}, nil
	}
	return nil, fmt.Errorf("%s: unsupported normalizer type %q", field, typ)
}

// parsePreTokenizer flattens (nested) Sequences into steps and says whether a
// ByteLevel step is present (it must be last: the model applies its mapping).
func parsePreTokenizer(raw json.RawMessage, field string, steps []preStep, byteLevel *bool) ([]preStep, error) {
	if *byteLevel {
		return nil, fmt.Errorf("%s: a pre-tokenizer after ByteLevel is not supported", field)
	}
	var c struct {
		PreTokenizers  []json.RawMessage `json:"pretokenizers"`
		Pattern        patternJSON       `json:"pattern"`
		Behavior       string            `json:"behavior"`
		Invert         bool              `json:"invert"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
		UseRegex       *bool             `json:"use_regex"`
		Replacement    string            `json:"replacement"`
		PrependScheme  string            `json:"prepend_scheme"`
		Split          *bool             `json:"split"`
	}
	typ, err := decodeComponent(raw, field, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		for i, sub := range c.PreTokenizers {
			if steps, err = parsePreTokenizer(sub, fmt.Sprintf("%s.pretokenizers[%d]", field, i), steps, byteLevel); err != nil {
				return nil, err
			}
		}
		return steps, nil
	case "Split":
		m, err := c.Pattern.matcher(field)
		if err != nil {
			return nil, err
		}
		b, ok := splitBehaviors[c.Behavior]
		if !ok {
			return nil, fmt.Errorf("%s.behavior: unknown split behavior %q", field, c.Behavior)
		}
		return append(steps, splitStep{m, b, c.Invert}), nil
	case "ByteLevel":
		*byteLevel = true
		return append(steps, byteLevelStep{
			addPrefixSpace: c.AddPrefixSpace == nil || *c.AddPrefixSpace, // HF default: true
			useRegex:       c.UseRegex == nil || *c.UseRegex,
		}), nil
	case "Metaspace":
		rep, scheme, err := metaspaceOptions(field, c.Replacement, c.PrependScheme, c.AddPrefixSpace)
		if err != nil {
			return nil, err
		}
		return append(steps, metaspaceStep{string(rep), scheme, c.Split == nil || *c.Split}), nil
	}
	return nil, fmt.Errorf("%s: unsupported pre-tokenizer type %q", field, typ)
}

// metaspaceOptions reads Metaspace's replacement and prepend scheme; the legacy
// add_prefix_space=false means "never" (and contradicts any other explicit scheme).
func metaspaceOptions(field, replacement, scheme string, addPrefixSpace *bool) (rune, prependScheme, error) {
	r, n := utf8.DecodeRuneInString(replacement)
	if n == 0 || n != len(replacement) {
		return 0, 0, fmt.Errorf("%s.replacement: want one character, got %q", field, replacement)
	}
	ps := prependAlways
	switch scheme {
	case "", "always":
	case "first":
		ps = prependFirst
	case "never":
		ps = prependNever
	default:
		return 0, 0, fmt.Errorf("%s.prepend_scheme: unknown scheme %q", field, scheme)
	}
	if addPrefixSpace != nil && !*addPrefixSpace {
		if scheme != "" && ps != prependNever {
			return 0, 0, fmt.Errorf("%s: add_prefix_space=false contradicts prepend_scheme %q", field, scheme)
		}
		ps = prependNever
	}
	return r, ps, nil
}

func parseDecoder(raw json.RawMessage, field string) (decoder, error) {
	var c struct {
		Decoders       []json.RawMessage `json:"decoders"`
		Pattern        patternJSON       `json:"pattern"`
		Content        string            `json:"content"`
		Start          int               `json:"start"`
		Stop           int               `json:"stop"`
		Replacement    string            `json:"replacement"`
		PrependScheme  string            `json:"prepend_scheme"`
		AddPrefixSpace *bool             `json:"add_prefix_space"`
	}
	typ, err := decodeComponent(raw, field, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var seq sequenceDecoder
		for i, sub := range c.Decoders {
			d, err := parseDecoder(sub, fmt.Sprintf("%s.decoders[%d]", field, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, d)
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "Replace":
		m, err := c.Pattern.matcher(field)
		if err != nil {
			return nil, err
		}
		return replaceDecoder{replaceNormalizer{m, c.Content}}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		r, n := utf8.DecodeRuneInString(c.Content)
		if n == 0 || n != len(c.Content) {
			return nil, fmt.Errorf("%s.content: want one character, got %q", field, c.Content)
		}
		return stripDecoder{r, c.Start, c.Stop}, nil
	case "Metaspace":
		rep, scheme, err := metaspaceOptions(field, c.Replacement, c.PrependScheme, c.AddPrefixSpace)
		if err != nil {
			return nil, err
		}
		return metaspaceDecoder{rep, scheme}, nil
	}
	return nil, fmt.Errorf("%s: unsupported decoder type %q", field, typ)
}

// bpeJSON is the model object of a BPE tokenizer.json, less vocab and merges.
type bpeJSON struct {
	Type                    string   `json:"type"`
	Dropout                 *float64 `json:"dropout"`
	UnkToken                *string  `json:"unk_token"`
	ContinuingSubwordPrefix *string  `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string  `json:"end_of_word_suffix"`
	FuseUnk                 bool     `json:"fuse_unk"`
	ByteFallback            bool     `json:"byte_fallback"`
	IgnoreMerges            bool     `json:"ignore_merges"`
}

// parseModel reads the model object at sc: the small fields through
// encoding/json, vocab and merges with the scanner.
func parseModel(sc *jsonScanner) (*bpeModel, error) {
	var vocabRaw, mergesRaw json.RawMessage
	small := map[string]json.RawMessage{}
	err := sc.object(func(key []byte) error {
		raw, err := sc.skipValue()
		switch string(key) {
		case "vocab":
			vocabRaw = raw
		case "merges":
			mergesRaw = raw
		default:
			small[string(key)] = raw
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	smallJSON, err := json.Marshal(small)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	var c bpeJSON
	if err := json.Unmarshal(smallJSON, &c); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if c.Type != "BPE" && !(c.Type == "" && mergesRaw != nil) { // old files omit "type"
		return nil, fmt.Errorf("model.type: unsupported model %q (only BPE is supported)", c.Type)
	}
	if isNull(vocabRaw) {
		return nil, fmt.Errorf("model.vocab: missing")
	}
	if c.Dropout != nil && *c.Dropout > 0 {
		return nil, fmt.Errorf("model.dropout: %v makes encoding random; only null or 0 is supported", *c.Dropout)
	}
	vocab, idToToken, err := readVocab(vocabRaw)
	if err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	m, err := newBPEModel(vocab, idToToken, bpeOptions{
		unk: c.UnkToken, fuseUnk: c.FuseUnk, byteFallback: c.ByteFallback, ignoreMerges: c.IgnoreMerges,
		prefix: str(c.ContinuingSubwordPrefix), suffix: str(c.EndOfWordSuffix),
	})
	if err != nil {
		return nil, err
	}
	if !isNull(mergesRaw) {
		if err := readMerges(mergesRaw, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// readVocab reads {"token": id, ...} into the token -> id map and the id -> token
// table. The token strings share one backing string.
func readVocab(raw []byte) (map[string]int32, []string, error) {
	sc := &jsonScanner{data: raw}
	type entry struct {
		start, end int
		id         int32
	}
	arena := make([]byte, 0, len(raw)/2)
	entries := make([]entry, 0, len(raw)/16)
	maxID := int32(-1)
	err := sc.object(func(key []byte) error {
		start := len(arena)
		arena = append(arena, key...)
		id, err := sc.readID()
		entries = append(entries, entry{start, len(arena), id})
		maxID = max(maxID, id)
		return err
	})
	if err == nil {
		err = sc.end()
	}
	if err != nil {
		return nil, nil, err
	}
	all := string(arena)
	vocab := make(map[string]int32, len(entries))
	for _, e := range entries {
		tok := all[e.start:e.end]
		vocab[tok] = e.id // a repeated key keeps its last id, as serde's map does
	}
	if int(maxID) >= len(vocab)+maxVocabGap {
		for _, e := range entries {
			if e.id == maxID {
				return nil, nil, fmt.Errorf("token %q has id %d, but there are only %d tokens (at most %d ids may be left unused)",
					all[e.start:e.end], e.id, len(vocab), maxVocabGap)
			}
		}
	}
	idToToken := make([]string, maxID+1)
	taken := make([]bool, maxID+1)
	for _, e := range entries { // file order, so the error is deterministic
		tok := all[e.start:e.end]
		if vocab[tok] != e.id {
			continue // overridden by a later entry for the same key
		}
		if taken[e.id] && idToToken[e.id] != tok {
			return nil, nil, fmt.Errorf("duplicate id %d: tokens %q and %q", e.id, idToToken[e.id], tok)
		}
		idToToken[e.id], taken[e.id] = tok, true
	}
	return vocab, idToToken, nil
}

// maxVocabGap bounds the ids a vocabulary may leave unused: the id -> token
// table is sized by the largest id, so an id of 2**31-1 in a ten-token file
// would otherwise allocate 32 GiB.
const maxVocabGap = 1 << 20

// readMerges reads merges written as "a b" strings (split on the one space) or
// as ["a", "b"] pairs (newer files, which allow spaces inside tokens).
func readMerges(raw []byte, m *bpeModel) error {
	sc := &jsonScanner{data: raw}
	arena := make([]byte, 0, len(raw))
	var texts []mergeText
	err := sc.array(func(i int) error {
		var err error
		start := len(arena)
		switch sc.peek() {
		case '"':
			if arena, err = sc.readString(arena); err != nil {
				return err
			}
			s := arena[start:]
			sp := bytes.IndexByte(s, ' ')
			if sp < 0 || bytes.IndexByte(s[sp+1:], ' ') >= 0 {
				return fmt.Errorf("model.merges[%d]: %q is not two tokens separated by one space", i, s)
			}
			copy(s[sp:], s[sp+1:]) // drop the space: a and b are contiguous
			arena = arena[:len(arena)-1]
			texts = append(texts, mergeText{start, start + sp, len(arena)})
		case '[':
			count, mid := 0, 0
			err = sc.array(func(j int) error {
				if j > 1 {
					return fmt.Errorf("model.merges[%d]: want a pair of tokens", i)
				}
				if j == 1 {
					mid = len(arena)
				}
				count = j + 1
				var err error
				arena, err = sc.readString(arena)
				return err
			})
			if err != nil {
				return err
			}
			if count != 2 {
				return fmt.Errorf("model.merges[%d]: want a pair of tokens, got %d", i, count)
			}
			texts = append(texts, mergeText{start, mid, len(arena)})
		default:
			return fmt.Errorf("model.merges[%d]: want \"a b\" or [\"a\", \"b\"]", i)
		}
		return nil
	})
	if err == nil {
		err = sc.end()
	}
	if err == nil {
		err = m.setMerges(arena, texts)
	}
	if err != nil {
		return fmt.Errorf("model.merges: %w", err)
	}
	return nil
}
