package tokenizer

import (
	"sync"
	"sync/atomic"
)

// shortCache remembers the ids of pre-tokens of at most 15 bytes (not counting a
// leading SentencePiece "▁") that became one or two tokens: nearly every English
// word. A word packs into a two-word key (its bytes, their count, a flag for the
// "▁"), its ids into one word, and lookups are lock-free atomic loads in an
// open-addressing table, several times cheaper than a string-keyed map behind a
// lock. Inserts take a mutex. The table starts small (it stays in cache) and
// doubles when 3/4 full: the bigger copy is published atomically, and a reader
// still holding the old one sees a consistent, if stale, table. It stops growing
// at shortCacheMaxBits; words that do not fit go to the string-keyed wordCache.
type shortCache struct {
	table atomic.Pointer[shortTable]
	mu    sync.Mutex
}

// shortKey is a packed word: lo holds bytes 0-7, hi bytes 8-14, the byte count
// plus one (so hi is never 0, the empty-slot marker) and the "▁" flag.
type shortKey struct{ lo, hi uint64 }

type shortTable struct {
	slots []atomic.Uint64 // per entry: hi (0: empty), lo, value
	mask  uint64
	shift uint
	n     int // entries, guarded by shortCache.mu
}

const (
	shortCacheMinBits = 12
	shortCacheMaxBits = 18 // 262,144 entries, 6 MiB
	shortMaxBytes     = 15
)

func newShortTable(bits uint) *shortTable {
	size := uint64(1) << bits
	return &shortTable{slots: make([]atomic.Uint64, 3*size), mask: size - 1, shift: 64 - bits}
}

func newShortCache() *shortCache {
	c := &shortCache{}
	c.table.Store(newShortTable(shortCacheMinBits))
	return c
}

// packShort packs a word; ok is false when it is too long (or empty). It loads
// the bytes a few at a time (overlapping loads when the length is not a multiple).
func packShort(w string) (k shortKey, ok bool) {
	if len(w) >= len("▁") && w[0] == 0xE2 && w[1] == 0x96 && w[2] == 0x81 {
		k.hi, w = 1<<63, w[len("▁"):]
	}
	n := len(w)
	if n > shortMaxBytes || n == 0 && k.hi == 0 {
		return k, false
	}
	k.hi |= uint64(n+1) << 56
	switch {
	case n >= 8:
		k.lo = le64(w)
		k.hi |= le64(w[n-8:]) >> (8 * (16 - n)) // bytes 8..n-1 (none when n is 8)
	case n >= 4:
		k.lo = uint64(le32(w)) | uint64(le32(w[n-4:]))<<(8*(n-4))
	default:
		for i := 0; i < n; i++ {
			k.lo |= uint64(w[i]) << (8 * i)
		}
	}
	return k, true
}

// le64 and le32 read the first 8 or 4 bytes of s, little-endian (the compiler
// makes each one load).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// packIDs packs one or two token ids (each below 1<<31) with their count.
func packIDs(ids []int32) (uint64, bool) {
	switch len(ids) {
	case 1:
		return 1 | uint64(ids[0])<<2, true
	case 2:
		return 2 | uint64(ids[0])<<2 | uint64(ids[1])<<33, true
	}
	return 0, false
}

func appendPackedIDs(out []int, v uint64) []int {
	out = append(out, int(v>>2&(1<<31-1)))
	if v&3 == 2 {
		out = append(out, int(v>>33))
	}
	return out
}

func (t *shortTable) home(k shortKey) uint64 {
	return ((k.lo ^ k.hi*0xC2B2AE3D27D4EB4F) * 0x9E3779B97F4A7C15) >> t.shift
}

func (c *shortCache) get(k shortKey) (uint64, bool) {
	t := c.table.Load()
	for i := t.home(k); ; i = (i + 1) & t.mask {
		switch t.slots[3*i].Load() {
		case k.hi:
			if t.slots[3*i+1].Load() == k.lo {
				return t.slots[3*i+2].Load(), true
			}
		case 0:
			return 0, false
		}
	}
}

// insert writes the value and lo before publishing hi, so a reader that sees hi
// sees the rest. The caller holds c.mu.
func (t *shortTable) insert(k shortKey, val uint64) {
	for i := t.home(k); ; i = (i + 1) & t.mask {
		switch t.slots[3*i].Load() {
		case k.hi:
			if t.slots[3*i+1].Load() == k.lo {
				return
			}
		case 0:
			t.slots[3*i+2].Store(val)
			t.slots[3*i+1].Store(k.lo)
			t.slots[3*i].Store(k.hi)
			t.n++
			return
		}
	}
}

func (c *shortCache) put(k shortKey, val uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.table.Load()
	if uint64(t.n+1)*4 > (t.mask+1)*3 {
		bits := 64 - t.shift
		if bits >= shortCacheMaxBits {
			return // full
		}
		bigger := newShortTable(bits + 1)
		for i := uint64(0); i <= t.mask; i++ {
			if hi := t.slots[3*i].Load(); hi != 0 {
				bigger.insert(shortKey{t.slots[3*i+1].Load(), hi}, t.slots[3*i+2].Load())
			}
		}
		c.table.Store(bigger)
		t = bigger
	}
	t.insert(k, val)
}
