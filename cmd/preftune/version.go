package main

import (
	"fmt"
	"io"

	"github.com/preftune/preftune/buildinfo"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the version, Go version, commit and compute backend",
		run: func(args []string, _ io.Reader, stdout, _ io.Writer) error {
			if len(args) > 0 {
				return badInputf("version takes no arguments")
			}
			for _, l := range buildinfo.Read().Lines() {
				fmt.Fprintln(stdout, l)
			}
			return nil
		},
	})
}
