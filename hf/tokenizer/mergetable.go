package tokenizer

import "math/bits"

// mergeTable maps a pair of token ids to rank<<32 | merged id. It is an
// open-addressing hash table with linear probing over one flat slice (key, value
// interleaved), about twice as fast as a Go map on the BPE hot path and free of
// pointers for the GC. (A small table of the low-rank merges in front of it, with
// a Bloom filter for the pairs that are no merge, saved a few L2 misses but cost
// more in instructions and L1 misses than it saved.)
type mergeTable struct{ all pairTable }

// newMergeTable builds the table from (pairKey, rank<<32 | merged id) entries; a
// later duplicate key overrides an earlier one.
func newMergeTable(entries []resolvedMerge) *mergeTable {
	t := &mergeTable{all: newPairTable(len(entries))}
	for _, e := range entries {
		t.all.put(e.key, e.val)
	}
	return t
}

func (t *mergeTable) get(key uint64) (uint64, bool) { return t.all.get(key) }

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

// newPairTable makes a table for n keys at a load factor of at most 3/4.
func newPairTable(n int) pairTable {
	size := uint64(16)
	for size*3 < uint64(n)*4 {
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
