package tokenizer

import (
	"fmt"
	"hash/maphash"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpeModel is HF's BPE model (models/bpe/model.rs) at inference: no dropout.
type bpeModel struct {
	vocab     map[string]int32
	idToToken []string    // vocab by id ("" where no token has the id)
	merges    *mergeTable // pairKey(left, right) -> rank<<32 | merged id

	unkID        int32 // -1: no unk token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool   // a word that is itself in the vocab is one token (Llama-3)
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix

	byteTokens [256]int32 // ids of "<0x00>".."<0xFF>" (byte_fallback), -1 if absent

	// charIDs[r] is vocab[string(r)] (or -1) for runes below len(charIDs), a
	// shortcut for the per-character lookups when no prefix/suffix applies.
	charIDs []int32

	// byteLevelIDs[b] is the id of byte b's byte-level character; byteLevelDense
	// says all 256 exist and no prefix/suffix applies, so a raw word's first
	// symbols come straight from its bytes.
	byteLevelIDs   [256]int32
	byteLevelDense bool

	// rawVocab answers ignore_merges lookups of short byte-level pre-tokens (nil:
	// not built; see useByteLevel).
	rawVocab *rawVocab

	// segmentMark is "▁" when cutting a word before each "▁" that follows another
	// character cannot change the result (no merge produces such a "x▁" and "▁" is in
	// the vocab), so long SentencePiece-style inputs merge in short, cacheable pieces.
	segmentMark string
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeOptions are the model fields of tokenizer.json besides vocab and merges.
type bpeOptions struct {
	unk          *string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
}

// newBPEModel builds a model without merges (setMerges adds them).
func newBPEModel(vocab map[string]int32, idToToken []string, o bpeOptions) (*bpeModel, error) {
	m := &bpeModel{
		vocab: vocab, idToToken: idToToken, merges: newMergeTable(nil), unkID: -1,
		fuseUnk: o.fuseUnk, byteFallback: o.byteFallback, ignoreMerges: o.ignoreMerges,
		prefix: o.prefix, suffix: o.suffix,
	}
	if o.unk != nil {
		id, ok := vocab[*o.unk]
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is not in model.vocab", *o.unk)
		}
		m.unkID = id
	}
	for b := 0; b < 256; b++ {
		m.byteTokens[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteTokens[b] = id
		}
	}
	m.byteLevelDense = o.prefix == "" && o.suffix == ""
	for b := 0; b < 256; b++ {
		m.byteLevelIDs[b] = -1
		if id, ok := vocab[byteLevelStr[b]]; ok {
			m.byteLevelIDs[b] = id
		} else {
			m.byteLevelDense = false
		}
	}
	if o.prefix == "" && o.suffix == "" {
		m.charIDs = make([]int32, 0x3000) // Latin, Greek, Cyrillic, ..., general punctuation
		for r := range m.charIDs {
			m.charIDs[r] = -1
			if id, ok := vocab[string(rune(r))]; ok && utf8.ValidRune(rune(r)) {
				m.charIDs[r] = id
			}
		}
	}
	if _, ok := vocab["▁"]; ok && !o.ignoreMerges && o.prefix == "" && o.suffix == "" {
		m.segmentMark = "▁" // until a merge proves it unsafe
	}
	return m, nil
}

// mergeText locates merges[rank] = (a, b) in an arena of unescaped bytes:
// a = arena[start:mid], b = arena[mid:end].
type mergeText struct{ start, mid, end int }

// resolvedMerge is a merge as ids: pairKey(a, b) and rank<<32 | merged id.
type resolvedMerge struct{ key, val uint64 }

// setMerges resolves the merges to ids (in parallel: ~300k lookups in a 150k-entry
// map are most of the load time) and fills the merge table; a later duplicate pair
// overrides an earlier one, as HF's HashMap collect does.
func (m *bpeModel) setMerges(arena []byte, texts []mergeText) error {
	resolved := make([]resolvedMerge, len(texts))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(texts)/20000))
	chunk := (len(texts) + workers - 1) / workers
	errs := make([]error, workers)
	unsafeMark := make([]bool, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min(len(texts), (w+1)*chunk)
		wg.Go(func() {
			errs[w], unsafeMark[w] = m.resolveMerges(arena, texts, resolved, lo, hi)
		})
	}
	wg.Wait()
	for w := range workers {
		if errs[w] != nil {
			return errs[w] // chunks are in order: this is the first bad merge
		}
		if unsafeMark[w] {
			m.segmentMark = ""
		}
	}
	m.merges = newMergeTable(resolved)
	return nil
}

