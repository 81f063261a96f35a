package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/preftune/preftune/atomicfile"
	"github.com/schollz/progressbar/v3"
)

// fileMeta is what the HEAD of a resolve URL tells (huggingface_hub's HfFileMetadata).
type fileMeta struct {
	commit   string // X-Repo-Commit
	etag     string // X-Linked-Etag, else ETag, normalized
	size     int64  // X-Linked-Size, else Content-Length when not redirected; -1 unknown
	location string // where to GET: the redirect target (LFS: the CDN) or the URL itself
}

// resolveURL is {endpoint}/{datasets/}{id}/resolve/{revision}/{file}.
func (s *Settings) resolveURL(id string, kind Kind, revision, file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return s.Endpoint + "/" + urlPrefix(kind) + id + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(parts, "/")
}

// normalizeETag strips W/ and quotes (huggingface_hub's _normalize_etag).
func normalizeETag(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	return strings.Trim(v, `"`)
}

func (s *Settings) head(ctx context.Context, target string) (*fileMeta, error) {
	resp, err := s.request(ctx, http.MethodHead, target)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	h := resp.Header
	m := &fileMeta{commit: h.Get("X-Repo-Commit"), size: -1, location: resp.Request.URL.String()}
	m.etag = normalizeETag(h.Get("X-Linked-Etag"))
	if m.etag == "" {
		m.etag = normalizeETag(h.Get("ETag"))
	}
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
	if loc := h.Get("Location"); redirect && loc != "" {
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			m.location = u.String()
		}
	}
	size := h.Get("X-Linked-Size")
	if size == "" && !redirect {
		size = h.Get("Content-Length")
	}
	if n, err := strconv.ParseInt(size, 10, 64); err == nil {
		m.size = n
	}
	switch {
	case m.commit == "":
		return nil, fmt.Errorf("HEAD %s: no X-Repo-Commit header: this endpoint does not look like a Hugging Face Hub (check HF_ENDPOINT and proxies)", target)
	case m.etag == "":
		return nil, fmt.Errorf("HEAD %s: no ETag: the file's version cannot be pinned", target)
	case strings.ContainsAny(m.etag, `/\`) || m.etag == "." || m.etag == "..":
		return nil, fmt.Errorf("HEAD %s: ETag %q is not a blob name", target, m.etag)
	}
	return m, nil
}

// fetchBlob makes blobs/<etag> hold the file, downloading it if missing, under the
// blob's lock (other processes and goroutines wait for it, then find the blob).
func (s *Settings) fetchBlob(ctx context.Context, rc repoCache, file string, m *fileMeta) (downloaded int64, err error) {
	blob := rc.blob(m.etag)
	if _, err := os.Stat(blob); err == nil {
		return 0, nil
	}
	for _, d := range []string{filepath.Dir(blob), filepath.Dir(rc.lock(m.etag))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	lock, err := waitLock(ctx, rc.lock(m.etag))
	if err != nil {
		return 0, err
	}
	defer lock.Unlock()
	if _, err := os.Stat(blob); err == nil {
		return 0, nil // another holder finished it while we waited
	}
	inc := blob + ".incomplete"
	n, err := s.download(ctx, inc, file, m)
	if err != nil {
		return n, err
	}
	if err := verify(inc, m); err != nil {
		os.Remove(inc) // a wrong blob is never kept, nor resumed
		return n, err
	}
	if err := os.Chmod(inc, 0o644); err != nil {
		return n, err
	}
	if err := os.Rename(inc, blob); err != nil {
		return n, err
	}
	atomicfile.SyncDir(filepath.Dir(blob))
	return n, nil
}

// waitLock takes the lock at path, polling while another holder has it.
func waitLock(ctx context.Context, path string) (*atomicfile.Lock, error) {
	info := []byte(fmt.Sprintf("pid %d\n", os.Getpid()))
	for {
		l, err := atomicfile.TryLock(path, info)
		var busy *atomicfile.LockedError
		if !errors.As(err, &busy) {
			return l, err
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// download appends the file to the .incomplete file from where it stands (a previous
// cut transfer), asking for the rest with Range; a cut connection is resumed the same
// way after a backoff. It returns the bytes received.
func (s *Settings) download(ctx context.Context, inc, file string, m *fileMeta) (int64, error) {
	f, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if m.size >= 0 && have > m.size {
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	bar := s.bar(file, m.size, have)
	defer func() {
		if bar != nil {
			bar.Close()
			fmt.Fprintln(s.Progress)
		}
	}()
	var got int64
	for attempt := 0; ; attempt++ {
		if m.size >= 0 && have == m.size {
			break
		}
		pos, total, err := s.getOnce(ctx, f, m, have, bar)
		if pos > have {
			got += pos - have
		}
		have = pos
		if err == nil {
			if m.size < 0 {
				m.size = total
			}
			if m.size >= 0 && have != m.size {
				err = io.ErrUnexpectedEOF
			} else {
				break
			}
		}
		if errors.Is(err, errRestart) {
			continue
		}
		if !retryable(err) && !errors.Is(err, io.ErrUnexpectedEOF) || attempt >= s.Retries {
			return got, fmt.Errorf("GET %s: %w (%d of %d bytes kept in %s; the next run resumes)", m.location, err, have, m.size, inc)
		}
		if err := sleep(ctx, s.backoff(attempt)); err != nil {
			return got, err
		}
	}
	if err := f.Sync(); err != nil {
		return got, err
	}
	return got, nil
}

// errRestart: the server ignored Range and sent the whole file; the .incomplete file
// was emptied and the transfer starts again from byte 0.
var errRestart = errors.New("range ignored")

// getOnce GETs from offset have to the end, appending to f. It returns the file's
// length afterwards and, when the response tells it, the file's total size. A server
// that ignores Range (200) restarts the file from byte 0, as huggingface_hub does.
func (s *Settings) getOnce(ctx context.Context, f *os.File, m *fileMeta, have int64, bar *progressbar.ProgressBar) (int64, int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := s.ReadTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	watchdog := time.AfterFunc(timeout, func() { cancel(errStalled) })
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.location, nil)
	if err != nil {
		return have, -1, err
	}
	req.Header = s.header(m.location)
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := s.client().Do(req)
	if err != nil {
		if context.Cause(ctx) == errStalled {
			err = errStalled
		}
		return have, -1, err
	}
	defer resp.Body.Close()
	restart := func() error {
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		if bar != nil {
			bar.Reset()
		}
		return err
	}
	if herr := statusError(resp); herr != nil {
		if herr.Status == http.StatusRequestedRangeNotSatisfiable && have > 0 {
			if err := restart(); err != nil {
				return have, -1, err
			}
			return 0, -1, errRestart
		}
		return have, -1, herr
	}
	total := int64(-1)
	switch {
	case have > 0 && resp.StatusCode == http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range") // bytes start-end/total
		var start int64 = -1
		if i := strings.IndexByte(cr, ' '); i >= 0 {
			rest := cr[i+1:]
			if j := strings.IndexByte(rest, '-'); j >= 0 {
				start, _ = strconv.ParseInt(rest[:j], 10, 64)
			}
			if j := strings.LastIndexByte(rest, '/'); j >= 0 {
				if t, err := strconv.ParseInt(rest[j+1:], 10, 64); err == nil {
					total = t
				}
			}
		}
		if start != have {
			return have, -1, fmt.Errorf("Content-Range %q does not start at byte %d", cr, have)
		}
	case resp.StatusCode == http.StatusOK:
		if have > 0 {
			if err := restart(); err != nil {
				return have, -1, err
			}
			have = 0
		}
		total = resp.ContentLength
	default:
		return have, -1, fmt.Errorf("GET %s: unexpected HTTP %d", m.location, resp.StatusCode)
	}
	n, err := io.Copy(writerWithBar(f, bar), &stallReader{resp.Body, watchdog, timeout})
	if err != nil && context.Cause(ctx) == errStalled {
		err = errStalled
	}
	return have + n, total, err
}

// errStalled: no bytes arrived for ReadTimeout (retried like a cut connection).
var errStalled = errors.New("transfer stalled")

// stallReader re-arms the watchdog on every read that brings bytes.
type stallReader struct {
	r       io.Reader
	t       *time.Timer
	timeout time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(s.timeout)
	}
	return n, err
}

func writerWithBar(f *os.File, bar *progressbar.ProgressBar) io.Writer {
	if bar == nil {
		return f
	}
	return io.MultiWriter(f, bar)
}

// bar is a byte progress bar on the Progress writer when it is a terminal.
func (s *Settings) bar(file string, size, have int64) *progressbar.ProgressBar {
	if s.Progress == nil || !s.Terminal {
		return nil
	}
	name := file
	if len(name) > 40 {
		name = "(…)" + name[len(name)-40:]
	}
	b := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(s.Progress),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionFullWidth(),
	)
	if have > 0 {
		b.Set64(have)
	}
	return b
}

// verify checks the downloaded file against its ETag: a 64-hex ETag is the sha256 of
// an LFS blob, a 40-hex one the git blob sha1 of a regular file; other ETags (not
// the Hub's) are checked by size only.
func verify(path string, m *fileMeta) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if m.size >= 0 && st.Size() != m.size {
		return fmt.Errorf("%w: %s has %d bytes, the Hub announced %d", ErrIntegrity, m.location, st.Size(), m.size)
	}
	var h hash.Hash
	algo := ""
	switch {
	case isHex(m.etag, 64):
		h, algo = sha256.New(), "sha256"
	case isHex(m.etag, 40):
		h, algo = sha1.New(), "git blob sha1"
		fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		return nil
	}
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(m.etag) {
		return fmt.Errorf("%w: %s of %s is %s, expected %s (its ETag); the download was discarded", ErrIntegrity, algo, m.location, got, m.etag)
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
