package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preftune/preftune/hf/hub/hubtest"
)

// modelRepo is a small model repo: what a run needs plus files it must not fetch.
func modelRepo() map[string][]byte {
	weights := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB, LFS
	return map[string][]byte{
		"config.json":            []byte(`{"model_type": "qwen2"}` + "\n"),
		"model.safetensors":      weights,
		"tokenizer.json":         []byte(`{"version": "1.0"}`),
		"tokenizer_config.json":  []byte(`{"chat_template": "{{ x }}"}`),
		"generation_config.json": []byte(`{"do_sample": false}`),
		"README.md":              []byte("# a model\n"),
		"pytorch_model.bin":      []byte("pickle, never fetched"),
		"onnx/model.onnx":        []byte("onnx, never fetched"),
		".gitattributes":         []byte("*.safetensors filter=lfs\n"),
	}
}

// settings point at the fake Hub with an empty cache and fast retries.
func settings(t *testing.T, srv *hubtest.Server) Settings {
	return Settings{CacheDir: filepath.Join(t.TempDir(), "hub"), Endpoint: srv.URL(), Retries: 3, Backoff: time.Millisecond}
}

func count(reqs []hubtest.Request, server, method, suffix string) int {
	n := 0
	for _, r := range reqs {
		if r.Server == server && r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// TestResolveLayout downloads into an empty cache and checks huggingface_hub's
// documented layout: refs/main holds the commit, snapshots/<commit>/<file> are
// relative symlinks to blobs/<etag> (sha256 for LFS files, git blob sha1 otherwise),
// only the files a run needs are fetched, nothing .incomplete is left, and a lock file
// per blob sits under .locks/.
func TestResolveLayout(t *testing.T) {
	srv := hubtest.New(t)
	files := modelRepo()
	commit := srv.Add("model", "org/tiny", files, false)
	s := settings(t, srv)
	snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(s.CacheDir, "models--org--tiny")
	if snap.Dir != filepath.Join(store, "snapshots", commit) || snap.Commit != commit {
		t.Fatalf("snapshot %s @ %s, want %s", snap.Dir, snap.Commit, commit)
	}
	ref, err := os.ReadFile(filepath.Join(store, "refs", "main"))
	if err != nil || string(ref) != commit {
		t.Fatalf("refs/main = %q (%v), want %s", ref, err, commit)
	}
	want := []string{"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if strings.Join(snap.Files, ",") != strings.Join(want, ",") {
		t.Fatalf("picked %v, want %v", snap.Files, want)
	}
	for _, f := range want {
		ptr := filepath.Join(snap.Dir, f)
		target, err := os.Readlink(ptr)
		if err != nil {
			t.Fatalf("%s: not a symlink: %v", f, err)
		}
		etag := hubtest.ETag(f, files[f])
		if target != filepath.Join("..", "..", "blobs", etag) {
			t.Errorf("%s -> %s, want ../../blobs/%s", f, target, etag)
		}
		got, err := os.ReadFile(ptr)
		if err != nil || !bytes.Equal(got, files[f]) {
			t.Errorf("%s: content differs (%v)", f, err)
		}
		if _, err := os.Stat(filepath.Join(s.CacheDir, ".locks", "models--org--tiny", etag+".lock")); err != nil {
			t.Errorf("%s: no lock file: %v", f, err)
		}
	}
	if e := hubtest.ETag("model.safetensors", files["model.safetensors"]); e != hubtest.SHA256(files["model.safetensors"]) {
		t.Fatalf("weights are not an LFS blob in the fake Hub")
	}
	blobs, _ := os.ReadDir(filepath.Join(store, "blobs"))
	if len(blobs) != len(want) {
		t.Errorf("%d blobs, want %d", len(blobs), len(want))
	}
	for _, b := range blobs {
		if strings.HasSuffix(b.Name(), ".incomplete") {
			t.Errorf("left %s", b.Name())
		}
	}
	reqs := srv.Requests()
	for _, never := range []string{"README.md", "pytorch_model.bin", "model.onnx", ".gitattributes"} {
		if n := count(reqs, "hub", "GET", never) + count(reqs, "hub", "HEAD", never); n != 0 {
			t.Errorf("%s was requested %d times", never, n)
		}
	}
	if n := count(reqs, "cdn", "GET", hubtest.SHA256(files["model.safetensors"])); n != 1 {
		t.Errorf("weights fetched %d times from the CDN, want 1 (the LFS redirect)", n)
	}

	// a second resolve finds everything: no HEAD, no GET of a file
	before := len(srv.Requests())
	if _, err := s.Resolve(context.Background(), "org/tiny", Model, "main", ModelPicker); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests()[before:] {
		if !strings.HasPrefix(r.Path, "/api/") {
			t.Errorf("second resolve requested %s %s", r.Method, r.Path)
		}
	}
}

// TestOfflineAndNetworkDown: once cached, HF_HUB_OFFLINE resolves without a request,
// and with the Hub gone the cache is used (FromCache).
func TestOfflineAndNetworkDown(t *testing.T) {
	srv := hubtest.New(t)
	commit := srv.Add("model", "org/tiny", modelRepo(), false)
	s := settings(t, srv)
	if _, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker); err != nil {
		t.Fatal(err)
	}
	n := len(srv.Requests())
	off := s
	off.Offline = true
	for _, rev := range []string{"main", commit} {
		snap, err := off.Resolve(context.Background(), "org/tiny", Model, rev, ModelPicker)
		if err != nil {
			t.Fatal(err)
		}
		if !snap.FromCache || snap.Commit != commit || len(snap.Files) != 5 {
			t.Errorf("offline %s: %+v", rev, snap)
		}
	}
	if len(srv.Requests()) != n {
		t.Errorf("offline resolve made %d requests", len(srv.Requests())-n)
	}
	srv.Hub.Close()
	snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
	if err != nil {
		t.Fatalf("network down, cached: %v", err)
	}
	if !snap.FromCache || snap.Commit != commit {
		t.Errorf("network down: %+v", snap)
	}
	// not cached and unreachable: the error names the cache path looked at
	_, err = s.Resolve(context.Background(), "org/other", Model, "", ModelPicker)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), filepath.Join(s.CacheDir, "models--org--other", "refs", "main")) {
		t.Errorf("unreachable, not cached: %v", err)
	}
}

