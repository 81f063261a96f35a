package train

// The run directory (output_dir) and its guarantees:
//
//   - One run at a time: Run holds an advisory flock on output_dir/.preftune.lock for
//     its whole life (the kernel drops it when the process exits, even on kill -9). A
//     second run on the same directory is refused, naming the holder's pid and host.
//   - A checkpoint is complete only when its manifest verifies: checkpoint-N is written
//     in checkpoint-N.tmp, checkpoint_manifest.json (every file with its size and
//     SHA-256) is written last, and the directory is renamed into place. The listing
//     checks the sizes; a resume also checks the hashes before loading. A checkpoint
//     without a manifest (written before manifests existed, by the same staged rename)
//     counts as complete when trainer_state.json and its weights file are present.
//   - The final outputs appear as a set: they are written into .preftune-final.tmp,
//     then a commit list (.commit) is written there, and only then is each file renamed
//     into output_dir (train_results.json last). A failure while writing (disk full)
//     removes the staging directory and leaves output_dir as it was: the last complete
//     checkpoint, and no final file. A kill during the renames leaves the commit list,
//     and the next run in that directory finishes the renames first.
//   - A fresh run over a directory with nothing resumable (no complete checkpoint, no
//     final outputs) — a run killed before its first checkpoint — starts over by
//     itself, removing what that run left and saying so. With a complete checkpoint or
//     final outputs it is refused unless overwrite_output_dir (as transformers does).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/preftune/preftune/atomicfile"
	"github.com/preftune/preftune/train/config"
)

const (
	// lockFile is the advisory lock of output_dir.
	lockFile = ".preftune.lock"
	// manifestFile lists a checkpoint's files; it is written last.
	manifestFile = "checkpoint_manifest.json"
	// finalStage holds the final outputs until all of them are written.
	finalStage = ".preftune-final.tmp"
	// finalCommit, inside finalStage, lists the staged files once all are written.
	finalCommit = ".commit"
	// resultsFile is the last final output renamed into place: a finished run.
	resultsFile = "train_results.json"
)

// lockInfo is the content of the lock file: who holds it.
type lockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	Args    []string  `json:"args,omitempty"`
}

// lockOutputDir creates output_dir and takes its lock; the returned func releases it.
func lockOutputDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output_dir: %w", err)
	}
	host, _ := os.Hostname()
	info, _ := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Started: time.Now().UTC().Truncate(time.Second), Args: os.Args})
	l, err := atomicfile.TryLock(filepath.Join(dir, lockFile), append(info, '\n'))
	var le *atomicfile.LockedError
	if errors.As(err, &le) {
		var h lockInfo
		who := "a holder that has not written its pid yet"
		if json.Unmarshal(le.Holder, &h) == nil && h.PID != 0 {
			who = fmt.Sprintf("pid %d on host %s, started %s", h.PID, h.Host, h.Started.Format(time.RFC3339))
		}
		return nil, &config.Error{Key: "output_dir", Msg: fmt.Sprintf("%s is in use by another preftune run (%s; lock %s): wait for it to finish or choose another output_dir", dir, who, le.Path)}
	}
	if err != nil {
		return nil, fmt.Errorf("output_dir: %w", err)
	}
	return func() { l.Unlock() }, nil
}

