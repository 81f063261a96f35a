package tokenizer

import "testing"

// packShortRef is packShort one byte at a time.
func packShortRef(w string) (k shortKey, ok bool) {
	if len(w) >= len("▁") && w[0] == 0xE2 && w[1] == 0x96 && w[2] == 0x81 {
		k.hi, w = 1<<63, w[len("▁"):]
	}
	if len(w) > shortMaxBytes || len(w) == 0 && k.hi == 0 {
		return k, false
	}
	k.hi |= uint64(len(w)+1) << 56
	for i := 0; i < len(w); i++ {
		if i < 8 {
			k.lo |= uint64(w[i]) << (8 * i)
		} else {
			k.hi |= uint64(w[i]) << (8 * (i - 8))
		}
	}
	return k, true
}

// TestPackShort checks the word-at-a-time packShort against the byte loop it replaced.
func TestPackShort(t *testing.T) {
	full := "\xe2\x96\x81abcdefghijklmnopqrstu\xff\x80"
	for a := 0; a <= len(full); a++ {
		for b := a; b <= len(full); b++ {
			w := full[a:b]
			k1, ok1 := packShort(w)
			k2, ok2 := packShortRef(w)
			if k1 != k2 || ok1 != ok2 {
				t.Fatalf("%q: %x %v, want %x %v", w, k1, ok1, k2, ok2)
			}
		}
	}
}
