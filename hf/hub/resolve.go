package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
)

// Picker chooses, from a repo's file list (paths with '/'), the files to use. It
// sees the Hub's list when online and the cached snapshot's files otherwise.
type Picker func(files []string) ([]string, error)

// Snapshot is a resolved repo revision in the cache.
type Snapshot struct {
	// Dir is snapshots/<commit>: open files under it as in a local model dir.
	Dir    string
	Commit string
	// Files are the picked files (relative, '/'), all present under Dir.
	Files []string
	// FromCache says the Hub was not asked (offline, or unreachable).
	FromCache bool
}

// repoInfo is the part of /api/{models,datasets}/{id}/revision/{rev} used here.
type repoInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// infoURL is the repo info API (huggingface_hub's model_info / dataset_info).
func (s *Settings) infoURL(id string, kind Kind, revision string) string {
	return s.Endpoint + "/api/" + string(kind) + "s/" + id + "/revision/" + url.PathEscape(revision)
}

// Resolve makes the picked files of repo id at revision ("" = main) present in the
// cache and returns the snapshot. Online it asks the repo info API for the commit and
// the file list, records refs/<revision>, and downloads what the snapshot lacks.
// Offline (Settings.Offline), or when the Hub cannot be reached or fails, it uses
// the cached snapshot that refs/<revision> (or the commit hash itself) names.
func (s Settings) Resolve(ctx context.Context, id string, kind Kind, revision string, pick Picker) (*Snapshot, error) {
	if revision == "" {
		revision = DefaultRevision
	}
	base := &Error{Repo: id, Kind: kind, Revision: revision}
	if err := ValidRepoID(id); err != nil {
		b := *base
		b.Msg, b.Err = "invalid", err
		return nil, &b
	}
	if s.Endpoint == "" {
		s.Endpoint = DefaultEndpoint
	}
	rc := newRepoCache(s.CacheDir, id, kind)
	if s.Offline {
		return s.fromCache(rc, revision, pick, base, "HF_HUB_OFFLINE is set", nil)
	}
	info, err := s.fetchInfo(ctx, id, kind, revision)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var herr *HTTPError
		if errors.As(err, &herr) {
			d := describe(base, herr, s.Token != "")
			if herr.Code == "RevisionNotFound" || herr.Code == "EntryNotFound" {
				return nil, d
			}
			// a private repo with an expired token, or the Hub is down: use the cache
			// when it has the revision, else say what the Hub said
			snap, cerr := s.fromCache(rc, revision, pick, base, "", err)
			if cerr == nil {
				s.warnCached(id, kind, revision, err)
				return snap, nil
			}
			if herr.transient() {
				return nil, cerr
			}
			return nil, d
		}
		snap, cerr := s.fromCache(rc, revision, pick, base, "the Hub cannot be reached ("+s.Endpoint+")", err)
		if cerr == nil {
			s.warnCached(id, kind, revision, err)
		}
		return snap, cerr
	}
	files := make([]string, 0, len(info.Siblings))
	for _, f := range info.Siblings {
		files = append(files, f.RFilename)
	}
	sort.Strings(files)
	picked, err := pick(files)
	if err != nil {
		b := *base
		b.Msg, b.Err = "repo contents", err
		return nil, &b
	}
	commit := info.SHA
	if err := rc.writeRef(revision, commit); err != nil {
		return nil, fmt.Errorf("hub cache: %w", err)
	}
	var total int64
	for _, f := range picked {
		n, err := s.fetchFile(ctx, rc, commit, f, base)
		if err != nil {
			return nil, err
		}
		total += n
	}
	if s.Progress != nil && total > 0 {
		fmt.Fprintf(s.Progress, "hub: %s %s@%s: downloaded %d bytes into %s\n", kind, id, commit[:min(len(commit), 12)], total, rc.snapshot(commit))
	}
	return &Snapshot{Dir: rc.snapshot(commit), Commit: commit, Files: picked}, nil
}

// warnCached says on Progress that the cache was used because the Hub failed.
func (s *Settings) warnCached(id string, kind Kind, revision string, err error) {
	if s.Progress != nil {
		fmt.Fprintf(s.Progress, "hub: warning: %s %s@%s: using the cached snapshot (the Hub failed: %v)\n", kind, id, revision, err)
	}
}

func (s *Settings) fetchInfo(ctx context.Context, id string, kind Kind, revision string) (*repoInfo, error) {
	target := s.infoURL(id, kind, revision)
	resp, err := s.request(ctx, http.MethodGet, target)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var info repoInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("GET %s: reading the repo info: %w", target, err)
	}
	if !commitPattern.MatchString(info.SHA) {
		return nil, fmt.Errorf("GET %s: the repo info has no commit sha (got %q)", target, info.SHA)
	}
	return &info, nil
}

// fetchFile makes snapshots/<commit>/<file> present; it returns the bytes downloaded.
func (s *Settings) fetchFile(ctx context.Context, rc repoCache, commit, file string, base *Error) (int64, error) {
	if err := validFile(file); err != nil {
		b := *base
		b.File, b.Msg, b.Err = file, "unsafe file name", err
		return 0, &b
	}
	ptr := rc.pointer(commit, file)
	if _, err := os.Stat(ptr); err == nil {
		return 0, nil
	}
	fail := func(msg string, err error) error {
		b := *base
		b.File, b.Msg, b.Err = file, msg, err
		var herr *HTTPError
		if errors.As(err, &herr) {
			return describe(&b, herr, s.Token != "")
		}
		if errors.Is(err, ErrIntegrity) {
			b.Class = ErrIntegrity
		}
		return &b
	}
	m, err := s.head(ctx, s.resolveURL(rc.id, rc.kind, commit, file))
	if err != nil {
		return 0, fail("metadata", err)
	}
	n, err := s.fetchBlob(ctx, rc, file, m)
	if err != nil {
		return n, fail("download", err)
	}
	if err := rc.link(commit, file, m.etag); err != nil {
		return n, fail("cache link", err)
	}
	return n, nil
}

// validFile refuses paths that would leave the snapshot folder.
func validFile(f string) error {
	if f == "" || strings.HasPrefix(f, "/") || strings.Contains(f, "\\") {
		return fmt.Errorf("%q", f)
	}
	for _, p := range strings.Split(f, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("%q", f)
		}
	}
	return nil
}

// fromCache resolves from the cache only. why says why the Hub was not asked (for
// the error when the cache lacks it); cause is the network error, if any.
func (s *Settings) fromCache(rc repoCache, revision string, pick Picker, base *Error, why string, cause error) (*Snapshot, error) {
	notCached := func(looked string, err error) error {
		b := *base
		b.Class, b.Err = ErrNotCached, cause
		if why == "" {
			why = "the Hub failed"
		}
		detail := ""
		if err != nil {
			detail = ": " + err.Error()
		}
		b.Msg = fmt.Sprintf("%s and the cache does not have it (looked at %s%s)", why, looked, detail)
		return &b
	}
	commit, err := rc.commitOf(revision)
	if err != nil {
		return nil, notCached(rc.ref(revision), nil)
	}
	dir := rc.snapshot(commit)
	files, err := cachedFiles(dir)
	if err != nil {
		return nil, notCached(dir, nil)
	}
	picked, err := pick(files)
	if err != nil {
		return nil, notCached(dir, err)
	}
	return &Snapshot{Dir: dir, Commit: commit, Files: picked, FromCache: true}, nil
}