// resolveMerges resolves texts[lo:hi]. The merged token's id is usually the
// previous merge's or the next one (vocabularies are numbered in merge order), so
// those two are tried before the map.
func (m *bpeModel) resolveMerges(arena []byte, texts []mergeText, out []resolvedMerge, lo, hi int) (error, bool) {
	var scratch []byte
	prev := int32(-2)
	unsafeMark := false
	for i := lo; i < hi; i++ {
		t := texts[i]
		a, b := arena[t.start:t.mid], arena[t.mid:t.end]
		aID, ok := m.vocab[string(a)]
		if !ok {
			return fmt.Errorf("model.merges[%d]: token %q is not in model.vocab", i, a), false
		}
		bID, ok := m.vocab[string(b)]
		if !ok {
			return fmt.Errorf("model.merges[%d]: token %q is not in model.vocab", i, b), false
		}
		scratch = append(scratch[:0], a...)
		scratch = append(scratch, b[min(len(m.prefix), len(b)):]...) // HF drops prefix_len bytes of b
		merged := int32(-1)
		for _, guess := range [2]int32{prev, prev + 1} {
			if guess >= 0 && int(guess) < len(m.idToToken) && m.idToToken[guess] == string(scratch) {
				merged = guess
				break
			}
		}
		if merged < 0 {
			if merged, ok = m.vocab[string(scratch)]; !ok {
				return fmt.Errorf("model.merges[%d]: merged token %q is not in model.vocab", i, scratch), false
			}
		}
		prev = merged
		out[i] = resolvedMerge{pairKey(aID, bID), uint64(i)<<32 | uint64(uint32(merged))}
		if m.segmentMark != "" && !unsafeMark && joinsBeforeMark(scratch) {
			unsafeMark = true
		}
	}
	return nil, unsafeMark
}

// joinsBeforeMark says whether tok has a "▁" right after a character that is not "▁".
func joinsBeforeMark(tok []byte) bool {
	prevMark := true
	for len(tok) > 0 {
		r, n := utf8.DecodeRune(tok)
		if r == '▁' && !prevMark {
			return true
		}
		prevMark = r == '▁'
		tok = tok[n:]
	}
	return false
}

// symbol is one token of a word being merged; the word is a doubly linked list
// over a slice, and a symbol merged into its left neighbour gets size 0.
type symbol struct {
	id         int32
	prev, next int32
	size       int32 // bytes of the word it covers
}

// bpeScratch is per-call reusable memory.
type bpeScratch struct {
	syms []symbol
	heap []mergeCand
	buf  []byte
}

func (sc *bpeScratch) add(id int32, size int) {
	n := int32(len(sc.syms))
	if n > 0 {
		sc.syms[n-1].next = n
	}
	sc.syms = append(sc.syms, symbol{id: id, prev: n - 1, next: -1, size: int32(size)})
}

// initSymbols turns a word into its first symbols, one per character: the
// character's id, else its "<0xNN>" byte tokens (byte_fallback), else unk (fused
// over a run when fuse_unk). It mirrors merge_word's quirks: byte-fallback tokens
// do not flush a pending unk, and prefix/suffix are added before the lookups.
func (m *bpeModel) initSymbols(sc *bpeScratch, w string) {
	sc.syms = sc.syms[:0]
	pendingUnk, unkLen := false, 0
	for i := 0; i < len(w); {
		r, n := utf8.DecodeRuneInString(w[i:])
		if int(r) < len(m.charIDs) {
			if id := m.charIDs[r]; id >= 0 {
				if pendingUnk {
					sc.add(m.unkID, unkLen)
					pendingUnk = false
				}
				sc.add(id, n)
				i += n
				continue
			}
		}
		key := w[i : i+n]
		if m.prefix != "" && i > 0 {
			key = m.prefix + key
		}
		if m.suffix != "" && i+n == len(w) {
			key += m.suffix
		}
		i += n
		if id, ok := m.vocab[key]; ok {
			if pendingUnk {
				sc.add(m.unkID, unkLen)
				pendingUnk = false
			}
			sc.add(id, n)
			continue
		}
		if m.byteFallback && m.hasByteTokens(key) {
			for j := 0; j < len(key); j++ {
				sc.add(m.byteTokens[key[j]], 1)
			}
			continue
		}
		if m.unkID < 0 {
			continue // no unk token: HF drops the character
		}
		switch {
		case !pendingUnk:
			pendingUnk, unkLen = true, n
		case m.fuseUnk:
			unkLen += n
		default:
			sc.add(m.unkID, unkLen)
			unkLen = n
		}
	}
	if pendingUnk {
		sc.add(m.unkID, unkLen)
	}
}

