package main

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/preftune/preftune/train"
)

// inputOrWriteError classifies an error of a step that both checks rows and writes the
// output: a failure of the file system (creating, writing, syncing or renaming the
// output: *fs.PathError, *os.LinkError, an errno, or train.WriteError) is an internal
// failure (exit 1); anything else is the input's fault (exit 2).
func inputOrWriteError(err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	var le *os.LinkError
	var errno syscall.Errno
	var we *train.WriteError
	if errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &errno) || errors.As(err, &we) {
		return err
	}
	return badInput(err)
}
