package model

import (
	"errors"
	"fmt"
)

// Ignore is the label of a position that carries no loss (PyTorch's ignore_index).
const Ignore = -100

// Batch is B rows of T tokens, row-major: token i = row i/T, position i%T.
type Batch struct {
	B, T      int
	IDs       []int32 // [B·T] token ids; ignored (may be anything) at padding
	Positions []int32 // [B·T] RoPE positions; ignored at padding
	Segments  []int32 // [B·T] attention segment per token; -1 = padding
	Labels    []int32 // [B·T] token predicted from this position; < 0 = no loss

	// Parents, when non-nil, [B·T]: token i also attends to the earlier tokens of
	// segment Parents[i] ≥ 0 of its row (a prompt shared by two completions, see
	// BuildPairBatch); -1 = none. Not supported with sliding-window layers.
	Parents []int32
	// Targets, when non-nil, replace Labels as the loss positions (Labels are then not
	// read): Forward fills Output.TargetLogProbs and SeqLogProbs, and the backward
	// takes BackwardSeq or BackwardTargets. See BuildPairBatch.
	Targets []Target
}

// Sequence is one (prompt, completion) pair of token-id lists.
type Sequence struct {
	Prompt, Completion []int32
}

// BuildBatch lays out seqs as right-padded rows of prompt+completion (TRL's
// concatenated form): positions 0..len-1, segment 0, padding segment -1, and labels
// predicting every completion token (label[t] = ids[t+1] for t+1 in the completion).
// T is the longest row, or t when larger. It does not validate ids (Forward does).
func BuildBatch(seqs []Sequence, t int) (*Batch, error) {
	for _, s := range seqs {
		if n := len(s.Prompt) + len(s.Completion); n > t {
			t = n
		}
	}
	b := &Batch{B: len(seqs), T: t}
	n := b.B * t
	b.IDs = make([]int32, n)
	b.Positions = make([]int32, n)
	b.Segments = make([]int32, n)
	b.Labels = make([]int32, n)
	if err := b.Fill(seqs); err != nil {
		return nil, err
	}
	return b, nil
}

// Fill rewrites b in place from seqs (len(seqs) == b.B, every row ≤ b.T tokens), so a
// caller can reuse one Batch's slices across steps.
func (b *Batch) Fill(seqs []Sequence) error {
	if len(seqs) != b.B {
		return fmt.Errorf("model: batch has %d rows, got %d sequences", b.B, len(seqs))
	}
	for r, s := range seqs {
		np, nc := len(s.Prompt), len(s.Completion)
		if np+nc > b.T {
			return fmt.Errorf("model: row %d: %d tokens do not fit in %d columns", r, np+nc, b.T)
		}
		if np == 0 {
			return fmt.Errorf("model: row %d: empty prompt (the first completion token needs a position to be predicted from)", r)
		}
		row := r * b.T
		for t := 0; t < b.T; t++ {
			i := row + t
			b.Labels[i] = Ignore
			switch {
			case t < np:
				b.IDs[i], b.Positions[i], b.Segments[i] = s.Prompt[t], int32(t), 0
			case t < np+nc:
				b.IDs[i], b.Positions[i], b.Segments[i] = s.Completion[t-np], int32(t), 0
			default:
				b.IDs[i], b.Positions[i], b.Segments[i] = 0, 0, -1
			}
			if t+1 >= np && t+1 < np+nc {
				b.Labels[i] = s.Completion[t+1-np]
			}
		}
	}
	return nil
}

// RowError is a problem with one row of a batch.
type RowError struct {
	Row int
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

// ErrBadBatch is wrapped by every batch validation error.
var ErrBadBatch = errors.New("bad batch")

func rowErr(row int, format string, args ...any) error {
	return &RowError{Row: row, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadBatch}, args...)...)}
}

