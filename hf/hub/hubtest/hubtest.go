// Package hubtest is a local Hugging Face Hub for tests: an httptest server on
// 127.0.0.1 that speaks the protocol huggingface_hub uses (repo info API, resolve
// URLs with X-Repo-Commit / ETag / X-Linked-Etag / X-Linked-Size, LFS files redirected
// to a second "CDN" server, Range requests, X-Error-Code on errors), with knobs to cut
// a transfer half way, corrupt a blob, ignore Range, fail with 503 and require a token.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the servers saw.
type Request struct {
	Server, Method, Path, Range, Auth string
}

// repo is one repository at one commit (every branch or tag points at it).
type repo struct {
	kind, id string
	commit   string
	refs     map[string]bool
	files    map[string][]byte
	private  bool
}

// Server is the fake Hub (URL: the HF_ENDPOINT) and its CDN.
type Server struct {
	Hub, CDN *httptest.Server
	// Token is what private repos require as "Authorization: Bearer <Token>".
	Token string

	mu    sync.Mutex
	repos map[string]*repo // "model:org/name"
	blobs map[string][]byte
	log   []Request
	cut   map[string]int64 // file → cut the next GET after this many bytes
	stall map[string]int64 // file → the next GET sends this many bytes, then nothing
	bad   map[string]bool  // file → serve one flipped byte
	fail  int              // answer the next N requests with 503
	// IgnoreRange makes GETs answer 200 with the whole file even to a Range request.
	IgnoreRange bool
	// Throttle, when set, is a pause after every 64 KiB of a GET body.
	Throttle time.Duration
	// ResolveCache answers resolve URLs of regular files with a relative 307 to
	// /api/resolve-cache/{models,datasets}/{id}/{commit}/{file}, as the Hub now does.
	ResolveCache bool
}

// New starts the servers; they are closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{repos: map[string]*repo{}, blobs: map[string][]byte{}, cut: map[string]int64{}, stall: map[string]int64{}, bad: map[string]bool{}}
	s.Hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.CDN = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	t.Cleanup(func() { s.Hub.Close(); s.CDN.Close() })
	return s
}

// URL is the endpoint (set HF_ENDPOINT to it).
func (s *Server) URL() string { return s.Hub.URL }

// GitBlobSHA1 is git's object id of a file: sha1("blob <len>\0" + data).
func GitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// SHA256 is the hex sha256 of data (an LFS object id).
func SHA256(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// IsLFS says which files the fake Hub stores in LFS: weights, parquet, archives and
// anything over 1 MiB (as a .gitattributes of a Hub repo would).
func IsLFS(name string, data []byte) bool {
	for _, e := range []string{".safetensors", ".parquet", ".gz", ".bin", ".model"} {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return len(data) > 1<<20
}

// ETag is the blob name a file gets: its sha256 in LFS, its git sha1 otherwise.
func ETag(name string, data []byte) string {
	if IsLFS(name, data) {
		return SHA256(data)
	}
	return GitBlobSHA1(data)
}

// Add publishes a repo (kind "model" or "dataset") with these files on branch main
// (and the extra refs given); the commit hash is derived from the contents.
func (s *Server) Add(kind, id string, files map[string][]byte, private bool, refs ...string) (commit string) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha1.New()
	fmt.Fprintf(h, "%s %s\n", kind, id)
	for _, n := range names {
		fmt.Fprintf(h, "%s %s\n", n, GitBlobSHA1(files[n]))
	}
	r := &repo{kind: kind, id: id, commit: hex.EncodeToString(h.Sum(nil)), refs: map[string]bool{"main": true}, files: files, private: private}
	for _, ref := range refs {
		r.refs[ref] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[kind+":"+id] = r
	for n, d := range files {
		if IsLFS(n, d) {
			s.blobs[SHA256(d)] = d
		}
	}
	return r.commit
}

// AddDir publishes the files of a local directory (recursively) as a repo.
func (s *Server) AddDir(t testing.TB, kind, id, dir string) (commit string) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = raw
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.Add(kind, id, files, false)
}

// CutNext makes the next GET of file stop after n bytes (the connection is dropped).
func (s *Server) CutNext(file string, n int64) { s.mu.Lock(); s.cut[file] = n; s.mu.Unlock() }

// StallNext makes the next GET of file send n bytes and then nothing (the connection
// stays open until the client gives up).
func (s *Server) StallNext(file string, n int64) { s.mu.Lock(); s.stall[file] = n; s.mu.Unlock() }

// Corrupt makes every GET of file serve one byte flipped (its ETag unchanged).
func (s *Server) Corrupt(file string) { s.mu.Lock(); s.bad[file] = true; s.mu.Unlock() }

// FailNext makes the next n requests answer 503.
func (s *Server) FailNext(n int) { s.mu.Lock(); s.fail = n; s.mu.Unlock() }

// Requests are the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) record(server string, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization")})
	if s.fail > 0 {
		s.fail--
		return false
	}
	return true
}

func hubError(w http.ResponseWriter, status int, code, msg, commit string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	if commit != "" {
		w.Header().Set("X-Repo-Commit", commit)
	}
	http.Error(w, `{"error":"`+msg+`"}`, status)
}

// unescapeSegs splits an escaped path into unescaped segments.
func unescapeSegs(p string) []string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, sg := range segs {
		if u, err := url.PathUnescape(sg); err == nil {
			segs[i] = u
		}
	}
	return segs
}

