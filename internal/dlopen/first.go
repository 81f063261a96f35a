package dlopen

import (
	"fmt"
	"os"
	"strings"
)

// First tries open on each candidate in turn — the file named by the environment
// variable env when it is set, otherwise names — and stops at the first that opens.
// open returns "" on success, else the loader's reason (dlerror, a missing symbol).
// The error names what, every candidate and every reason.
func First(what, env string, names []string, open func(name string) string) error {
	if p := os.Getenv(env); p != "" {
		names = []string{p}
	}
	var reasons []string
	for _, name := range names {
		r := open(name)
		if r == "" {
			return nil
		}
		reasons = append(reasons, r)
	}
	return fmt.Errorf("%s: cannot load %s: %s", what, strings.Join(names, " or "), strings.Join(reasons, "; "))
}