// validate checks b against the architecture: shapes, ids and labels < vocab,
// positions < max_position_embeddings, labels only on real tokens, and at least one
// label in every row that holds tokens.
func (b *Batch) validate(a *Arch) error {
	if b.B <= 0 || b.T <= 0 {
		return fmt.Errorf("model: %w: empty batch (%d×%d)", ErrBadBatch, b.B, b.T)
	}
	n := b.B * b.T
	if len(b.IDs) != n || len(b.Positions) != n || len(b.Segments) != n || len(b.Labels) != n {
		return fmt.Errorf("model: %w: %d×%d batch needs %d entries, have ids %d positions %d segments %d labels %d",
			ErrBadBatch, b.B, b.T, n, len(b.IDs), len(b.Positions), len(b.Segments), len(b.Labels))
	}
	if b.Parents != nil && len(b.Parents) != n {
		return fmt.Errorf("model: %w: %d×%d batch needs %d parents, have %d", ErrBadBatch, b.B, b.T, n, len(b.Parents))
	}
	if b.Targets != nil {
		return b.validateTargets(a)
	}
	total := 0
	for r := 0; r < b.B; r++ {
		tokens, labels := 0, 0
		for t := 0; t < b.T; t++ {
			i := r*b.T + t
			if b.Segments[i] < 0 {
				if b.Labels[i] >= 0 {
					return rowErr(r, "position %d is padding (segment -1) but has label %d", t, b.Labels[i])
				}
				continue
			}
			tokens++
			if id := b.IDs[i]; id < 0 || int(id) >= a.Vocab {
				return rowErr(r, "position %d: token id %d outside the vocabulary [0,%d)", t, id, a.Vocab)
			}
			if p := b.Positions[i]; p < 0 || int(p) >= a.MaxPos {
				return rowErr(r, "position %d: RoPE position %d outside [0,%d) (sequence longer than max_position_embeddings %d)", t, p, a.MaxPos, a.MaxPos)
			}
			if l := b.Labels[i]; l >= 0 {
				if int(l) >= a.Vocab {
					return rowErr(r, "position %d: label %d outside the vocabulary [0,%d)", t, l, a.Vocab)
				}
				labels++
			}
		}
		if tokens > 0 && labels == 0 {
			return rowErr(r, "no completion tokens (every label is ignored)")
		}
		total += labels
	}
	if total == 0 {
		return fmt.Errorf("model: %w: every row is padding", ErrBadBatch)
	}
	return nil
}

// validateTargets checks a batch with explicit targets: every token's id and
// position, and every target's position, label and sequence.
func (b *Batch) validateTargets(a *Arch) error {
	if len(b.Targets) == 0 {
		return fmt.Errorf("model: %w: no targets", ErrBadBatch)
	}
	if len(a.Windows) > 0 && b.Parents != nil {
		return fmt.Errorf("model: %w: shared prompts (Parents) are not supported with sliding-window attention", ErrBadBatch)
	}
	for i := 0; i < b.B*b.T; i++ {
		r, t := i/b.T, i%b.T
		if b.Segments[i] < 0 {
			continue
		}
		if id := b.IDs[i]; id < 0 || int(id) >= a.Vocab {
			return rowErr(r, "position %d: token id %d outside the vocabulary [0,%d)", t, id, a.Vocab)
		}
		if p := b.Positions[i]; p < 0 || int(p) >= a.MaxPos {
			return rowErr(r, "position %d: RoPE position %d outside [0,%d) (sequence longer than max_position_embeddings %d)", t, p, a.MaxPos, a.MaxPos)
		}
	}
	for k, tg := range b.Targets {
		if tg.Pos < 0 || int(tg.Pos) >= b.B*b.T {
			return fmt.Errorf("model: %w: target %d: position %d outside the %d×%d batch", ErrBadBatch, k, tg.Pos, b.B, b.T)
		}
		r, t := int(tg.Pos)/b.T, int(tg.Pos)%b.T
		switch {
		case b.Segments[tg.Pos] < 0:
			return rowErr(r, "target %d: position %d is padding (segment -1)", k, t)
		case tg.Label < 0 || int(tg.Label) >= a.Vocab:
			return rowErr(r, "target %d: label %d outside the vocabulary [0,%d)", k, tg.Label, a.Vocab)
		case tg.Seq < 0:
			return rowErr(r, "target %d: negative sequence %d", k, tg.Seq)
		}
	}
	return nil
}
