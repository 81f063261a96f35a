package tokenizer

// rawVocab is a byte-level model's vocabulary keyed by the raw bytes its tokens
// stand for, for the tokens of at most 15 bytes (packed as the short cache packs
// a word). With ignore_merges a pre-token that is itself a token is that one
// token; looking the raw pre-token up here costs one cache line, where
// byte-level encoding it and asking the string-keyed vocab map touches several
// (the map's group, the key's bytes), which dominates encoding text the first
// time. It answers for every word packShort accepts: a miss means the word is
// not in the vocabulary.
type rawVocab struct {
	slots []rawVocabSlot
	mask  uint64
	shift uint
}

type rawVocabSlot struct {
	key shortKey // hi == 0: empty
	id  int32
}

// newRawVocab builds the table from the model's vocabulary.
func newRawVocab(vocab map[string]int32) *rawVocab {
	bits := uint(4)
	for uint64(1)<<bits < uint64(len(vocab))*2 {
		bits++
	}
	v := &rawVocab{slots: make([]rawVocabSlot, 1<<bits), mask: 1<<bits - 1, shift: 64 - bits}
	var fromRune [0x144]int16 // the byte-level alphabet lies below U+0144; -1: not in it
	for r := range fromRune {
		fromRune[r] = -1
	}
	for b, r := range byteToRune {
		fromRune[r] = int16(b)
	}
	var raw []byte
	entries := make([]rawVocabSlot, 0, len(vocab))
	for tok, id := range vocab {
		if len(tok) > 2*(len("▁")+shortMaxBytes) { // 1-2 UTF-8 bytes per raw byte
			continue
		}
		raw = raw[:0]
		inAlphabet := true
		for _, r := range tok {
			if r >= rune(len(fromRune)) || fromRune[r] < 0 {
				inAlphabet = false // no byte-level pre-token can spell it
				break
			}
			raw = append(raw, byte(fromRune[r]))
		}
		if !inAlphabet {
			continue
		}
		if k, ok := packShort(string(raw)); ok {
			entries = append(entries, rawVocabSlot{k, id})
		}
	}
	// Inserting grouped by the high bits of the home slot (a counting sort) writes
	// the table almost sequentially; in map order every insert was a cache (and
	// TLB) miss, most of the build time. Vocabulary tokens are distinct, so the
	// order does not change the answers.
	groupShift := bits - min(bits, 12)
	starts := make([]int, 1<<(bits-groupShift)+1)
	for _, e := range entries {
		starts[v.home(e.key)>>groupShift+1]++
	}
	for g := 1; g < len(starts); g++ {
		starts[g] += starts[g-1]
	}
	grouped := make([]rawVocabSlot, len(entries))
	for _, e := range entries {
		g := v.home(e.key) >> groupShift
		grouped[starts[g]] = e
		starts[g]++
	}
	for _, e := range grouped {
		v.put(e.key, e.id)
	}
	return v
}

func (v *rawVocab) home(k shortKey) uint64 {
	return ((k.lo ^ k.hi*0xC2B2AE3D27D4EB4F) * 0x9E3779B97F4A7C15) >> v.shift
}

func (v *rawVocab) put(k shortKey, id int32) {
	i := v.home(k)
	for v.slots[i].key.hi != 0 && v.slots[i].key != k {
		i = (i + 1) & v.mask
	}
	v.slots[i] = rawVocabSlot{k, id}
}

func (v *rawVocab) get(k shortKey) (int32, bool) {
	for i := v.home(k); ; i = (i + 1) & v.mask {
		s := &v.slots[i]
		if s.key == k {
			return s.id, true
		}
		if s.key.hi == 0 {
			return 0, false
		}
	}
}
