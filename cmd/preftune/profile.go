package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startProfile starts a CPU profile of the whole command when PREFTUNE_CPUPROFILE names
// a file (`go tool pprof` reads it): how the "where the time goes" figures of
// bench/README.md are taken on the command users run. The returned stop is never nil.
func startProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv("PREFTUNE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "preftune: PREFTUNE_CPUPROFILE: %v (no profile)\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "preftune: PREFTUNE_CPUPROFILE: %v (no profile)\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
