package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Tokenizer encodes text to token ids and decodes ids to text exactly as the
// Hugging Face tokenizer described by its tokenizer.json does. It is safe for
// concurrent use.
type Tokenizer struct {
	model      *bpeModel
	normalizer normalizer // nil: none
	steps      []preStep  // the pre-tokenizer, flattened
	byteLevel  bool       // a ByteLevel pre-tokenizer: the model sees byte-level characters
	decoder    decoder    // nil: tokens are joined with spaces
	post       template   // what addSpecialTokens adds

	rawAdded  *addedMatcher // added tokens matched in the raw input (normalized: false)
	normAdded *addedMatcher // added tokens matched in the normalized text

	addedByContent map[string]int32
	addedByID      map[int32]*addedToken
	special        map[string]bool // contents of special added tokens
	vocabSize      int

	bos, eos, pad int // -1: unknown

	short *shortCache // pre-tokens of up to 15 bytes (+ "▁") giving 1-2 ids
	cache *wordCache  // the other pre-tokens up to maxCachedWord bytes
	pool  sync.Pool   // *encodeState
}

// encodeState is scratch memory for one Encode call.
type encodeState struct {
	bpe   bpeScratch
	ids   []int32
	pre   [2][]pretoken
	spans []span
}

// Load reads dir/tokenizer.json and, when present, dir/tokenizer_config.json and
// dir/special_tokens_map.json (BOS/EOS/PAD, and add_bos_token/add_eos_token for
// the Llama tokenizer classes that honour them).
func Load(dir string) (*Tokenizer, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("tokenizer: %s is not a directory", dir)
	}
	t, err := LoadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	if err := t.applyConfig(dir); err != nil {
		return nil, err
	}
	return t, nil
}

// LoadFile reads a tokenizer.json on its own. BOS and EOS are then the tokens the
// post-processor puts before and after the text, when it puts exactly one there.
func LoadFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// Parse builds a Tokenizer from the contents of a tokenizer.json.
func Parse(data []byte) (*Tokenizer, error) {
	var f tokenizerFile
	var model *bpeModel
	sc := &jsonScanner{data: data}
	err := sc.object(func(key []byte) error {
		if string(key) == "model" {
			var err error
			model, err = parseModel(sc)
			return err
		}
		raw, err := sc.skipValue()
		if err != nil {
			return err
		}
		switch string(key) {
		case "added_tokens":
			if err := json.Unmarshal(raw, &f.AddedTokens); err != nil {
				return fmt.Errorf("added_tokens: %w", err)
			}
		case "normalizer":
			f.Normalizer = raw
		case "pre_tokenizer":
			f.PreTokenizer = raw
		case "post_processor":
			f.PostProcessor = raw
		case "decoder":
			f.Decoder = raw
		}
		return nil
	})
	if err == nil {
		err = sc.end()
	}
	if err != nil {
		return nil, err
	}
	if model == nil {
		return nil, fmt.Errorf("model: missing")
	}
	t := &Tokenizer{model: model, bos: -1, eos: -1, pad: -1, cache: newWordCache(), short: newShortCache()}
	t.pool.New = func() any { return new(encodeState) }
	if !isNull(f.Normalizer) {
		if t.normalizer, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.steps, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer", nil, &t.byteLevel); err != nil {
			return nil, err
		}
	}
	if t.byteLevel {
		model.useByteLevel()
	}
	if !isNull(f.Decoder) {
		if t.decoder, err = parseDecoder(f.Decoder, "decoder"); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = parsePostProcessor(f.PostProcessor, "post_processor"); err != nil {
			return nil, err
		}
	}
	if err := t.addTokens(f.AddedTokens); err != nil {
		return nil, err
	}
	for _, id := range append(slices.Clone(t.post.prefix), t.post.suffix...) {
		if _, ok := t.IDToken(id); !ok {
			return nil, fmt.Errorf("post_processor: special token id %d is neither in model.vocab nor in added_tokens", id)
		}
	}
	if len(t.post.prefix) == 1 {
		t.bos = t.post.prefix[0]
	}
	if len(t.post.suffix) == 1 {
		t.eos = t.post.suffix[0]
	}
	return t, nil
}

