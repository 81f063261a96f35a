package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTryLock: a second lock on the same file (another open file description, as a
// second process has) is refused with the holder's information; after Unlock it is
// free again and the file no longer names a holder.
func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	l, err := TryLock(path, []byte(`{"pid": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(path, []byte(`{"pid": 2}`))
	var le *LockedError
	if !errors.As(err, &le) || string(le.Holder) != `{"pid": 1}` {
		t.Fatalf("second TryLock: %v, want a LockedError naming pid 1", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("lock file after Unlock holds %q", b)
	}
	l2, err := TryLock(path, []byte(`{"pid": 3}`))
	if err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{"pid": 3}` {
		t.Errorf("lock file holds %q", b)
	}
	l2.Unlock()
	if err := l2.Unlock(); err != nil { // twice is harmless
		t.Error(err)
	}
}
