package kernels

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// OpenOptions configure a backend opened by name.
type OpenOptions struct {
	// Threads is the number of worker threads (≤ 0: the backend's default, all cores).
	Threads int
}

// Opener builds a backend. inner is the text after the first ':' of the name given
// to Open ("check:cpu" → inner "cpu"), for backends that wrap another.
type Opener func(inner string, o OpenOptions) (Backend, error)

var (
	regMu    sync.Mutex
	registry = map[string]Opener{}
)

// Register makes a backend available to Open under name; a backend package calls it
// from init, so importing the package (for its side effect) is what makes it usable.
func Register(name string, open Opener) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("kernels: backend " + name + " registered twice")
	}
	registry[name] = open
}

// Names lists the registered backends, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultName is the backend Open("") picks: $PREFTUNE_BACKEND, else "cpu".
func DefaultName() string {
	if s := os.Getenv("PREFTUNE_BACKEND"); s != "" {
		return s
	}
	return "cpu"
}

// Open returns the backend called name ("" = DefaultName). A name "outer:inner"
// opens outer wrapping inner (e.g. "check:cpu").
func Open(name string, o OpenOptions) (Backend, error) {
	if name == "" {
		name = DefaultName()
	}
	outer, inner, _ := strings.Cut(name, ":")
	regMu.Lock()
	open, ok := registry[outer]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("kernels: no backend %q (available: %s)", outer, strings.Join(Names(), ", "))
	}
	be, err := open(inner, o)
	if err != nil {
		return nil, fmt.Errorf("kernels: backend %s: %w", name, err)
	}
	return be, nil
}
