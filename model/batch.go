package model

import (
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
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
	// segment Parents[i] ≥ 0 of its row (a prompt shared by several completions, see
	// Layout.SharePrompt); -1 = none. Not supported with sliding-window layers.
	Parents []int32
	// Targets, when non-nil, replace Labels as the loss positions (Labels are then not
	// read): Forward fills Output.TargetLogProbs and SeqLogProbs per Target.Seq.
	// BuildBatch always sets them; a hand-built batch may give Labels instead (one
	// sequence per row).
	Targets []Target

	scratch buildScratch // Build's working memory
}

// Target is one loss position of a Batch with explicit targets: the token at Pos
// (index into the B·T tokens) predicts Label, and its log-prob counts towards
// sequence Seq. Unlike Labels, a position may carry several targets: with a shared
// prompt, its last token predicts the first token of every completion.
type Target struct {
	Pos, Label, Seq int32
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

// ErrBadBatch is wrapped by every batch validation error.
var ErrBadBatch = errors.New("bad batch")

// rowErr is a *rowerr.Error for the batch row (or group) with 0-based index row;
// its Row is 1-based.
func rowErr(row int, format string, args ...any) error {
	return &rowerr.Error{Row: row + 1, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadBatch}, args...)...)}
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
