package tokenizer

import "math/bits"

// mergeTable maps a pair of token ids to rank<<32 | merged id.
//
// Encoding text the first time (a cold word cache) looks pairs up at random, so
// the layout is chosen for the CPU caches rather than for the table as a whole
// (~300k merges take 8 MiB; a miss there costs hundreds of nanoseconds on a
// virtual machine):
//
//   - hot holds the merges of rank below hotRanks. They build the frequent words
//     and answer most successful lookups, from a table small enough to stay in L2.
//   - filter is a blocked Bloom filter over all pairs (one 64-bit word per pair,
//     two bits set in it), which answers most lookups of a pair that is no merge
//     (the neighbours a word ends with) without touching all.
//   - all holds every merge.
type mergeTable struct {
	hot, all    pairTable
	filter      []uint64
	filterShift uint
}

// hotRanks is how many of the first merges go into the hot table (512 KiB).
const hotRanks = 1 << 14

// newMergeTable builds the table from (pairKey, rank<<32 | merged id) entries; a
// later duplicate key overrides an earlier one.
func newMergeTable(entries []resolvedMerge) *mergeTable {
	t := &mergeTable{all: newPairTable(len(entries), false)}
	for _, e := range entries {
		t.all.put(e.key, e.val)
	}
	t.hot = newPairTable(min(t.all.n, hotRanks), true)
	filterWords := uint64(1)
	for filterWords*8 < uint64(t.all.n) { // 8 bits per merge
		filterWords <<= 1
	}
	t.filter = make([]uint64, filterWords)
	t.filterShift = uint(64 - bits.TrailingZeros64(filterWords))
	for i := 0; i < len(t.all.slots); i += 2 {
		key, val := t.all.slots[i], t.all.slots[i+1]
		if key == emptyKey {
			continue
		}
		if val>>32 < hotRanks {
			t.hot.put(key, val)
		}
		w, m := t.filterBits(key)
		t.filter[w] |= m
	}
	return t
}

// filterBits is the filter word of key and the two bits key sets in it.
func (t *mergeTable) filterBits(key uint64) (uint64, uint64) {
	h := key * 0xC2B2AE3D27D4EB4F
	h ^= h >> 29
	h *= 0x9E3779B97F4A7C15
	return h >> t.filterShift, 1<<(h&63) | 1<<(h>>6&63)
}

func (t *mergeTable) get(key uint64) (uint64, bool) {
	if v, ok := t.hot.get(key); ok {
		return v, true
	}
	if w, m := t.filterBits(key); t.filter[w]&m != m {
		return 0, false
	}
	return t.all.get(key)
}

// pairTable is an open-addressing hash table with linear probing over one flat
// slice (key, value interleaved), about twice as fast as a Go map on the BPE hot
// path and free of pointers for the GC.
type pairTable struct {
	slots []uint64 // slots[2i] = key (emptyKey when unused), slots[2i+1] = value
	mask  uint64
	shift uint
	n     int
}

// emptyKey cannot be a pairKey: token ids are below 1<<31.
const emptyKey = ^uint64(0)

// newPairTable makes a table for n keys at a load factor of at most 1/2 (short
// probes) when sparse, else 3/4 (less memory).
func newPairTable(n int, sparse bool) pairTable {
	num, den := uint64(3), uint64(4)
	if sparse {
		num, den = 1, 2
	}
	size := uint64(16)
	for size*num < uint64(n)*den {
		size <<= 1
	}
	t := pairTable{slots: make([]uint64, 2*size), mask: size - 1, shift: uint(64 - bits.TrailingZeros64(size))}
	for i := 0; i < len(t.slots); i += 2 {
		t.slots[i] = emptyKey
	}
	return t
}

func (t *pairTable) home(key uint64) uint64 {
	return (key * 0x9E3779B97F4A7C15) >> t.shift // Fibonacci hashing
}

// put sets key's value (a repeated key is overwritten).
func (t *pairTable) put(key, val uint64) {
	for i := t.home(key); ; i = (i + 1) & t.mask {
		switch t.slots[2*i] {
		case emptyKey:
			t.slots[2*i], t.slots[2*i+1] = key, val
			t.n++
			return
		case key:
			t.slots[2*i+1] = val
			return
		}
	}
}

func (t *pairTable) get(key uint64) (uint64, bool) {
	for i := t.home(key); ; i = (i + 1) & t.mask {
		switch t.slots[2*i] {
		case key:
			return t.slots[2*i+1], true
		case emptyKey:
			return 0, false
		}
	}
}