// TestOfflineNotCached: HF_HUB_OFFLINE with an empty cache says so and names the path.
func TestOfflineNotCached(t *testing.T) {
	srv := hubtest.New(t)
	srv.Add("model", "org/tiny", modelRepo(), false)
	s := settings(t, srv)
	s.Offline = true
	_, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
	looked := filepath.Join(s.CacheDir, "models--org--tiny", "refs", "main")
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") || !strings.Contains(err.Error(), looked) {
		t.Errorf("got %v, want HF_HUB_OFFLINE … %s", err, looked)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("offline made requests: %v", srv.Requests())
	}
}

// TestResumeAfterCut: a transfer cut half way leaves blobs/<etag>.incomplete; the
// next run asks for the rest with Range and ends with the right blob. Within one run
// the same happens on a retry.
func TestResumeAfterCut(t *testing.T) {
	files := modelRepo()
	w := files["model.safetensors"]
	sha := hubtest.SHA256(w)
	half := int64(len(w) / 2)

	t.Run("next run", func(t *testing.T) {
		srv := hubtest.New(t)
		srv.Add("model", "org/tiny", files, false)
		s := settings(t, srv)
		s.Retries = 0
		srv.CutNext("model.safetensors", half)
		_, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
		if err == nil {
			t.Fatal("cut transfer succeeded")
		}
		inc := filepath.Join(s.CacheDir, "models--org--tiny", "blobs", sha+".incomplete")
		st, serr := os.Stat(inc)
		if serr != nil || st.Size() != half {
			t.Fatalf("after the cut: %v, %v (want %d bytes kept); resolve error: %v", st, serr, half, err)
		}
		snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
		if !bytes.Equal(got, w) {
			t.Fatal("resumed blob differs")
		}
		var ranges []string
		for _, r := range srv.Requests() {
			if r.Server == "cdn" && r.Method == "GET" {
				ranges = append(ranges, r.Range)
			}
		}
		if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes=32768-" {
			t.Errorf("CDN GET ranges %q, want [\"\" \"bytes=32768-\"]", ranges)
		}
		if _, err := os.Stat(inc); !os.IsNotExist(err) {
			t.Errorf(".incomplete left: %v", err)
		}
	})
	t.Run("retry", func(t *testing.T) {
		srv := hubtest.New(t)
		srv.Add("model", "org/tiny", files, false)
		s := settings(t, srv)
		srv.CutNext("model.safetensors", half)
		snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
		if !bytes.Equal(got, w) {
			t.Fatal("blob differs")
		}
		if n := count(srv.Requests(), "cdn", "GET", sha); n != 2 {
			t.Errorf("%d GETs, want 2 (cut, then resumed)", n)
		}
	})
	t.Run("stalled transfer", func(t *testing.T) {
		srv := hubtest.New(t)
		srv.Add("model", "org/tiny", files, false)
		s := settings(t, srv)
		s.ReadTimeout = 200 * time.Millisecond
		srv.StallNext("model.safetensors", half)
		snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
		if !bytes.Equal(got, w) {
			t.Fatal("blob differs")
		}
		var ranges []string
		for _, r := range srv.Requests() {
			if r.Server == "cdn" && r.Method == "GET" {
				ranges = append(ranges, r.Range)
			}
		}
		if len(ranges) != 2 || ranges[1] != "bytes=32768-" {
			t.Errorf("CDN GET ranges %q, want a resume from byte 32768", ranges)
		}
	})
	t.Run("server ignores Range", func(t *testing.T) {
		srv := hubtest.New(t)
		srv.Add("model", "org/tiny", files, false)
		srv.IgnoreRange = true
		s := settings(t, srv)
		srv.CutNext("model.safetensors", half)
		snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
		if !bytes.Equal(got, w) {
			t.Fatal("blob differs after a 200 to a Range request")
		}
	})
}

