package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesAndSetsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new content"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new content" {
		t.Fatalf("read %q, %v", got, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	assertOnly(t, dir, "out.json")
}

func TestWriteFailureKeepsOldContentAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "old" {
		t.Fatalf("old content replaced by %q", got)
	}
	assertOnly(t, dir, "model.safetensors")
}

func TestWriteIntoMissingDirFails(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "f"), nil, 0o644); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

func TestStageThenCommit(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	ta, err := Stage(a, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("A")); return err })
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Stage(b, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("B")); return err })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Fatal("staged file visible before commit")
	}
	if err := Commit(ta, a); err != nil {
		t.Fatal(err)
	}
	if err := Commit(tb, b); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir, "a", "b")
}

// assertOnly checks dir holds exactly names (no temporary files left).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if len(ents) != len(names) {
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		t.Fatalf("dir holds %v, want %v", got, names)
	}
	for _, e := range ents {
		if !want[e.Name()] {
			t.Fatalf("unexpected file %s", e.Name())
		}
	}
}