// addTokens registers added_tokens the way HF's AddedVocabulary::add_tokens does:
// a token already in the model vocabulary keeps that id, any other gets the next
// id after the vocabulary (HF recomputes ids; a file whose ids disagree is
// rejected rather than silently renumbered). Special tokens are matched before
// the others, each group in file order.
func (t *Tokenizer) addTokens(list []addedTokenJSON) error {
	t.addedByContent = map[string]int32{}
	t.addedByID = map[int32]*addedToken{}
	t.special = map[string]bool{}
	var specials, others []*addedToken
	for i, a := range list {
		if a.Content == "" {
			continue
		}
		tok := &addedToken{
			content: a.Content, singleWord: a.SingleWord, lstrip: a.Lstrip, rstrip: a.Rstrip,
			normalized: a.Normalized == nil || *a.Normalized, special: a.Special,
		}
		id, ok := t.addedByContent[a.Content]
		if !ok {
			id, ok = t.model.vocab[a.Content]
		}
		if !ok {
			id = int32(len(t.model.vocab))
			for _, other := range t.addedByContent {
				if other >= id {
					id = other + 1
				}
			}
		}
		if int(id) != a.ID {
			if other, taken := t.tokenAt(a.ID); taken {
				return fmt.Errorf("added_tokens[%d]: duplicate id %d: %q, but the id is already token %q", i, a.ID, a.Content, other)
			}
			return fmt.Errorf("added_tokens[%d]: %q has id %d but Hugging Face assigns it id %d", i, a.Content, a.ID, id)
		}
		if other, taken := t.tokenAt(a.ID); taken && other != a.Content {
			// a gap in model.vocab: HF numbers new added tokens from the vocabulary size
			return fmt.Errorf("added_tokens[%d]: duplicate id %d: %q, but the id is already token %q", i, a.ID, a.Content, other)
		}
		tok.id = id
		if prev, dup := t.addedByID[id]; dup && prev.content == tok.content {
			*prev = *tok // a repeated entry updates the token's flags
			continue
		}
		t.addedByContent[a.Content] = id
		t.addedByID[id] = tok
		if tok.special {
			t.special[tok.content] = true
			specials = append(specials, tok)
		} else {
			others = append(others, tok)
		}
	}
	var raw, norm []*addedToken
	var rawPat, normPat []string
	for _, tok := range append(specials, others...) {
		if tok.normalized {
			p := tok.content
			if t.normalizer != nil {
				p = t.normalizer.normalize(p)
			}
			norm, normPat = append(norm, tok), append(normPat, p)
		} else {
			raw, rawPat = append(raw, tok), append(rawPat, tok.content)
		}
	}
	t.rawAdded = newAddedMatcher(raw, rawPat)
	t.normAdded = newAddedMatcher(norm, normPat)
	distinct := len(t.model.vocab)
	for content := range t.addedByContent {
		if _, inModel := t.model.vocab[content]; !inModel {
			distinct++
		}
	}
	t.vocabSize = distinct
	return nil
}

// tokenizerConfig is the part of tokenizer_config.json / special_tokens_map.json
// this package reads.
type tokenizerConfig struct {
	TokenizerClass string          `json:"tokenizer_class"`
	AddBOSToken    *bool           `json:"add_bos_token"`
	AddEOSToken    *bool           `json:"add_eos_token"`
	BOSToken       json.RawMessage `json:"bos_token"`
	EOSToken       json.RawMessage `json:"eos_token"`
	PadToken       json.RawMessage `json:"pad_token"`
}

// llamaClasses are the transformers fast tokenizers that rebuild the
// post-processor from add_bos_token (default true) and add_eos_token (default
// false) when they load (LlamaTokenizerFast.update_post_processor and kin).
var llamaClasses = map[string]bool{
	"LlamaTokenizer": true, "LlamaTokenizerFast": true,
	"CodeLlamaTokenizer": true, "CodeLlamaTokenizerFast": true,
	"GemmaTokenizer": true, "GemmaTokenizerFast": true,
}