// TestIntegrityRefused: a blob whose bytes do not hash to its ETag (sha256 for LFS,
// git blob sha1 otherwise) is refused and nothing of it is kept.
func TestIntegrityRefused(t *testing.T) {
	for _, file := range []string{"model.safetensors", "config.json"} {
		t.Run(file, func(t *testing.T) {
			srv := hubtest.New(t)
			files := modelRepo()
			commit := srv.Add("model", "org/tiny", files, false)
			srv.Corrupt(file)
			s := settings(t, srv)
			_, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("got %v, want an integrity error", err)
			}
			algo := map[string]string{"model.safetensors": "sha256", "config.json": "git blob sha1"}[file]
			if !strings.Contains(err.Error(), algo) || !strings.Contains(err.Error(), hubtest.ETag(file, files[file])) {
				t.Errorf("error does not name %s and the expected hash: %v", algo, err)
			}
			store := filepath.Join(s.CacheDir, "models--org--tiny")
			etag := hubtest.ETag(file, files[file])
			for _, p := range []string{filepath.Join(store, "blobs", etag), filepath.Join(store, "blobs", etag+".incomplete"), filepath.Join(store, "snapshots", commit, file)} {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("%s exists after a refused download", p)
				}
			}
		})
	}
}

// TestHTTPErrors: 401 says to set HF_TOKEN, 404 names what is missing, the token is
// sent to the Hub but not to the CDN, and 503s are retried.
func TestHTTPErrors(t *testing.T) {
	srv := hubtest.New(t)
	srv.Token = "hf_secret"
	srv.Add("model", "org/private", modelRepo(), true)
	srv.Add("model", "org/tiny", modelRepo(), false, "v1")
	srv.Add("model", "org/nocfg", map[string][]byte{"model.safetensors": []byte("x")}, false)
	srv.Add("model", "org/binonly", map[string][]byte{"config.json": []byte("{}"), "pytorch_model.bin": []byte("x")}, false)
	ctx := context.Background()
	cases := []struct {
		name, repo, rev, token string
		class                  error
		msg                    string
	}{
		{"401 without token", "org/private", "", "", ErrAccess, "set HF_TOKEN"},
		{"401 wrong token", "org/private", "", "hf_wrong", ErrAccess, "access denied with the token given"},
		{"404 repo", "org/none", "", "", ErrNotFound, "no such repo"},
		{"404 revision", "org/tiny", "v2", "", ErrNotFound, "no such revision v2"},
		{"no config", "org/nocfg", "", "", nil, "no config.json"},
		{"bin only", "org/binonly", "", "", nil, "no *.safetensors weights"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := settings(t, srv)
			s.Token = c.token
			_, err := s.Resolve(ctx, c.repo, Model, c.rev, ModelPicker)
			if err == nil || (c.class != nil && !errors.Is(err, c.class)) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want %v %q", err, c.class, c.msg)
			}
			if !strings.Contains(err.Error(), c.repo) {
				t.Errorf("error does not name the repo: %v", err)
			}
		})
	}
	t.Run("token", func(t *testing.T) {
		s := settings(t, srv)
		s.Token = "hf_secret"
		before := len(srv.Requests())
		if _, err := s.Resolve(ctx, "org/private", Model, "", ModelPicker); err != nil {
			t.Fatal(err)
		}
		for _, r := range srv.Requests()[before:] {
			if want := map[string]string{"hub": "Bearer hf_secret", "cdn": ""}[r.Server]; r.Auth != want {
				t.Errorf("%s %s %s: Authorization %q, want %q", r.Server, r.Method, r.Path, r.Auth, want)
			}
		}
	})
	t.Run("404 file", func(t *testing.T) {
		s := settings(t, srv)
		pick := func([]string) ([]string, error) { return []string{"config.json", "missing.json"}, nil }
		_, err := s.Resolve(ctx, "org/tiny", Model, "", pick)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "file missing.json") || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("503 retried", func(t *testing.T) {
		s := settings(t, srv)
		srv.FailNext(2)
		if _, err := s.Resolve(ctx, "org/tiny", Model, "v1", ModelPicker); err != nil {
			t.Fatal(err)
		}
		if _, err := os.ReadFile(filepath.Join(s.CacheDir, "models--org--tiny", "refs", "v1")); err != nil {
			t.Errorf("refs/v1: %v", err)
		}
	})
	t.Run("503 exhausted", func(t *testing.T) {
		s := settings(t, srv)
		s.Retries = 1
		srv.FailNext(5)
		_, err := s.Resolve(ctx, "org/tiny", Model, "", ModelPicker)
		srv.FailNext(0)
		if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "503") {
			t.Errorf("got %v", err)
		}
	})
}

