package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/preftune/preftune/atomicfile"
)

// repoCache is one repo's folder in the cache.
type repoCache struct {
	root  string // the cache dir
	id    string
	kind  Kind
	store string // root/models--org--name
}

func newRepoCache(root, id string, kind Kind) repoCache {
	return repoCache{root: root, id: id, kind: kind, store: filepath.Join(root, FolderName(id, kind))}
}

func (r repoCache) blob(etag string) string { return filepath.Join(r.store, "blobs", etag) }
func (r repoCache) snapshot(commit string) string {
	return filepath.Join(r.store, "snapshots", commit)
}
func (r repoCache) pointer(commit, file string) string {
	return filepath.Join(r.snapshot(commit), filepath.FromSlash(file))
}
func (r repoCache) ref(revision string) string {
	return filepath.Join(r.store, "refs", filepath.FromSlash(revision))
}
func (r repoCache) lock(etag string) string {
	return filepath.Join(r.root, ".locks", FolderName(r.id, r.kind), etag+".lock")
}

// commitOf is the commit a revision names in the cache: the revision itself when it
// is a full commit hash, else the content of refs/<revision>.
func (r repoCache) commitOf(revision string) (string, error) {
	if commitPattern.MatchString(revision) {
		return revision, nil
	}
	raw, err := os.ReadFile(r.ref(revision))
	if err != nil {
		return "", err
	}
	c := strings.TrimSpace(string(raw))
	if !commitPattern.MatchString(c) {
		return "", fmt.Errorf("%s: not a commit hash: %q", r.ref(revision), c)
	}
	return c, nil
}

// writeRef records that revision resolved to commit (refs/<revision>, written
// atomically; nothing for a commit hash, nothing if unchanged).
func (r repoCache) writeRef(revision, commit string) error {
	if revision == commit {
		return nil
	}
	p := r.ref(revision)
	if raw, err := os.ReadFile(p); err == nil && string(raw) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, []byte(commit), 0o644)
}

// link makes snapshots/<commit>/<file> a symlink to blobs/<etag>, relative (so the
// cache can be moved), replacing whatever was there atomically.
func (r repoCache) link(commit, file, etag string) error {
	ptr := r.pointer(commit, file)
	if err := os.MkdirAll(filepath.Dir(ptr), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(ptr), r.blob(etag))
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(ptr); err == nil && cur == rel {
		return nil
	}
	var b [6]byte
	rand.Read(b[:])
	tmp := ptr + ".tmp" + hex.EncodeToString(b[:])
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, ptr); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// cachedFiles lists the files of a cached snapshot (paths relative to it, with '/'),
// leaving out dangling links.
func cachedFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	sort.Strings(out)
	return out, err
}