// applyConfig reads the optional config files next to tokenizer.json.
func (t *Tokenizer) applyConfig(dir string) error {
	var cfg tokenizerConfig
	found, err := readJSONIfExists(filepath.Join(dir, "tokenizer_config.json"), &cfg)
	if err != nil {
		return err
	}
	var stm tokenizerConfig // special_tokens_map.json overrides tokenizer_config.json
	foundMap, err := readJSONIfExists(filepath.Join(dir, "special_tokens_map.json"), &stm)
	if err != nil {
		return err
	}
	if !found && !foundMap {
		return nil
	}
	pick := func(a, b json.RawMessage) json.RawMessage {
		if b != nil {
			return b
		}
		return a
	}
	var ids [3]int
	for i, raw := range []json.RawMessage{pick(cfg.BOSToken, stm.BOSToken), pick(cfg.EOSToken, stm.EOSToken), pick(cfg.PadToken, stm.PadToken)} {
		name := [...]string{"bos_token", "eos_token", "pad_token"}[i]
		ids[i], err = t.specialTokenID(raw, name, dir)
		if err != nil {
			return err
		}
	}
	t.bos, t.eos, t.pad = ids[0], ids[1], ids[2]
	if llamaClasses[cfg.TokenizerClass] {
		addBOS := cfg.AddBOSToken == nil || *cfg.AddBOSToken
		addEOS := cfg.AddEOSToken != nil && *cfg.AddEOSToken
		var tp template
		if addBOS {
			if t.bos < 0 {
				return fmt.Errorf("tokenizer: %s: add_bos_token is true but bos_token is not set", filepath.Join(dir, "tokenizer_config.json"))
			}
			tp.prefix = []int{t.bos}
		}
		if addEOS {
			if t.eos < 0 {
				return fmt.Errorf("tokenizer: %s: add_eos_token is true but eos_token is not set", filepath.Join(dir, "tokenizer_config.json"))
			}
			tp.suffix = []int{t.eos}
		}
		t.post = tp
	}
	return nil
}

// specialTokenID resolves a bos_token/eos_token/pad_token value: a string, an
// AddedToken object {"content": ...}, or null/absent (-1).
func (t *Tokenizer) specialTokenID(raw json.RawMessage, name, dir string) (int, error) {
	if isNull(raw) {
		return -1, nil
	}
	var content string
	if err := json.Unmarshal(raw, &content); err != nil {
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return -1, fmt.Errorf("tokenizer: %s: %s: want a string or {\"content\": ...}", dir, name)
		}
		content = obj.Content
	}
	id, ok := t.TokenID(content)
	if !ok {
		return -1, fmt.Errorf("tokenizer: %s: %s %q is not in the vocabulary", dir, name, content)
	}
	return id, nil
}

func readJSONIfExists(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenizer: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return true, nil
}

// Encode returns the token ids of text. With addSpecialTokens the post-processor's
// tokens (e.g. Llama-2's BOS) are added around them. Invalid UTF-8 in text is first
// replaced by U+FFFD, as decoding the bytes with errors="replace" would.
func (t *Tokenizer) Encode(text string, addSpecialTokens bool) []int {
	text = validUTF8(text)
	st := t.pool.Get().(*encodeState)
	defer t.pool.Put(st)
	out := make([]int, 0, len(text)/4+len(t.post.prefix)+len(t.post.suffix)+1)
	if addSpecialTokens {
		out = append(out, t.post.prefix...)
	}
	out = t.encodeText(out, text, st)
	if addSpecialTokens {
		out = append(out, t.post.suffix...)
	}
	return out
}

