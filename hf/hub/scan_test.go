package hub

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// scanLikeHub walks a cache the way huggingface_hub's scan_cache_dir and
// try_to_load_from_cache read it and returns the JSON shape reference/hub/scan_cache.py
// prints, so the golden that script wrote checks this package's cache without Python.
func scanLikeHub(t *testing.T, cache string, queries []string) map[string]any {
	rel := func(p string) string {
		r, err := filepath.Rel(cache, p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	var repos []any
	for _, e := range entries {
		if e.Name() == ".locks" || !e.IsDir() {
			continue
		}
		kind, id, ok := strings.Cut(e.Name(), "--")
		if !ok {
			t.Fatalf("%s: not a repo folder", e.Name())
		}
		kind, id = strings.TrimSuffix(kind, "s"), strings.ReplaceAll(id, "--", "/")
		repoPath := filepath.Join(cache, e.Name())
		refsByHash := map[string][]string{}
		var allRefs []string
		filepath.WalkDir(filepath.Join(repoPath, "refs"), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			raw, _ := os.ReadFile(p)
			name := strings.TrimPrefix(p, filepath.Join(repoPath, "refs")+string(filepath.Separator))
			refsByHash[string(raw)] = append(refsByHash[string(raw)], name)
			allRefs = append(allRefs, name)
			return nil
		})
		blobs := map[string]int64{}
		var revs []any
		snaps, _ := os.ReadDir(filepath.Join(repoPath, "snapshots"))
		for _, sn := range snaps {
			dir := filepath.Join(repoPath, "snapshots", sn.Name())
			var files []any
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || p == dir {
					return err
				}
				st, err := os.Stat(p)
				if err != nil {
					t.Fatalf("broken symlink %s", p)
				}
				if st.IsDir() {
					return nil
				}
				blob, err := filepath.EvalSymlinks(p)
				if err != nil {
					t.Fatal(err)
				}
				blobs[blob] = st.Size()
				files = append(files, map[string]any{"file_name": filepath.Base(p), "file_path": rel(p), "blob_path": rel(blob), "size_on_disk": float64(st.Size())})
				return nil
			})
			sort.Slice(files, func(i, j int) bool {
				return files[i].(map[string]any)["file_path"].(string) < files[j].(map[string]any)["file_path"].(string)
			})
			refs := refsByHash[sn.Name()]
			sort.Strings(refs)
			if refs == nil {
				refs = []string{}
			}
			revs = append(revs, map[string]any{"commit_hash": sn.Name(), "refs": toAny(refs), "nb_files": float64(len(files)), "snapshot_path": rel(dir), "files": files})
		}
		var size int64
		for _, n := range blobs {
			size += n
		}
		sort.Strings(allRefs)
		repos = append(repos, map[string]any{"repo_id": id, "repo_type": kind, "repo_path": rel(repoPath),
			"nb_files": float64(len(blobs)), "size_on_disk": float64(size), "refs": toAny(allRefs), "revisions": revs})
	}
	sort.Slice(repos, func(i, j int) bool {
		a, b := repos[i].(map[string]any), repos[j].(map[string]any)
		return a["repo_type"].(string)+a["repo_id"].(string) < b["repo_type"].(string)+b["repo_id"].(string)
	})
	var lookups []any
	for _, q := range queries {
		parts := strings.SplitN(q, ":", 4)
		rc := newRepoCache(cache, parts[1], Kind(parts[0]))
		var path any
		if commit, err := rc.commitOf(parts[2]); err == nil {
			if _, err := os.Stat(rc.pointer(commit, parts[3])); err == nil {
				path = rel(rc.pointer(commit, parts[3]))
			}
		}
		lookups = append(lookups, map[string]any{"query": q, "path": path})
	}
	return map[string]any{"repos": repos, "warnings": []any{}, "lookups": lookups}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
