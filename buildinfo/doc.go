// Package buildinfo says which preftune this is: its version, the Go toolchain that
// built it, the VCS commit it was built from (runtime/debug.ReadBuildInfo's
// vcs.revision, vcs.time and vcs.modified, present when built from a git checkout),
// and the compute backends compiled in. `preftune version` prints it, and every run
// directory records it in the header of training_args.yaml.
package buildinfo
