package main

import (
	"fmt"
	"io"

	"github.com/preftune/preftune/data"
)

// skipEmptyPrompts drops the rows whose prompt has no tokens (nothing predicts the
// first completion token), with a warning naming file:row as `data check` does; it is
// bad input when no row is left.
func skipEmptyPrompts(stderr io.Writer, tks []data.Tokenized) ([]data.Tokenized, error) {
	kept := tks[:0:0]
	for _, tk := range tks {
		if len(tk.PromptIDs) == 0 {
			fmt.Fprintf(stderr, "warning: %s:%d:prompt: empty prompt: row skipped (the first completion token needs a prompt token to be predicted from)\n", tk.Source, tk.Row)
			continue
		}
		kept = append(kept, tk)
	}
	if len(kept) == 0 && len(tks) > 0 {
		return nil, badInputf("every row has an empty prompt (first: %s:%d)", tks[0].Source, tks[0].Row)
	}
	return kept, nil
}
