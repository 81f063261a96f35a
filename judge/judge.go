package judge

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Func scores one completion of prompt; ref is the reference answer or "". Higher is better.
type Func func(prompt, completion, ref string) float64

// Judge is a named scoring function.
type Judge struct {
	Name  string
	Score Func
	// NeedsRef says every prompt must have a reference answer.
	NeedsRef bool
}

// Options configure the built-in judges.
type Options struct {
	// Pattern is the regular expression of the regex judge.
	Pattern string
	// Longer makes the length judge prefer the longer completion.
	Longer bool
}

var (
	mu       sync.RWMutex
	registry = map[string]Func{}
)

// builtins cannot be replaced through Register.
var builtins = []string{"exact", "regex", "length"}

// Register adds a judge under name. It panics if name is empty, built in or already
// registered, or if f is nil: registration happens in init functions, where a clash is a
// programming error.
func Register(name string, f Func) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || f == nil {
		panic("judge: Register with empty name or nil func")
	}
	for _, b := range builtins {
		if name == b {
			panic("judge: Register of built-in judge " + name)
		}
	}
	if _, dup := registry[name]; dup {
		panic("judge: Register called twice for " + name)
	}
	registry[name] = f
}

// Lookup returns a registered (not built-in) judge.
func Lookup(name string) (Func, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Names lists the built-in and registered judges, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := append([]string(nil), builtins...)
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the judge called name: a built-in configured by opts, or a registered one.
func New(name string, opts Options) (*Judge, error) {
	switch name {
	case "exact":
		return &Judge{Name: name, Score: Exact, NeedsRef: true}, nil
	case "regex":
		if opts.Pattern == "" {
			return nil, errors.New("the regex judge needs a pattern")
		}
		re, err := regexp.Compile(opts.Pattern)
		if err != nil {
			return nil, fmt.Errorf("bad pattern: %w", err)
		}
		return &Judge{Name: name, Score: Regex(re)}, nil
	case "length":
		return &Judge{Name: name, Score: Length(opts.Longer)}, nil
	}
	if f, ok := Lookup(name); ok {
		return &Judge{Name: name, Score: f}, nil
	}
	return nil, fmt.Errorf("unknown judge %q (have %s)", name, strings.Join(Names(), ", "))
}

// Exact scores 1 when the completion equals ref after trimming surrounding white space.
func Exact(_, completion, ref string) float64 {
	if strings.TrimSpace(completion) == strings.TrimSpace(ref) {
		return 1
	}
	return 0
}

// Regex scores 1 when re matches anywhere in the completion.
func Regex(re *regexp.Regexp) Func {
	return func(_, completion, _ string) float64 {
		if re.MatchString(completion) {
			return 1
		}
		return 0
	}
}

// Length scores −(length in code points), or +length when longer is true.
func Length(longer bool) Func {
	return func(_, completion, _ string) float64 {
		n := float64(utf8.RuneCountInString(completion))
		if longer {
			return n
		}
		return -n
	}
}
