package model

import "fmt"

// Sequence is one (prompt, completion) of a hand-built test batch.
type Sequence struct {
	Prompt, Completion []int32
}

// paddedBatch lays seqs out as right-padded rows with per-position Labels and no
// Targets (one sequence per row): the hand-built batch form the goldens use, written
// independently of BuildBatch. T is the longest row, or t when larger.
func paddedBatch(seqs []Sequence, t int) (*Batch, error) {
	for _, s := range seqs {
		t = max(t, len(s.Prompt)+len(s.Completion))
	}
	b := &Batch{B: len(seqs), T: t}
	n := b.B * t
	b.IDs, b.Positions, b.Segments, b.Labels = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	for r, s := range seqs {
		np, nc := len(s.Prompt), len(s.Completion)
		if np == 0 {
			return nil, fmt.Errorf("row %d: empty prompt", r)
		}
		for c := 0; c < t; c++ {
			i := r*t + c
			b.Labels[i] = Ignore
			switch {
			case c < np:
				b.IDs[i], b.Positions[i] = s.Prompt[c], int32(c)
			case c < np+nc:
				b.IDs[i], b.Positions[i] = s.Completion[c-np], int32(c)
			default:
				b.IDs[i], b.Segments[i] = 0, -1
			}
			if c+1 >= np && c+1 < np+nc {
				b.Labels[i] = s.Completion[c+1-np]
			}
		}
	}
	return b, nil
}

// pairBatch is BuildBatch over PairGroups(pairs).
func pairBatch(pairs []Pair, lay Layout) (*Batch, error) {
	return BuildBatch(PairGroups(pairs), lay)
}