// prepareOutputDir finishes or removes an interrupted final save, then decides whether
// this run may use output_dir (see the top of this file).
func (t *trainer) prepareOutputDir() error {
	c := t.c
	out := c.OutputDir
	if err := recoverFinalStage(out, t.log); err != nil {
		return fmt.Errorf("output_dir: %w", err)
	}
	ck, err := listCheckpoints(out)
	if err != nil {
		return fmt.Errorf("output_dir: %w", err)
	}
	leftovers, err := incompleteCheckpoints(out)
	if err != nil {
		return fmt.Errorf("output_dir: %w", err)
	}
	if c.ResumeFromCheckpoint != "" {
		return removeAll(out, leftovers, t.log, "removed what interrupted checkpoint writes left")
	}
	_, resErr := os.Stat(filepath.Join(out, resultsFile))
	finished := resErr == nil
	if len(ck) > 0 || finished {
		if !c.OverwriteOutputDir {
			what := fmt.Sprintf("a finished run (%s)", resultsFile)
			hint := "overwrite_output_dir: true to start over"
			if len(ck) > 0 {
				if !finished {
					what = "an unfinished run"
				}
				what += fmt.Sprintf(" with checkpoint-%d", ck[len(ck)-1])
				hint = "resume_from_checkpoint: true to continue from it, or " + hint
			}
			return &config.Error{Key: "output_dir", Msg: fmt.Sprintf("%s already holds %s: set %s", out, what, hint)}
		}
		var all []string
		for _, n := range ck {
			all = append(all, filepath.Base(checkpointDir(out, n)))
		}
		return removeAll(out, append(all, leftovers...), io.Discard, "")
	}
	// nothing resumable: what is here is the debris of a run that stopped early
	if _, err := os.Stat(filepath.Join(out, "trainer_log.jsonl")); err == nil {
		leftovers = append(leftovers, "trainer_log.jsonl")
	}
	return removeAll(out, leftovers, t.log, "no checkpoint and no final outputs (an earlier run stopped before its first checkpoint); starting over")
}

// removeAll removes names in dir, and says so in one line when any existed.
func removeAll(dir string, names []string, log io.Writer, why string) error {
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("output_dir: %w", err)
		}
	}
	atomicfile.SyncDir(dir)
	fmt.Fprintf(log, "output_dir: %s: %s (removed %s)\n", dir, why, strings.Join(names, ", "))
	return nil
}

// incompleteCheckpoints names the checkpoint-* entries of out that are not complete:
// staging dirs (checkpoint-N.tmp) and checkpoint-N dirs whose manifest fails.
func incompleteCheckpoints(out string) ([]string, error) {
	ents, err := os.ReadDir(out)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(s); err == nil && e.IsDir() && checkCheckpoint(filepath.Join(out, e.Name()), false) == nil {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// manifest is checkpoint_manifest.json.
type manifest struct {
	Format int             `json:"format"`
	Step   int             `json:"global_step"`
	Files  []manifestEntry `json:"files"`
}

type manifestEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// writeManifest lists every file of dir (a checkpoint being staged) with its size and
// SHA-256 in dir/checkpoint_manifest.json. It must be the last file written.
func writeManifest(dir string, step int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	m := manifest{Format: 1, Step: step}
	for _, e := range ents {
		if e.Name() == manifestFile || !e.Type().IsRegular() {
			continue
		}
		size, sum, err := hashFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		m.Files = append(m.Files, manifestEntry{Name: e.Name(), Size: size, SHA256: sum})
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, manifestFile), append(raw, '\n'), 0o644)
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// errLegacyCheckpoint marks a checkpoint accepted without a manifest.
var errLegacyCheckpoint = errors.New("no " + manifestFile)

// checkCheckpoint reports whether dir is a complete checkpoint: every file of its
// manifest present with its size (and, with hashes, its SHA-256). A checkpoint without
// a manifest is complete when trainer_state.json and a weights file are present; the
// error is then nil for the listing and errLegacyCheckpoint for verifyCheckpoint.
func checkCheckpoint(dir string, hashes bool) error {
	raw, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, os.ErrNotExist) {
		if !isFile(filepath.Join(dir, "trainer_state.json")) {
			return fmt.Errorf("%s has neither %s nor trainer_state.json", dir, manifestFile)
		}
		if !isFile(filepath.Join(dir, "model.safetensors")) && !isFile(filepath.Join(dir, "adapter_model.safetensors")) {
			return fmt.Errorf("%s has no %s and no weights (model.safetensors or adapter_model.safetensors)", dir, manifestFile)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, manifestFile), err)
	}
	if m.Format != 1 || len(m.Files) == 0 {
		return fmt.Errorf("%s: format %d with %d files: not a manifest this preftune writes", filepath.Join(dir, manifestFile), m.Format, len(m.Files))
	}
	if !slices.ContainsFunc(m.Files, func(f manifestEntry) bool { return f.Name == "trainer_state.json" }) {
		return fmt.Errorf("%s lists no trainer_state.json", filepath.Join(dir, manifestFile))
	}
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("%s lists %q, not a file name", filepath.Join(dir, manifestFile), f.Name)
		}
		p := filepath.Join(dir, f.Name)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("incomplete checkpoint: %w", err)
		}
		if st.Size() != f.Size {
			return fmt.Errorf("incomplete checkpoint: %s has %d bytes, its manifest says %d", p, st.Size(), f.Size)
		}
		if hashes {
			_, sum, err := hashFile(p)
			if err != nil {
				return err
			}
			if sum != f.SHA256 {
				return fmt.Errorf("corrupt checkpoint: %s has SHA-256 %s, its manifest says %s", p, sum, f.SHA256)
			}
		}
	}
	return nil
}

