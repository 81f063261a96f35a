package model

import (
	"fmt"
	"slices"
)

// Target is one loss position of a Batch with explicit targets: the token at Pos
// (index into the B·T tokens) predicts Label, and its log-prob counts towards
// sequence Seq. Unlike Labels, a position may carry several targets: with a shared
// prompt, its last token predicts the first token of both completions.
type Target struct {
	Pos, Label, Seq int32
}

// Pair is one preference pair of token-id lists.
type Pair struct {
	Prompt, Chosen, Rejected []int32
}

// PairLayout selects how BuildPairBatch lays pairs out. The zero value is TRL's
// concatenated form, the layout of BuildBatch: the chosen rows, then the rejected
// rows, each prompt+completion, right-padded.
type PairLayout struct {
	// SharePrompt stores each prompt once, followed by the chosen and then the
	// rejected completion: the completions are separate segments whose tokens also
	// attend to the prompt's segment (Batch.Parents), their positions both continue
	// from the prompt, and the backward accumulates both completions' gradients into
	// the prompt's activations. The prompt's forward and backward run once, not twice.
	SharePrompt bool
	// Pack places the sequences (or, with SharePrompt, the pairs) end to end in rows of
	// at most RowTokens tokens (0: one row for everything), as separate segments:
	// no padding, except at the end of rows shorter than the longest.
	Pack      bool
	RowTokens int
}

// BuildPairBatch lays out pairs with explicit Targets. Sequence s < len(pairs) is pair
// s's chosen completion, len(pairs)+s its rejected one (TRL's order), so
// Output.SeqLogProbs[s] − Output.SeqLogProbs[len(pairs)+s] is pair s's margin.
func BuildPairBatch(pairs []Pair, lay PairLayout) (*Batch, error) {
	np := len(pairs)
	if np == 0 {
		return nil, fmt.Errorf("model: no pairs")
	}
	type unit struct {
		pair   int
		chosen bool // without SharePrompt: which completion; with it, both
		n      int
	}
	var units []unit
	for i, p := range pairs {
		if len(p.Prompt) == 0 {
			return nil, fmt.Errorf("model: pair %d: empty prompt (the first completion token needs a position to be predicted from)", i)
		}
		if len(p.Chosen) == 0 || len(p.Rejected) == 0 {
			return nil, fmt.Errorf("model: pair %d: empty completion", i)
		}
	}
	if lay.SharePrompt {
		for i, p := range pairs {
			units = append(units, unit{pair: i, n: len(p.Prompt) + len(p.Chosen) + len(p.Rejected)})
		}
	} else {
		for _, chosen := range []bool{true, false} {
			for i, p := range pairs {
				c := p.Rejected
				if chosen {
					c = p.Chosen
				}
				units = append(units, unit{pair: i, chosen: chosen, n: len(p.Prompt) + len(c)})
			}
		}
	}
	// rows: each a list of units
	var rows [][]unit
	if !lay.Pack {
		for _, u := range units {
			rows = append(rows, []unit{u})
		}
	} else {
		fill := []int{}
		for _, u := range units {
			placed := false
			if lay.RowTokens > 0 {
				for r := range rows { // first fit
					if fill[r]+u.n <= lay.RowTokens {
						rows[r] = append(rows[r], u)
						fill[r] += u.n
						placed = true
						break
					}
				}
			} else if len(rows) > 0 {
				rows[0] = append(rows[0], u)
				fill[0] += u.n
				placed = true
			}
			if !placed {
				rows = append(rows, []unit{u})
				fill = append(fill, u.n)
			}
		}
	}
	T := 0
	for _, r := range rows {
		n := 0
		for _, u := range r {
			n += u.n
		}
		T = max(T, n)
	}
	b := &Batch{B: len(rows), T: T}
	n := b.B * T
	b.IDs, b.Positions, b.Segments, b.Labels = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	for i := range b.Labels {
		b.Labels[i] = Ignore
		b.Segments[i] = -1
	}
	if lay.SharePrompt {
		b.Parents = make([]int32, n)
		for i := range b.Parents {
			b.Parents[i] = -1
		}
	}
	ntargets := 0
	for _, p := range pairs {
		ntargets += len(p.Chosen) + len(p.Rejected)
	}
	b.Targets = make([]Target, 0, ntargets)
	for r, row := range rows {
		at := r * T
		seg := int32(0)
		// put writes one sequence piece: ids at positions pos0.., segment s, parent par
		put := func(ids []int32, pos0 int, s, par int32) int {
			start := at
			for j, id := range ids {
				b.IDs[at], b.Positions[at], b.Segments[at] = id, int32(pos0+j), s
				if b.Parents != nil {
					b.Parents[at] = par
				}
				at++
			}
			return start
		}
		// targets: completion token j is predicted from the token before it
		targets := func(c []int32, promptLast, cstart int, seq int) {
			for j, id := range c {
				pos := promptLast
				if j > 0 {
					pos = cstart + j - 1
				}
				b.Targets = append(b.Targets, Target{Pos: int32(pos), Label: id, Seq: int32(seq)})
			}
		}
		for _, u := range row {
			p := pairs[u.pair]
			lp := len(p.Prompt)
			if lay.SharePrompt {
				ps := put(p.Prompt, 0, seg, -1)
				cs := put(p.Chosen, lp, seg+1, seg)
				rs := put(p.Rejected, lp, seg+2, seg)
				targets(p.Chosen, ps+lp-1, cs, u.pair)
				targets(p.Rejected, ps+lp-1, rs, np+u.pair)
				seg += 3
				continue
			}
			c, seq := p.Rejected, np+u.pair
			if u.chosen {
				c, seq = p.Chosen, u.pair
			}
			ps := put(p.Prompt, 0, seg, -1)
			cs := put(c, lp, seg, -1)
			targets(c, ps+lp-1, cs, seq)
			seg++
		}
	}
	// Labels mirror the targets where a position has exactly one (for readers of
	// Labels); the model reads Targets.
	count := make(map[int32]int, len(b.Targets))
	for _, t := range b.Targets {
		count[t.Pos]++
	}
	for _, t := range b.Targets {
		if count[t.Pos] == 1 {
			b.Labels[t.Pos] = t.Label
		}
	}
	return b, nil
}

// NumSeqs is the number of sequences the batch's log-probs are summed into: one more
// than the largest Target.Seq, or B for a batch with Labels.
func (b *Batch) NumSeqs() int {
	if b.Targets == nil {
		return b.B
	}
	s := 0
	for _, t := range b.Targets {
		s = max(s, int(t.Seq)+1)
	}
	return s
}

// GroupByLength returns an order of pairs that puts pairs of similar length in the
// same batch of batchPairs, as transformers' LengthGroupedSampler does: the order is
// cut into mega-batches of megaBatches·batchPairs pairs (50 by default when ≤ 0), each
// sorted by decreasing length (prompt + longer completion). Less padding per batch;
// a different assignment of pairs to steps than the plain order.
func GroupByLength(pairs []Pair, batchPairs, megaBatches int) []int {
	if megaBatches <= 0 {
		megaBatches = 50
	}
	length := func(i int) int {
		p := pairs[i]
		return len(p.Prompt) + max(len(p.Chosen), len(p.Rejected))
	}
	order := make([]int, len(pairs))
	for i := range order {
		order[i] = i
	}
	mega := max(1, batchPairs*megaBatches)
	for s := 0; s < len(order); s += mega {
		chunk := order[s:min(s+mega, len(order))]
		slices.SortStableFunc(chunk, func(a, b int) int { return length(b) - length(a) })
	}
	return order
}
