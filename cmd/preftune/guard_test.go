package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestPanicIsInternalError: a panic inside a command (a nil map write, an index out of
// range, a makeslice too large to allocate) reaches the user as one "internal error"
// line and exit 1, never a goroutine dump; PREFTUNE_DEBUG=1 adds the stack.
func TestPanicIsInternalError(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func()
		want string
	}{
		{"nil map", func() {
			var m map[string]int
			m["x"] = 1
		}, "assignment to entry in nil map"},
		{"index", func() {
			s := []int{}
			_ = s[len(s)+3]
		}, "index out of range"},
		{"huge make", func() {
			n := -1
			_ = make([]float32, n+1<<62)
		}, "makeslice: len out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const name = "zz-test-panic"
			commands[name] = &command{name: name, run: func([]string, io.Reader, io.Writer, io.Writer) error { tc.body(); return nil }}
			defer delete(commands, name)
			for _, debug := range []string{"", "1"} {
				t.Setenv("PREFTUNE_DEBUG", debug)
				var stdout, stderr bytes.Buffer
				code := run([]string{name}, nil, &stdout, &stderr)
				msg := stderr.String()
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				if !strings.Contains(msg, "preftune "+name+": internal error: ") || !strings.Contains(msg, tc.want) {
					t.Errorf("stderr %q lacks the internal error %q", msg, tc.want)
				}
				if hasStack := strings.Contains(msg, "goroutine "); hasStack != (debug != "") {
					t.Errorf("PREFTUNE_DEBUG=%q: stack printed %v:\n%s", debug, hasStack, msg)
				}
				if debug == "" && strings.Count(strings.TrimSpace(msg), "\n") != 0 {
					t.Errorf("more than one line:\n%s", msg)
				}
			}
		})
	}
}
