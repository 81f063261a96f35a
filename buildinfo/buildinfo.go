package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/preftune/preftune/kernels"
)

// Version is preftune's release version; the module version from the build info
// replaces it when the binary was built from a tagged module (go install …@vX.Y.Z).
var Version = "0.1.0-dev"

// Commit, when set at link time (-ldflags "-X github.com/preftune/preftune/buildinfo.Commit=$(git rev-parse HEAD)"),
// is the commit where the build info has none (GOFLAGS=-buildvcs=false).
var Commit = ""

// Info is what `preftune version` prints.
type Info struct {
	Version   string
	GoVersion string
	Commit    string // vcs.revision, "" when unknown
	CommitAt  string // vcs.time
	Modified  bool   // vcs.modified: built from a tree with uncommitted changes
	Backend   string // the default backend (kernels.DefaultName)
	Backends  []string
}

// Read gathers the Info of this binary.
func Read() Info {
	in := Info{Version: Version, GoVersion: runtime.Version(), Commit: Commit, Backend: kernels.DefaultName(), Backends: kernels.Names()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		in.Version = strings.TrimPrefix(v, "v")
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.CommitAt = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// Lines is Info as `preftune version` prints it, one "key: value" per line.
func (in Info) Lines() []string {
	commit := in.Commit
	switch {
	case commit == "":
		commit = "unknown (built without VCS stamping: -buildvcs=false, or not from a git checkout)"
	case in.Modified:
		commit += " (modified)"
	}
	if in.CommitAt != "" {
		commit += " " + in.CommitAt
	}
	return []string{
		"preftune " + in.Version,
		"go: " + in.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"commit: " + commit,
		fmt.Sprintf("backend: %s (available: %s)", in.Backend, strings.Join(in.Backends, ", ")),
	}
}