// EncodeBatch encodes texts concurrently; the result is in input order.
func (t *Tokenizer) EncodeBatch(texts []string, addSpecialTokens bool, workers int) [][]int {
	out := make([][]int, len(texts))
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				out[i] = t.Encode(texts[i], addSpecialTokens)
			}
		})
	}
	for i := range texts {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// encodeText is HF's encode_single_sequence: split out added tokens matched in the
// raw text, normalize each remaining piece, split out added tokens matched in the
// normalized text, pre-tokenize, run the model on each pre-token.
func (t *Tokenizer) encodeText(out []int, text string, st *encodeState) []int {
	addID := func(tok *addedToken) { out = append(out, int(tok.id)) }
	t.rawAdded.split(text, func(a, b int) {
		piece := text[a:b]
		if t.normalizer != nil {
			piece = t.normalizer.normalize(piece)
		}
		t.normAdded.split(piece, func(c, d int) {
			out = t.encodePiece(out, pretoken{piece[c:d], a == 0 && c == 0}, st)
		}, addID)
	}, addID)
	return out
}

// encodePiece pre-tokenizes one piece and runs the model on its pre-tokens.
func (t *Tokenizer) encodePiece(out []int, p pretoken, st *encodeState) []int {
	cur, next := append(st.pre[0][:0], p), st.pre[1][:0]
	for _, step := range t.steps {
		next = next[:0]
		for _, x := range cur {
			next, st.spans = step.apply(next, x, st.spans)
		}
		cur, next = next, cur
	}
	st.pre[0], st.pre[1] = cur, next
	for _, w := range cur {
		out = t.encodeWord(out, w.text, st)
	}
	return out
}

// encodeWord runs the model on one pre-token, through the cache.
func (t *Tokenizer) encodeWord(out []int, w string, st *encodeState) []int {
	if mark := t.model.segmentMark; mark != "" && !t.byteLevel {
		// Cut before each mark that follows another character; see segmentMark.
		start := 0
		for i := 1; i < len(w); {
			k := strings.IndexByte(w[i:], mark[0])
			if k < 0 {
				break
			}
			j := i + k
			if !strings.HasPrefix(w[j:], mark) {
				i = j + 1
				continue
			}
			if !strings.HasSuffix(w[start:j], mark) {
				out = t.encodeSegment(out, w[start:j], st)
				start = j
			}
			i = j + len(mark)
		}
		return t.encodeSegment(out, w[start:], st)
	}
	return t.encodeSegment(out, w, st)
}

func (t *Tokenizer) encodeSegment(out []int, w string, st *encodeState) []int {
	if w == "" {
		return out
	}
	shortKey, short := packShort(w)
	if short {
		if v, ok := t.short.get(shortKey); ok {
			return appendPackedIDs(out, v)
		}
	}
	cacheable := len(w) < maxCachedWord
	if cacheable {
		if ids, ok := t.cache.get(w); ok {
			for _, id := range ids {
				out = append(out, int(id))
			}
			return out
		}
	}
	ids := st.ids[:0]
	if t.byteLevel {
		ids = t.model.tokenizeRawByteLevel(ids, w, &st.bpe)
	} else {
		ids = t.model.tokenizeWord(ids, w, &st.bpe)
	}
	st.ids = ids
	if v, ok := packIDs(ids); ok && short {
		t.short.put(shortKey, v)
	} else if cacheable {
		t.cache.put(w, slices.Clone(ids))
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out
}

// Decode turns ids back into text through the tokenizer's decoder. Ids that name
// no token are skipped (as HF does); with skipSpecialTokens so are special added
// tokens. No clean_up_tokenization_spaces is applied, so Decode(Encode(s)) == s for
// the byte-level tokenizers.
func (t *Tokenizer) Decode(ids []int, skipSpecialTokens bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.IDToken(id)
		if !ok || skipSpecialTokens && t.special[tok] {
			continue
		}
		toks = append(toks, tok)
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder.decodeChain(toks), "")
}

// VocabSize is the number of distinct tokens, added tokens included (HF's
// get_vocab_size(with_added_tokens=True), transformers' len(tokenizer)).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenID returns the id of a token string (an added token's content or a model
// vocabulary entry, in the model's alphabet, e.g. "Ġthe").
func (t *Tokenizer) TokenID(token string) (int, bool) {
	if id, ok := t.addedByContent[token]; ok {
		return int(id), true
	}
	id, ok := t.model.vocab[token]
	return int(id), ok
}

// IDToken returns the token string of an id.
func (t *Tokenizer) IDToken(id int) (string, bool) {
	if id < 0 || id > 1<<31-1 {
		return "", false
	}
	if tok, ok := t.addedByID[int32(id)]; ok {
		return tok.content, true
	}
	if id >= len(t.model.idToToken) {
		return "", false
	}
	tok := t.model.idToToken[id]
	if tok == "" {
		return "", false
	}
	return tok, true
}

// IsSpecial says whether id is a special added token (skipped by Decode with
// skipSpecialTokens).
func (t *Tokenizer) IsSpecial(id int) bool {
	tok, ok := t.IDToken(id)
	return ok && t.special[tok]
}

// BOS is the beginning-of-sequence token id, when known.
func (t *Tokenizer) BOS() (int, bool) { return t.bos, t.bos >= 0 }

// EOS is the end-of-sequence token id, when known.
func (t *Tokenizer) EOS() (int, bool) { return t.eos, t.eos >= 0 }

// PAD is the padding token id, when known.
func (t *Tokenizer) PAD() (int, bool) { return t.pad, t.pad >= 0 }

// SpecialTokensAdded returns the ids Encode(text, true) puts before and after the
// text's own ids.
func (t *Tokenizer) SpecialTokensAdded() (prefix, suffix []int) {
	return slices.Clone(t.post.prefix), slices.Clone(t.post.suffix)
}

// tokenAt returns the token (added or model) that already holds id while the
// added tokens are being registered.
func (t *Tokenizer) tokenAt(id int) (string, bool) {
	if id < 0 || id > 1<<31-1 {
		return "", false
	}
	if tok, ok := t.addedByID[int32(id)]; ok {
		return tok.content, true
	}
	if id < len(t.model.idToToken) {
		if tok := t.model.idToToken[id]; tok != "" || t.model.vocab[""] == int32(id) {
			_, inVocab := t.model.vocab[tok]
			return tok, inVocab
		}
	}
	return "", false
}
