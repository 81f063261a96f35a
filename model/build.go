package model

import (
	"fmt"
	"slices"
)

// Group is one prompt with the completions scored against it: a preference pair
// (chosen, rejected), a KTO example with its mismatched KL completion, a LiPO list, an
// SFT example, a reward-model pair. Completion j's log-probs are summed into sequence
// Seqs[j] (Output.SeqLogProbs); with Tails set, its tokens from index Split[j] on go
// to sequence Tails[j] instead (LD-DPO's excess of the longer response).
type Group struct {
	Prompt      []int32
	Completions [][]int32
	Seqs        []int32
	Split       []int   // optional: per completion, the first token counted in Tails[j]
	Tails       []int32 // optional: per completion, the sequence of its tokens ≥ Split[j]
}

// Layout selects how BuildBatch lays groups out. The zero value is TRL's
// concatenated form: one row per (prompt, completion), right-padded, in the order of
// the completions' sequence numbers.
type Layout struct {
	// SharePrompt stores each prompt once, followed by its completions: each completion
	// is a segment whose tokens also attend to the prompt's segment (Batch.Parents), its
	// positions continue from the prompt, and the backward accumulates every
	// completion's gradient into the prompt's activations.
	SharePrompt bool
	// Pack places the sequences (or, with SharePrompt, the groups) end to end in rows
	// of at most RowTokens tokens (0: one row for everything), as separate segments:
	// no padding, except at the end of rows shorter than the longest.
	Pack      bool
	RowTokens int
	// LastOnly gives each completion one target instead of one per token: its last
	// token, label 0 (for a head on the final hidden state: a reward model's score).
	LastOnly bool
}

// BuildBatch is the one batcher: it lays the groups out with explicit Targets
// (Labels mirror them where a position has exactly one). Every layout gives the same
// sequence log-probs and gradients (pairs_test.go). See Batch.Build to reuse a batch.
func BuildBatch(groups []Group, lay Layout) (*Batch, error) {
	b := &Batch{}
	if err := b.Build(groups, lay); err != nil {
		return nil, err
	}
	return b, nil
}

// unit is what Build places contiguously: a whole group when its prompt is shared
// (c < 0), else one prompt+completion.
type unit struct{ g, c int }

// buildScratch is Build's working memory, kept in the Batch so that rebuilding a
// batch of no larger size allocates nothing (the training step rebuilds one per
// micro-batch).
type buildScratch struct {
	units      []unit
	urow, fill []int
	count      []int32 // targets per position
	parents    []int32 // Batch.Parents' memory while a build has none
}