// verifyCheckpoint is the check before a resume: sizes and hashes of the manifest.
func verifyCheckpoint(dir string) error {
	if err := checkCheckpoint(dir, true); err != nil {
		return err
	}
	if !isFile(filepath.Join(dir, manifestFile)) {
		return errLegacyCheckpoint
	}
	return nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// commitList is finalStage/.commit: the staged files, in renaming order.
type commitList struct {
	Files []string `json:"files"`
}

// commitFinalStage renames every file of stage into out, train_results.json last,
// after recording the list in stage/.commit so that a kill midway can be finished by
// the next run (recoverFinalStage). It returns the names, in order.
func commitFinalStage(out, stage string) ([]string, error) {
	ents, err := os.ReadDir(stage)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name() != finalCommit {
			names = append(names, e.Name())
		}
	}
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == resultsFile:
			return 1
		case b == resultsFile:
			return -1
		}
		return strings.Compare(a, b)
	})
	raw, err := json.Marshal(commitList{Files: names})
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(stage, finalCommit), raw, 0o644); err != nil {
		return nil, err
	}
	atomicfile.SyncDir(stage)
	if err := renameStaged(out, stage, names); err != nil {
		return nil, err
	}
	return names, nil
}

// renameStaged moves names (those still in stage) into out and removes stage.
func renameStaged(out, stage string, names []string) error {
	for _, n := range names {
		if n != filepath.Base(n) || n == "." || n == ".." || n == finalCommit {
			return fmt.Errorf("%s lists %q, not a file name", filepath.Join(stage, finalCommit), n)
		}
		err := os.Rename(filepath.Join(stage, n), filepath.Join(out, n))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("moving the final outputs into place: %w (the next run in %s finishes the move)", err, out)
		}
	}
	atomicfile.SyncDir(out)
	return os.RemoveAll(stage)
}

// recoverFinalStage deals with a final save that was interrupted: with its commit list
// (all files were written) the renames are finished; without it, it is removed.
func recoverFinalStage(out string, log io.Writer) error {
	stage := filepath.Join(out, finalStage)
	if _, err := os.Stat(stage); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	raw, err := os.ReadFile(filepath.Join(stage, finalCommit))
	var cl commitList
	if err == nil && json.Unmarshal(raw, &cl) == nil && len(cl.Files) > 0 {
		if err := renameStaged(out, stage, cl.Files); err != nil {
			return err
		}
		fmt.Fprintf(log, "output_dir: %s: finished moving the final outputs of an interrupted run into place (%d files)\n", out, len(cl.Files))
		return nil
	}
	if err := os.RemoveAll(stage); err != nil {
		return err
	}
	fmt.Fprintf(log, "output_dir: %s: removed the partial final outputs of an interrupted run (%s)\n", out, finalStage)
	return nil
}