// lookup finds the repo and checks the token; it writes the error when it fails.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, kind, id, rev string) *repo {
	s.mu.Lock()
	rp := s.repos[kind+":"+id]
	s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	switch {
	case rp == nil:
		hubError(w, 404, "RepoNotFound", "Repository not found", "")
		return nil
	case rp.private && auth != "Bearer "+s.Token:
		hubError(w, 401, "RepoNotFound", "Invalid credentials in Authorization header", "")
		return nil
	case rev != rp.commit && !rp.refs[rev]:
		hubError(w, 404, "RevisionNotFound", "Invalid rev id: "+rev, "")
		return nil
	}
	return rp
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	if !s.record("hub", r) {
		hubError(w, 503, "", "Service Unavailable", "")
		return
	}
	segs := unescapeSegs(r.URL.EscapedPath())
	// /api/{models,datasets}/{id...}/revision/{rev}
	if len(segs) >= 5 && segs[0] == "api" && segs[len(segs)-2] == "revision" {
		kind := strings.TrimSuffix(segs[1], "s")
		rp := s.lookup(w, r, kind, strings.Join(segs[2:len(segs)-2], "/"), segs[len(segs)-1])
		if rp == nil {
			return
		}
		type sib struct {
			RFilename string `json:"rfilename"`
		}
		info := struct {
			ID       string `json:"id"`
			SHA      string `json:"sha"`
			Siblings []sib  `json:"siblings"`
		}{ID: rp.id, SHA: rp.commit}
		names := make([]string, 0, len(rp.files))
		for n := range rp.files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			info.Siblings = append(info.Siblings, sib{n})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(info)
		return
	}
	// /api/resolve-cache/{models,datasets}/{id...}/{commit}/{file...} (the target of a
	// relative redirect; ids here have two parts)
	if len(segs) >= 6 && segs[0] == "api" && segs[1] == "resolve-cache" {
		kind := strings.TrimSuffix(segs[2], "s")
		rp := s.lookup(w, r, kind, segs[3]+"/"+segs[4], segs[5])
		if rp == nil {
			return
		}
		file := strings.Join(segs[6:], "/")
		data, ok := rp.files[file]
		if !ok {
			hubError(w, 404, "EntryNotFound", file, rp.commit)
			return
		}
		w.Header().Set("X-Repo-Commit", rp.commit)
		w.Header().Set("ETag", `"`+GitBlobSHA1(data)+`"`)
		s.serveBytes(w, r, file, data)
		return
	}
	// /[datasets/]{id...}/resolve/{rev}/{file...}
	kind := "model"
	if len(segs) > 0 && segs[0] == "datasets" {
		kind, segs = "dataset", segs[1:]
	}
	at := -1
	for i, sg := range segs {
		if sg == "resolve" {
			at = i
			break
		}
	}
	if at < 1 || at+2 >= len(segs) {
		http.NotFound(w, r)
		return
	}
	rp := s.lookup(w, r, kind, strings.Join(segs[:at], "/"), segs[at+1])
	if rp == nil {
		return
	}
	file := strings.Join(segs[at+2:], "/")
	data, ok := rp.files[file]
	if !ok {
		hubError(w, 404, "EntryNotFound", file+" does not exist on \""+segs[at+1]+"\"", rp.commit)
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", rp.commit)
	if IsLFS(file, data) {
		sha := SHA256(data)
		h.Set("ETag", `"`+GitBlobSHA1([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:"+sha+"\n"))+`"`)
		h.Set("X-Linked-Etag", `"`+sha+`"`)
		h.Set("X-Linked-Size", strconv.Itoa(len(data)))
		h.Set("Location", s.CDN.URL+"/blobs/"+sha+"?file="+url.QueryEscape(file)+"&sig=x")
		w.WriteHeader(http.StatusFound)
		return
	}
	if s.ResolveCache {
		s.mu.Lock()
		s.log[len(s.log)-1].Path += " (307)"
		s.mu.Unlock()
		h.Set("Location", "/api/resolve-cache/"+kind+"s/"+rp.id+"/"+rp.commit+"/"+file)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	h.Set("ETag", `"`+GitBlobSHA1(data)+`"`)
	s.serveBytes(w, r, file, data)
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	if !s.record("cdn", r) {
		http.Error(w, "Service Unavailable", 503)
		return
	}
	sha := strings.TrimPrefix(r.URL.Path, "/blobs/")
	s.mu.Lock()
	data, ok := s.blobs[sha]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.serveBytes(w, r, r.URL.Query().Get("file"), data)
}

// serveBytes answers a HEAD or GET, honouring "Range: bytes=N-", cutting or
// corrupting the transfer when asked.
func (s *Server) serveBytes(w http.ResponseWriter, r *http.Request, file string, data []byte) {
	s.mu.Lock()
	cut, cutOK := s.cut[file]
	if cutOK && r.Method == http.MethodGet {
		delete(s.cut, file)
	}
	stall, stallOK := s.stall[file]
	if stallOK && r.Method == http.MethodGet {
		delete(s.stall, file)
	}
	bad, ignoreRange, throttle := s.bad[file], s.IgnoreRange, s.Throttle
	s.mu.Unlock()
	if bad && len(data) > 0 {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	start := 0
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && !ignoreRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n < 0 || n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start, status = n, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Accept-Ranges", "bytes")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if cutOK && r.Method == http.MethodGet && cut < int64(len(body)) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	if stallOK && r.Method == http.MethodGet && stall < int64(len(body)) {
		w.Write(body[:stall])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the client hangs up
		return
	}
	for throttle > 0 && len(body) > 64<<10 {
		if _, err := w.Write(body[:64<<10]); err != nil {
			return
		}
		body = body[64<<10:]
		time.Sleep(throttle)
	}
	w.Write(body)
}