// Build is BuildBatch into b, reusing b's slices (and scratch) when they are large
// enough.
func (b *Batch) Build(groups []Group, lay Layout) error {
	if len(groups) == 0 {
		return fmt.Errorf("model: %w: no sequences", ErrBadBatch)
	}
	for i, g := range groups {
		if len(g.Prompt) == 0 {
			return rowErr(i, "empty prompt (the first completion token needs a position to be predicted from)")
		}
		if len(g.Completions) == 0 || len(g.Seqs) != len(g.Completions) {
			return rowErr(i, "%d completions with %d sequence numbers", len(g.Completions), len(g.Seqs))
		}
		if g.Tails != nil && (len(g.Tails) != len(g.Completions) || len(g.Split) != len(g.Completions)) {
			return rowErr(i, "tails for %d of %d completions", len(g.Tails), len(g.Completions))
		}
		for j, c := range g.Completions {
			if len(c) == 0 {
				return rowErr(i, "completion %d is empty", j)
			}
			if g.Seqs[j] < 0 {
				return rowErr(i, "completion %d: negative sequence %d", j, g.Seqs[j])
			}
		}
	}
	// units in sequence order when not sharing
	sc := &b.scratch
	units := sc.units[:0]
	length := func(u unit) int {
		g := groups[u.g]
		if u.c >= 0 {
			return len(g.Prompt) + len(g.Completions[u.c])
		}
		n := len(g.Prompt)
		for _, c := range g.Completions {
			n += len(c)
		}
		return n
	}
	if lay.SharePrompt {
		for i := range groups {
			units = append(units, unit{i, -1})
		}
	} else {
		for i, g := range groups {
			for j := range g.Completions {
				units = append(units, unit{i, j})
			}
		}
		slices.SortStableFunc(units, func(a, b unit) int {
			return int(groups[a.g].Seqs[a.c]) - int(groups[b.g].Seqs[b.c])
		})
	}
	sc.units = units
	// rows by first fit (packing) or one per unit: urow[k] is unit k's row
	urow, fill := sc.urow[:0], sc.fill[:0]
	for _, u := range units {
		n := length(u)
		row := -1
		if lay.Pack {
			for r := range fill {
				if lay.RowTokens == 0 || fill[r]+n <= lay.RowTokens {
					row = r
					break
				}
			}
		}
		if row < 0 {
			row, fill = len(fill), append(fill, 0)
		}
		fill[row] += n
		urow = append(urow, row)
	}
	sc.urow, sc.fill = urow, fill
	T := slices.Max(fill)
	b.B, b.T = len(fill), T
	n := b.B * T
	b.IDs, b.Positions, b.Segments, b.Labels = growInt32(b.IDs, n), growInt32(b.Positions, n), growInt32(b.Segments, n), growInt32(b.Labels, n)
	for i := range b.Labels {
		b.IDs[i], b.Positions[i], b.Labels[i], b.Segments[i] = 0, 0, Ignore, -1
	}
	if b.Parents != nil {
		sc.parents = b.Parents
	}
	b.Parents = nil
	if lay.SharePrompt {
		b.Parents = growInt32(sc.parents, n)
		sc.parents = b.Parents
		for i := range b.Parents {
			b.Parents[i] = -1
		}
	}
	nt := 0
	for _, g := range groups {
		for _, c := range g.Completions {
			nt += len(c)
		}
	}
	if lay.LastOnly {
		nt = 0
		for _, g := range groups {
			nt += len(g.Completions)
		}
	}
	if cap(b.Targets) < nt {
		b.Targets = make([]Target, 0, nt)
	}
	b.Targets = b.Targets[:0]
	for r := range fill {
		at := r * T
		seg := int32(0)
		// put writes ids at positions pos0.. in segment s with parent par; returns the start
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
		// targets of completion c (tokens at cstart..), predicted from the token before
		// each; the first from the prompt's last token
		targets := func(g *Group, j, promptLast, cstart int) {
			c := g.Completions[j]
			if lay.LastOnly {
				b.Targets = append(b.Targets, Target{Pos: int32(cstart + len(c) - 1), Label: 0, Seq: g.Seqs[j]})
				return
			}
			for k, id := range c {
				pos := promptLast
				if k > 0 {
					pos = cstart + k - 1
				}
				seq := g.Seqs[j]
				if g.Tails != nil && k >= g.Split[j] {
					seq = g.Tails[j]
				}
				b.Targets = append(b.Targets, Target{Pos: int32(pos), Label: id, Seq: seq})
			}
		}
		for k, u := range units {
			if urow[k] != r {
				continue
			}
			g := &groups[u.g]
			lp := len(g.Prompt)
			if u.c < 0 {
				ps := put(g.Prompt, 0, seg, -1)
				for j, c := range g.Completions {
					cs := put(c, lp, seg+1+int32(j), seg)
					targets(g, j, ps+lp-1, cs)
				}
				seg += 1 + int32(len(g.Completions))
				continue
			}
			ps := put(g.Prompt, 0, seg, -1)
			cs := put(g.Completions[u.c], lp, seg, -1)
			targets(g, u.c, ps+lp-1, cs)
			seg++
		}
	}
	// Labels mirror the targets where a position has exactly one (for readers of
	// Labels); the model reads Targets.
	count := growInt32(sc.count, n)
	sc.count = count
	clear(count)
	for _, t := range b.Targets {
		count[t.Pos]++
	}
	for _, t := range b.Targets {
		if count[t.Pos] == 1 && !lay.LastOnly {
			b.Labels[t.Pos] = t.Label
		}
	}
	return nil
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// Pair is one preference pair of token-id lists.
type Pair struct {
	Prompt, Chosen, Rejected []int32
}

// PairGroups turns pairs into groups in TRL's sequence order: pair s's chosen
// completion is sequence s, its rejected one len(pairs)+s, so
// Output.SeqLogProbs[s] − Output.SeqLogProbs[len(pairs)+s] is pair s's margin.
func PairGroups(pairs []Pair) []Group {
	n := len(pairs)
	gs := make([]Group, n)
	for i, p := range pairs {
		gs[i] = Group{Prompt: p.Prompt, Completions: [][]int32{p.Chosen, p.Rejected}, Seqs: []int32{int32(i), int32(n + i)}}
	}
	return gs
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

// CheckGroup reports why g's tokens cannot run on architecture a (an id outside the
// vocabulary, a prompt + completion longer than max_position_embeddings), naming the
// completion; nil when they can.
func CheckGroup(a *Arch, g *Group) error {
	inVocab := func(what string, ids []int32) error {
		for t, id := range ids {
			if id < 0 || int(id) >= a.Vocab {
				return fmt.Errorf("%w: %s token %d: id %d outside the vocabulary [0,%d)", ErrBadBatch, what, t, id, a.Vocab)
			}
		}
		return nil
	}
	if err := inVocab("prompt", g.Prompt); err != nil {
		return err
	}
	for j, c := range g.Completions {
		if err := inVocab(fmt.Sprintf("completion %d", j+1), c); err != nil {
			return err
		}
		if n := len(g.Prompt) + len(c); n > a.MaxPos {
			return fmt.Errorf("%w: completion %d: prompt + completion is %d tokens, more than max_position_embeddings %d", ErrBadBatch, j+1, n, a.MaxPos)
		}
	}
	return nil
}
