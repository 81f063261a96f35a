package main

import (
	"fmt"
	"io"

	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

// cutDryRun removes --dry-run (anywhere among the arguments) and reports whether it was there.
func cutDryRun(args []string) ([]string, bool) {
	out := make([]string, 0, len(args))
	found := false
	for _, a := range args {
		if a == "--dry-run" || a == "-dry-run" || a == "--dry-run=true" {
			found = true
			continue
		}
		out = append(out, a)
	}
	return out, found
}

// runDryRun is `preftune train --dry-run`: the memory estimate of the run on stdout.
func runDryRun(cfg *config.Loaded, stdout, stderr io.Writer) error {
	est, av, err := train.DryRun(cfg, train.Options{Log: stderr})
	if err != nil {
		return trainError(err)
	}
	fmt.Fprintf(stdout, "memory: needs %s; %s\n", est, av)
	return nil
}