// TestConcurrentResolvers: resolvers racing for one repo (each with its own lock file
// descriptor, as two processes have) share one download per blob and all succeed.
func TestConcurrentResolvers(t *testing.T) {
	srv := hubtest.New(t)
	files := modelRepo()
	files["model.safetensors"] = bytes.Repeat([]byte{7}, 4<<20)
	srv.Add("model", "org/tiny", files, false)
	s := settings(t, srv)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	dirs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
			errs[i] = err
			if err == nil {
				dirs[i] = snap.Dir
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		got, err := os.ReadFile(filepath.Join(dirs[i], "model.safetensors"))
		if err != nil || !bytes.Equal(got, files["model.safetensors"]) {
			t.Fatalf("resolver %d: weights differ (%v)", i, err)
		}
	}
	if c := count(srv.Requests(), "cdn", "GET", hubtest.SHA256(files["model.safetensors"])); c != 1 {
		t.Errorf("weights downloaded %d times, want 1", c)
	}
}

// TestDatasetSplitDownload: a dataset repo resolves per split; only that split's
// files are fetched, from /datasets/… URLs, into datasets--org--name.
func TestDatasetSplitDownload(t *testing.T) {
	srv := hubtest.New(t)
	files := map[string][]byte{
		"data/train-00000-of-00002.parquet": []byte("PAR1 train 0"),
		"data/train-00001-of-00002.parquet": []byte("PAR1 train 1"),
		"data/test-00000-of-00001.parquet":  []byte("PAR1 test"),
		"README.md":                         []byte("---\nlicense: mit\n---\n"),
	}
	commit := srv.Add("dataset", "org/prefs", files, false)
	s := settings(t, srv)
	got, hub, err := s.DatasetFiles(context.Background(), "org/prefs", "", "test")
	if err != nil || !hub {
		t.Fatal(err, hub)
	}
	want := filepath.Join(s.CacheDir, "datasets--org--prefs", "snapshots", commit, "data", "test-00000-of-00001.parquet")
	if len(got) != 1 || got[0] != want {
		t.Fatalf("files %v, want [%s]", got, want)
	}
	if raw, _ := os.ReadFile(want); string(raw) != "PAR1 test" {
		t.Errorf("content %q", raw)
	}
	if n := count(srv.Requests(), "hub", "HEAD", "/datasets/org/prefs/resolve/"+commit+"/data/test-00000-of-00001.parquet"); n != 1 {
		t.Errorf("HEAD of the dataset resolve URL: %d", n)
	}
	if c := count(srv.Requests(), "cdn", "GET", hubtest.SHA256(files["data/train-00000-of-00002.parquet"])); c != 0 {
		t.Errorf("train split fetched for the test split")
	}
	_, _, err = s.DatasetFiles(context.Background(), "org/prefs", "", "validation")
	if err == nil || !strings.Contains(err.Error(), `no split "validation" (splits: train, test)`) {
		t.Errorf("missing split: %v", err)
	}
}

