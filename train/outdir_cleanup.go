package train

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// outputDirExists reports whether output_dir is already there (so a failed setup knows
// whether it created it).
func outputDirExists(dir string) bool {
	_, err := os.Stat(dir)
	return !errors.Is(err, fs.ErrNotExist)
}

// removeCreatedOutputDir undoes lockOutputDir's MkdirAll after a failed setup: when
// this run created output_dir and nothing but the released lock file is in it, the
// directory goes, so a failed run leaves no empty output_dir behind.
func removeCreatedOutputDir(dir string, existed bool) {
	if existed {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Name() != lockFile {
			return
		}
	}
	os.Remove(filepath.Join(dir, lockFile))
	os.Remove(dir)
}
