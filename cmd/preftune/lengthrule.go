package main

import (
	"fmt"
	"io"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

// lengthRule is the tokenization and truncation train applies with these limits
// (train.TokenizeOptions over TRL's defaults): score and data check use it so they keep,
// cut and drop exactly the rows train would.
func lengthRule(maxLength, maxPrompt, maxCompl int, truncation string, inferSeqlen bool) data.TokenizeOptions {
	c := config.Default()
	c.MaxLength, c.MaxPromptLength, c.MaxCompletionLength, c.TruncationMode = maxLength, maxPrompt, maxCompl, truncation
	o := train.TokenizeOptions(&c)
	o.InferSeqlen = inferSeqlen
	return o
}

// reportDropped names the rows the length limits dropped (file:row: reason) on w, and
// is bad input when none is left.
func reportDropped(w io.Writer, rep *data.TokenizeReport, kept int, flag string) error {
	var first *data.RowError
	for _, is := range rep.Issues {
		if is.Severity == data.Dropped {
			if first == nil {
				first = is.RowError
			}
			fmt.Fprintf(w, "dropped by %s: %v\n", flag, is.RowError)
		}
	}
	if kept == 0 && first != nil {
		return badInputf("every row was dropped by %s; first: %v", flag, first)
	}
	return nil
}
