package data

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// IgnoreIndex is the label of tokens that carry no loss (prompt and padding), as in
// PyTorch/Hugging Face.
const IgnoreIndex = -100

// BatchOptions control batch order and layout.
type BatchOptions struct {
	BatchSize int    // pairs per batch (each gives two sequences: chosen, rejected)
	Shuffle   bool   // shuffle pairs (deterministically, from Seed)
	Seed      uint64 // shuffle seed
	// GroupByLength sorts pairs by length inside windows of 50 batches (after the
	// shuffle), as transformers' LengthGroupedSampler does, so batches pad less.
	GroupByLength bool
	DropLast      bool  // drop a last, smaller batch
	PadID         int32 // id written in padding positions (masked anyway)
	// Packed lays several sequences end to end in each row of PackLength tokens
	// instead of one padded sequence per row.
	Packed     bool
	PackLength int
}

// Batch is one model input. Sequences are the chosen sequences of the batch's pairs
// followed by their rejected sequences (TRL's concatenated_forward order). Arrays are
// row-major [Rows, T].
type Batch struct {
	Rows, T   int
	IDs       []int32 // token ids; PadID in padding
	Labels    []int32 // ids[t] on completion tokens, IgnoreIndex on prompt and padding
	Positions []int32 // position of each token within its own sequence (0 in padding)
	Segments  []int32 // index of the sequence within its row, -1 in padding
	Seqs      []SeqInfo
	Pairs     []Pair // the pairs, in batch order
}

// SeqInfo places one sequence in a batch.
type SeqInfo struct {
	Pair      int  // index into Batch.Pairs
	Chosen    bool // chosen (true) or rejected sequence
	Row       int  // batch row
	Start     int  // first column
	Len       int  // tokens (prompt + completion)
	PromptLen int
}

// Order returns the pair order for one epoch: shuffled by seed and grouped by length
// per the options.
func Order(pairs []Pair, opts BatchOptions) []int {
	idx := make([]int, len(pairs))
	for i := range idx {
		idx[i] = i
	}
	if opts.Shuffle {
		r := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	if opts.GroupByLength && opts.BatchSize > 0 {
		mega := opts.BatchSize * 50
		for s := 0; s < len(idx); s += mega {
			w := idx[s:min(s+mega, len(idx))]
			sort.SliceStable(w, func(a, b int) bool { return pairLen(&pairs[w[a]]) > pairLen(&pairs[w[b]]) })
		}
	}
	return idx
}

func pairLen(p *Pair) int { return len(p.PromptIDs) + max(len(p.ChosenIDs), len(p.RejectedIDs)) }

// Batches cuts one epoch of pairs into batches.
func Batches(pairs []Pair, opts BatchOptions) ([]Batch, error) {
	if opts.BatchSize <= 0 {
		return nil, fmt.Errorf("batch size %d: must be at least 1", opts.BatchSize)
	}
	order := Order(pairs, opts)
	var out []Batch
	for s := 0; s < len(order); s += opts.BatchSize {
		e := min(s+opts.BatchSize, len(order))
		if e-s < opts.BatchSize && opts.DropLast {
			break
		}
		bp := make([]Pair, 0, e-s)
		for _, i := range order[s:e] {
			bp = append(bp, pairs[i])
		}
		b, err := BuildBatch(bp, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// BuildBatch lays out the pairs' 2·len(pairs) sequences, padded (one per row) or
// packed (first-fit decreasing into rows of PackLength).
func BuildBatch(pairs []Pair, opts BatchOptions) (Batch, error) {
	type seq struct {
		info SeqInfo
		ids  []int32
	}
	seqs := make([]seq, 0, 2*len(pairs))
	for _, chosen := range []bool{true, false} {
		for i := range pairs {
			p := &pairs[i]
			c := p.RejectedIDs
			if chosen {
				c = p.ChosenIDs
			}
			ids := make([]int32, 0, len(p.PromptIDs)+len(c))
			ids = append(append(ids, p.PromptIDs...), c...)
			seqs = append(seqs, seq{SeqInfo{Pair: i, Chosen: chosen, Len: len(ids), PromptLen: len(p.PromptIDs)}, ids})
		}
	}
	b := Batch{Pairs: pairs}
	if !opts.Packed {
		b.Rows = len(seqs)
		for _, s := range seqs {
			b.T = max(b.T, s.info.Len)
		}
		for r := range seqs {
			seqs[r].info.Row, seqs[r].info.Start = r, 0
		}
	} else {
		if opts.PackLength <= 0 {
			return b, fmt.Errorf("packed batches need a pack length")
		}
		b.T = opts.PackLength
		order := make([]int, len(seqs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, c int) bool { return seqs[order[a]].info.Len > seqs[order[c]].info.Len })
		var used []int // tokens used per row
		for _, si := range order {
			s := &seqs[si]
			if s.info.Len > b.T {
				return b, fmt.Errorf("%s:%d: sequence of %d tokens does not fit a packed row of %d", pairs[s.info.Pair].Source, pairs[s.info.Pair].Row, s.info.Len, b.T)
			}
			row := -1
			for r, u := range used {
				if u+s.info.Len <= b.T {
					row = r
					break
				}
			}
			if row < 0 {
				used = append(used, 0)
				row = len(used) - 1
			}
			s.info.Row, s.info.Start = row, used[row]
			used[row] += s.info.Len
		}
		b.Rows = len(used)
	}
	n := b.Rows * b.T
	b.IDs = make([]int32, n)
	b.Labels = make([]int32, n)
	b.Positions = make([]int32, n)
	b.Segments = make([]int32, n)
	for i := range b.IDs {
		b.IDs[i], b.Labels[i], b.Segments[i] = opts.PadID, IgnoreIndex, -1
	}
	segInRow := map[int]int32{}
	// Segment ids follow the order of sequences within a row.
	byStart := make([]int, len(seqs))
	for i := range byStart {
		byStart[i] = i
	}
	sort.SliceStable(byStart, func(a, c int) bool {
		x, y := seqs[byStart[a]].info, seqs[byStart[c]].info
		if x.Row != y.Row {
			return x.Row < y.Row
		}
		return x.Start < y.Start
	})
	for _, si := range byStart {
		s := &seqs[si]
		seg := segInRow[s.info.Row]
		segInRow[s.info.Row] = seg + 1
		base := s.info.Row*b.T + s.info.Start
		for t, id := range s.ids {
			b.IDs[base+t] = id
			b.Positions[base+t] = int32(t)
			b.Segments[base+t] = seg
			if t >= s.info.PromptLen {
				b.Labels[base+t] = id
			}
		}
	}
	b.Seqs = make([]SeqInfo, len(seqs))
	for i, s := range seqs {
		b.Seqs[i] = s.info
	}
	return b, nil
}