// TestArgumentsStayLocal: local paths and file names are never sent to the Hub.
func TestArgumentsStayLocal(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		arg  string
		repo bool
	}{
		{dir, false}, {"pairs.jsonl", false}, {"data/train.parquet", false}, {"./model", false},
		{"a/b/c", false}, {"../model", false}, {"org/name", true}, {"gpt2", true},
		{"Qwen/Qwen2.5-0.5B-Instruct", true}, {"org--x/y", false}, {"-org/x", false}, {"", false},
	} {
		if got := LooksLikeRepoID(c.arg); got != c.repo {
			t.Errorf("LooksLikeRepoID(%q) = %v, want %v", c.arg, got, c.repo)
		}
	}
	s := Settings{CacheDir: t.TempDir(), Endpoint: "http://127.0.0.1:1"}
	got, hub, err := s.Dir(context.Background(), dir, "", ForModel)
	if err != nil || hub || got != dir {
		t.Errorf("local dir: %q %v %v", got, hub, err)
	}
}

// TestFromEnv: the environment variables huggingface_hub reads, with its precedence.
func TestFromEnv(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600)
	cases := []struct {
		name            string
		env             map[string]string
		cache, endpoint string
		token           string
		offline         bool
	}{
		{"defaults", map[string]string{"HOME": "/h"}, "/h/.cache/huggingface/hub", DefaultEndpoint, "", false},
		{"xdg", map[string]string{"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/x/huggingface/hub", DefaultEndpoint, "", false},
		{"HF_HOME and its token", map[string]string{"HF_HOME": home, "HF_HUB_OFFLINE": "1"}, filepath.Join(home, "hub"), DefaultEndpoint, "hf_fromfile", true},
		{"HF_HUB_CACHE wins", map[string]string{"HF_HOME": home, "HF_HUB_CACHE": "/c", "HF_TOKEN": "hf_env", "HF_ENDPOINT": "http://127.0.0.1:9/", "HF_HUB_OFFLINE": "yes"}, "/c", "http://127.0.0.1:9", "hf_env", true},
		{"offline false", map[string]string{"HF_HOME": home, "HF_HUB_OFFLINE": "0", "HF_TOKEN_PATH": filepath.Join(home, "none")}, filepath.Join(home, "hub"), DefaultEndpoint, "", false},
		{"TRANSFORMERS_OFFLINE", map[string]string{"HOME": "/h", "TRANSFORMERS_OFFLINE": "TRUE", "HUGGINGFACE_HUB_CACHE": "/legacy"}, "/legacy", DefaultEndpoint, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"} {
				t.Setenv(k, "")
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			s := FromEnv()
			if s.CacheDir != c.cache || s.Endpoint != c.endpoint || s.Token != c.token || s.Offline != c.offline {
				t.Errorf("got cache %q endpoint %q token %q offline %v", s.CacheDir, s.Endpoint, s.Token, s.Offline)
			}
		})
	}
}

