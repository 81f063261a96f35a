package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	cases := []struct {
		in   Info
		want []string
	}{
		{Info{Version: "1.2.3", GoVersion: "go1.26.8", Commit: "abc123", CommitAt: "2026-12-03T10:00:00Z", Modified: true, Backend: "cpu", Backends: []string{"check", "cpu"}},
			[]string{"preftune 1.2.3", "go: go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH, "commit: abc123 (modified) 2026-12-03T10:00:00Z", "backend: cpu (available: check, cpu)"}},
		{Info{Version: "0.1.0-dev", GoVersion: "go1.26.8", Backend: "cuda", Backends: []string{"cpu"}},
			[]string{"preftune 0.1.0-dev", "go: go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH, "commit: unknown (built without VCS stamping: -buildvcs=false, or not from a git checkout)", "backend: cuda (available: cpu)"}},
	}
	for _, c := range cases {
		if got := c.in.Lines(); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("Lines() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
	if in := Read(); in.GoVersion != runtime.Version() || in.Version == "" {
		t.Errorf("Read() = %+v", in)
	}
}
