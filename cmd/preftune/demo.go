package main

import (
	"fmt"
	"io"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run the built-in DPO demo end to end (not yet implemented)",
		run: func(args []string, _ io.Reader, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "preftune demo: not yet implemented (it arrives with the demo issue)")
			return nil
		},
	})
}