func (m *bpeModel) hasByteTokens(s string) bool {
	for j := 0; j < len(s); j++ {
		if m.byteTokens[s[j]] < 0 {
			return false
		}
	}
	return true
}

// merge applies the merges to the symbols in sc.syms and appends the resulting
// ids to dst: by mergeSmall for the short words that are nearly all of them,
// else by mergeAll.
func (m *bpeModel) merge(dst []int32, sc *bpeScratch) []int32 {
	if len(sc.syms) > maxScanSymbols {
		m.mergeAll(sc)
		return appendMerged(dst, sc.syms)
	}
	start := len(dst)
	for _, s := range sc.syms {
		dst = append(dst, s.id)
	}
	return dst[:start+m.mergeSmall(dst[start:])]
}

// maxScanSymbols is the longest word mergeSmall takes: it rescans all pairs after
// each merge, fewer instructions than heap upkeep for short words.
const maxScanSymbols = 32

// mergeSmall applies the merges to ids in place and returns how many remain. It
// keeps each adjacent pair's merge (rank<<32 | merged id, noMerge if none) in an
// array and merges the lowest, leftmost among equal ranks (equal ranks are the
// same pair, so the whole values compare), which is the order mergeAll's heap
// gives.
func (m *bpeModel) mergeSmall(ids []int32) int {
	var vals [maxScanSymbols]uint64
	n := len(ids)
	pair := func(i int) uint64 {
		if v, ok := m.merges.get(pairKey(ids[i], ids[i+1])); ok {
			return v
		}
		return noMerge
	}
	for i := 0; i+1 < n; i++ {
		vals[i] = pair(i)
	}
	for n > 1 {
		best, bv := 0, vals[0]
		for i, v := range vals[1 : n-1] {
			if v < bv {
				best, bv = i+1, v
			}
		}
		if bv == noMerge {
			break
		}
		// ids[best] and ids[best+1] become one; the pairs right of them move left.
		ids[best] = int32(uint32(bv))
		for j := best + 1; j < n-1; j++ { // loops: a few elements, less than a memmove call
			ids[j] = ids[j+1]
		}
		for j := best + 1; j < n-2; j++ {
			vals[j] = vals[j+1]
		}
		n--
		if best > 0 {
			vals[best-1] = pair(best - 1)
		}
		if best+1 < n {
			vals[best] = pair(best)
		}
	}
	return n
}

// noMerge marks a pair that has no merge (ranks are below 1<<31).
const noMerge = ^uint64(0)

// mergeCand is a possible merge of the symbol at pos with its right neighbour:
// ord = rank<<32 | pos orders the heap (lowest rank first, leftmost first among
// equal ranks). left and right are the two ids when it was pushed: the entry is
// stale (skipped when popped) unless both symbols still hold them, which saves a
// merge-table lookup per pop.
type mergeCand struct {
	ord                 uint64
	left, right, merged int32
}

// mergeAll applies merges lowest rank first, leftmost first among equal ranks,
// with a min-heap of candidates like HF's Word::merge_all.
func (m *bpeModel) mergeAll(sc *bpeScratch) {
	syms := sc.syms
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		h = m.pushPair(h, int32(i), syms[i].id, syms[i+1].id)
	}
	for len(h) > 0 {
		var top mergeCand
		top, h = heapPop(h)
		pos := int32(uint32(top.ord))
		s := &syms[pos]
		if s.size == 0 || s.next < 0 || s.id != top.left || syms[s.next].id != top.right {
			continue
		}
		nx := s.next
		right := syms[nx]
		s.id = top.merged
		s.size += right.size
		s.next = right.next
		syms[nx].size = 0
		if right.next >= 0 {
			syms[right.next].prev = pos
		}
		if s.prev >= 0 {
			h = m.pushPair(h, s.prev, syms[s.prev].id, s.id)
		}
		if s.next >= 0 {
			h = m.pushPair(h, pos, s.id, syms[s.next].id)
		}
	}
	sc.heap = h
}

// pushPair pushes the merge of left (at pos) and right, if there is one.
func (m *bpeModel) pushPair(h []mergeCand, pos, left, right int32) []mergeCand {
	if v, ok := m.merges.get(pairKey(left, right)); ok {
		h = heapPush(h, mergeCand{v>>32<<32 | uint64(pos), left, right, int32(uint32(v))})
	}
	return h
}

