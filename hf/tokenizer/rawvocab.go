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
	var raw []byte
	for tok, id := range vocab {
		raw = raw[:0]
		inAlphabet := true
		for _, r := range tok {
			b, ok := runeToByte[r]
			if !ok {
				inAlphabet = false // no byte-level pre-token can spell it
				break
			}
			raw = append(raw, b)
		}
		if !inAlphabet {
			continue
		}
		if k, ok := packShort(string(raw)); ok {
			v.put(k, id)
		}
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
