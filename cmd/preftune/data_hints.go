package main

import (
	"fmt"
	"io"

	"github.com/preftune/preftune/data"
)

// warnUntemplated tells `data check` without --tokenizer that conversational rows were
// not rendered with a chat template, so a model without one would still reject them.
func warnUntemplated(w io.Writer, n int) {
	if n > 0 {
		fmt.Fprintf(w, "warning: %d conversational row(s): chat templating not checked (pass --tokenizer MODEL_DIR to render them with the model's chat template)\n", n)
	}
}

// checkCollapsed prints the pairs the length limits made identical and refuses a
// dataset where every pair collapsed.
func checkCollapsed(w io.Writer, rep *data.TokenizeReport) error {
	if msg := rep.CollapseWarning(); msg != "" {
		fmt.Fprintln(w, msg)
	}
	return badInput(rep.CollapseError())
}