func heapPush(h []mergeCand, x mergeCand) []mergeCand {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].ord <= x.ord {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
	return h
}

func heapPop(h []mergeCand) (mergeCand, []mergeCand) {
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	n := len(h)
	if n == 0 {
		return top, h
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].ord < h[c].ord {
			c++
		}
		if last.ord <= h[c].ord {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = last
	return top, h
}

// appendMerged appends the ids of the merged symbols.
func appendMerged(dst []int32, syms []symbol) []int32 {
	for _, s := range syms {
		if s.size != 0 {
			dst = append(dst, s.id)
		}
	}
	return dst
}

// tokenizeWord is BPE::tokenize for one pre-token (already in the model's
// alphabet): ignore_merges lookup, then merges.
func (m *bpeModel) tokenizeWord(dst []int32, w string, sc *bpeScratch) []int32 {
	if w == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(dst, id)
		}
	}
	if start := len(dst); m.charIDs != nil {
		// Fast path: every character has its own id (no unk, no byte fallback).
		var ok bool
		if dst, ok = m.appendCharIDs(dst, w); ok && len(dst)-start <= maxScanSymbols {
			return dst[:start+m.mergeSmall(dst[start:])]
		}
		dst = dst[:start]
	}
	m.initSymbols(sc, w)
	return m.merge(dst, sc)
}

// appendCharIDs appends the charIDs of w's characters to dst; ok is false when
// some character has none (initSymbols then handles the word).
func (m *bpeModel) appendCharIDs(dst []int32, w string) (_ []int32, ok bool) {
	for i := 0; i < len(w); {
		r, n := rune(w[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(w[i:])
		}
		if int(r) >= len(m.charIDs) || m.charIDs[r] < 0 {
			return dst, false
		}
		dst = append(dst, m.charIDs[r])
		i += n
	}
	return dst, true
}

// useByteLevel prepares the model for byte-level pre-tokens
// (tokenizeRawByteLevel).
func (m *bpeModel) useByteLevel() {
	if m.ignoreMerges && m.byteLevelDense {
		m.rawVocab = newRawVocab(m.vocab)
	}
}

// tokenizeRawByteLevel tokenizes the byte-level image of the raw bytes w.
func (m *bpeModel) tokenizeRawByteLevel(dst []int32, w string, sc *bpeScratch) []int32 {
	if m.rawVocab != nil {
		if k, ok := packShort(w); ok {
			if id, ok := m.rawVocab.get(k); ok {
				return append(dst, id)
			}
			return m.mergeRawByteLevel(dst, w, sc) // not in the vocabulary
		}
	}
	if !m.byteLevelDense || m.ignoreMerges {
		sc.buf = byteLevelEncode(sc.buf[:0], w)
		if m.ignoreMerges {
			if id, ok := m.vocab[string(sc.buf)]; ok {
				return append(dst, id)
			}
		}
		if !m.byteLevelDense {
			m.initSymbols(sc, string(sc.buf))
			return m.merge(dst, sc)
		}
	}
	return m.mergeRawByteLevel(dst, w, sc)
}

// mergeRawByteLevel is BPE on the raw bytes w when byteLevelDense.
func (m *bpeModel) mergeRawByteLevel(dst []int32, w string, sc *bpeScratch) []int32 {
	sc.syms = sc.syms[:0]
	for i := 0; i < len(w); i++ {
		sc.add(m.byteLevelIDs[w[i]], 1)
	}
	return m.merge(dst, sc)
}

// maxCachedWord is HF's cache MAX_LENGTH: longer words are not cached.
const maxCachedWord = 256

// wordCache maps a pre-token to its ids. It is sharded so parallel encoders rarely
// contend; a full shard stops admitting words (like HF's cache).
type wordCache struct {
	seed   maphash.Seed
	shards [64]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

const cacheShardCap = 4096

func newWordCache() *wordCache {
	c := &wordCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
	return c
}

func (c *wordCache) shard(k string) *cacheShard {
	return &c.shards[maphash.String(c.seed, k)&63]
}

func (c *wordCache) get(k string) ([]int32, bool) {
	s := c.shard(k)
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(k string, v []int32) {
	s := c.shard(k)
	s.mu.Lock()
	if len(s.m) < cacheShardCap {
		s.m[strings.Clone(k)] = v
	}
	s.mu.Unlock()
}
