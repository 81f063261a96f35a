package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data (mode perm).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write atomically replaces path with what write produces (mode perm). When write
// fails nothing is left behind and path keeps its old content.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := Stage(path, perm, write)
	if err != nil {
		return err
	}
	return Commit(tmp, path)
}

// Stage writes a temporary file next to path with write, fsyncs and closes it, and
// returns its name, for callers that must stage several files before renaming any
// (a sharded model). On error the temporary file is removed.
func Stage(path string, perm os.FileMode, write func(io.Writer) error) (tmp string, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	name := f.Name() // not tmp: a failing return sets tmp to "" before this defer runs
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	if err = f.Chmod(perm); err != nil { // CreateTemp makes 0600
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err = write(f); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("writing %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("writing %s: close: %w", path, err)
	}
	return name, nil
}

// Commit renames a staged file over path and fsyncs the directory so the rename is
// durable. On failure the staged file is removed.
func Commit(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// SyncDir fsyncs a directory, best effort (not every filesystem supports it); used
// after renames, including renames of whole directories (checkpoints).
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
