//go:build !unix

package atomicfile

import "os"

// Without flock (not Unix) the lock is only the file: it never reports a holder.
func flockExclusive(*os.File) (bool, error) { return false, nil }

func funlock(*os.File) error { return nil }
