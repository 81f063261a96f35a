package atomicfile

import (
	"fmt"
	"os"
)

// Lock is an advisory lock held on a lock file (flock(2) on Unix): exclusive, not
// blocking, and released by the kernel when the process exits, even on kill -9, so a
// crashed holder never leaves a stale lock. The file's content only informs the
// processes that find it locked (who holds it); it is never what decides.
type Lock struct {
	f    *os.File
	path string
}

// LockedError is returned by TryLock when another holder has the lock. Holder is the
// lock file's content as the holder wrote it (may be empty if it has just started).
type LockedError struct {
	Path   string
	Holder []byte
}

func (e *LockedError) Error() string {
	if len(e.Holder) == 0 {
		return fmt.Sprintf("%s is locked by another process", e.Path)
	}
	return fmt.Sprintf("%s is locked by another process: %s", e.Path, e.Holder)
}

// TryLock takes the lock on path (created if missing) without waiting and writes info
// into the file (in place: renaming a new file over it would give it a new inode and
// so a second lock). When another holder has it, the error is a *LockedError.
func TryLock(path string, info []byte) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	busy, err := flockExclusive(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if busy {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, &LockedError{Path: path, Holder: holder}
	}
	if err := f.Truncate(0); err == nil {
		if _, err := f.WriteAt(info, 0); err == nil {
			f.Sync()
		}
	}
	return &Lock{f: f, path: path}, nil
}

// Unlock empties the lock file's information and releases the lock. The file stays:
// removing it could let two processes lock two different files of the same name.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := funlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.path, err)
	}
	return nil
}