// TestCacheReadByHuggingFaceHub fills a cache (a model at main and tag v1, a dataset
// split) and compares huggingface_hub's own view of it — scan_cache_dir and
// try_to_load_from_cache, run by reference/hub/scan_cache.py — with
// testdata/scan_cache.json, which that script wrote. Without Python and
// huggingface_hub (installed, or a checkout in $HF_HUB_SRC) the script part is
// skipped; the Go-side walk of the cache is still compared with the golden.
func TestCacheReadByHuggingFaceHub(t *testing.T) {
	srv := hubtest.New(t)
	commit := srv.Add("model", "org/tiny", modelRepo(), false, "v1")
	srv.Add("dataset", "org/prefs", map[string][]byte{
		"data/train-00000-of-00001.parquet": []byte("PAR1 train"),
		"data/test-00000-of-00001.parquet":  []byte("PAR1 test"),
	}, false)
	s := settings(t, srv)
	ctx := context.Background()
	if _, err := s.Resolve(ctx, "org/tiny", Model, "main", ModelPicker); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "org/tiny", Model, "v1", ModelPicker); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DatasetFiles(ctx, "org/prefs", "", "train"); err != nil {
		t.Fatal(err)
	}
	queries := []string{"model:org/tiny:main:config.json", "model:org/tiny:v1:model.safetensors",
		"model:org/tiny:" + commit + ":tokenizer.json", "model:org/tiny:main:README.md",
		"dataset:org/prefs:main:data/train-00000-of-00001.parquet"}
	golden, err := os.ReadFile(filepath.Join("testdata", "scan_cache.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	goSide := scanLikeHub(t, s.CacheDir, queries)
	if g, w := canon(t, goSide), canon(t, want); g != w {
		t.Errorf("cache walk differs from the golden:\n got %s\nwant %s", g, w)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: huggingface_hub's reading of the cache not checked")
	}
	cmd := exec.Command(py, append([]string{filepath.Join("..", "..", "reference", "hub", "scan_cache.py"), s.CacheDir}, queries...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "huggingface_hub is not installed") {
			t.Skip("huggingface_hub not available (install it or set HF_HUB_SRC)")
		}
		t.Fatalf("scan_cache.py: %v\n%s", err, stderr.String())
	}
	if os.Getenv("PREFTUNE_WRITE_GOLDEN") == "1" {
		if err := os.WriteFile(filepath.Join("testdata", "scan_cache.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var py2 map[string]any
	if err := json.Unmarshal(out, &py2); err != nil {
		t.Fatal(err)
	}
	if g, w := canon(t, py2), canon(t, want); g != w {
		t.Errorf("huggingface_hub reads the cache differently from the golden:\n got %s\nwant %s", g, w)
	}
}

func canon(t *testing.T, v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestConcurrentProcesses: three processes (this test binary re-run) resolve one repo
// into one cache at once while the weights stream slowly; the per-blob lock makes one
// download them and the others wait and link the finished blob.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("PREFTUNE_HUB_HELPER") == "1" {
		t.Skip("helper")
	}
	srv := hubtest.New(t)
	files := modelRepo()
	files["model.safetensors"] = bytes.Repeat([]byte{3, 1, 4, 1, 5}, 400_000) // 2 MB
	srv.Add("model", "org/tiny", files, false)
	srv.Throttle = 20 * time.Millisecond // ≈ 0.6 s for the weights
	cache := filepath.Join(t.TempDir(), "hub")
	const n = 3
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestHelperResolve$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), "PREFTUNE_HUB_HELPER=1", "HF_ENDPOINT="+srv.URL(), "HF_HUB_CACHE="+cache, "HF_HUB_OFFLINE=", "HF_TOKEN=")
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if err := cmds[i].Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		if !strings.Contains(outs[i].String(), "resolved ") {
			t.Fatalf("process %d did not resolve:\n%s", i, outs[i])
		}
	}
	sha := hubtest.SHA256(files["model.safetensors"])
	if c := count(srv.Requests(), "cdn", "GET", sha); c != 1 {
		t.Errorf("weights downloaded %d times by %d processes, want 1", c, n)
	}
	got, err := os.ReadFile(filepath.Join(cache, "models--org--tiny", "blobs", sha))
	if err != nil || !bytes.Equal(got, files["model.safetensors"]) {
		t.Errorf("blob: %v", err)
	}
}

// TestHelperResolve is the child of TestConcurrentProcesses.
func TestHelperResolve(t *testing.T) {
	if os.Getenv("PREFTUNE_HUB_HELPER") != "1" {
		t.Skip("run by TestConcurrentProcesses")
	}
	snap, err := FromEnv().Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
	if err != nil || len(got) != 2_000_000 {
		t.Fatalf("weights: %d bytes, %v", len(got), err)
	}
	os.Stdout.WriteString("resolved " + snap.Dir + "\n")
}

// TestRelativeRedirectAndProgress: the Hub's relative 307 to /api/resolve-cache/… is
// followed (with the token: same host), and a terminal gets a progress bar per file.
func TestRelativeRedirectAndProgress(t *testing.T) {
	srv := hubtest.New(t)
	srv.ResolveCache = true
	srv.Token = "hf_t"
	files := modelRepo()
	srv.Add("model", "org/tiny", files, true)
	s := settings(t, srv)
	s.Token = "hf_t"
	var bar bytes.Buffer
	s.Progress, s.Terminal = &bar, true
	snap, err := s.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files {
		got, err := os.ReadFile(filepath.Join(snap.Dir, f))
		if err != nil || !bytes.Equal(got, files[f]) {
			t.Errorf("%s differs (%v)", f, err)
		}
	}
	if n := count(srv.Requests(), "hub", "GET", "/api/resolve-cache/models/org/tiny/"+snap.Commit+"/config.json"); n != 1 {
		t.Errorf("resolve-cache GETs of config.json: %d", n)
	}
	for _, want := range []string{"model.safetensors", "config.json", "(66/66 kB", "100%"} {
		if !strings.Contains(bar.String(), want) {
			t.Errorf("progress output lacks %q:\n%q", want, bar.String())
		}
	}
	var quiet bytes.Buffer
	s2 := settings(t, srv)
	s2.Token, s2.Progress = "hf_t", &quiet
	if _, err := s2.Resolve(context.Background(), "org/tiny", Model, "", ModelPicker); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(quiet.String(), "\n"); lines != 1 || !strings.Contains(quiet.String(), "downloaded 65626 bytes") {
		t.Errorf("not a terminal: want one summary line, got %q", quiet.String())
	}
}
