package hub

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client is the Settings' HTTP client, or one with connect/header timeouts (no total
// timeout: a large blob streams as long as bytes arrive).
func (s *Settings) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	tr.DisableCompression = true
	return &http.Client{Transport: tr}
}

// headers are sent with every request to the endpoint's host.
func (s *Settings) header(target string) http.Header {
	h := http.Header{}
	h.Set("User-Agent", "preftune; hf_hub-compatible")
	h.Set("Accept-Encoding", "identity") // sizes and Range offsets are of the stored bytes
	if s.Token != "" && sameHost(target, s.Endpoint) {
		h.Set("Authorization", "Bearer "+s.Token)
	}
	return h
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host
}

// netDown says whether err means the Hub cannot be reached at all (no retry: fall
// back to the cache at once, as huggingface_hub does on ConnectError).
func netDown(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryable says whether a failed attempt may succeed when repeated.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var herr *HTTPError
	if errors.As(err, &herr) {
		return herr.transient()
	}
	return !netDown(err)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before retry n (0-based): Backoff·2ⁿ, at most 8 s.
func (s *Settings) backoff(n int) time.Duration {
	if s.Backoff <= 0 {
		return 0
	}
	d := s.Backoff << n
	if d > 8*time.Second || d <= 0 {
		d = 8 * time.Second
	}
	return d
}

// statusError returns the HTTPError of a non-2xx/3xx response (the body is drained).
func statusError(resp *http.Response) *HTTPError {
	if resp.StatusCode < 400 {
		return nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	msg := resp.Header.Get("X-Error-Message")
	return &HTTPError{Method: resp.Request.Method, URL: resp.Request.URL.String(), Status: resp.StatusCode,
		Code: resp.Header.Get("X-Error-Code"), Message: msg}
}

// request makes one metadata request (GET for the API, HEAD for a resolve URL) with
// retries on transient failures. HEAD does not follow absolute redirects (the LFS
// redirect to the CDN is what it reports), only relative ones (a renamed repo), as
// huggingface_hub's _httpx_follow_relative_redirects.
func (s *Settings) request(ctx context.Context, method, target string) (*http.Response, error) {
	cl := *s.client()
	if method == http.MethodHead {
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	var last error
	for attempt := 0; ; attempt++ {
		resp, err := s.requestOnce(ctx, &cl, method, target)
		if err == nil {
			return resp, nil
		}
		last = err
		if !retryable(err) || attempt >= s.Retries {
			return nil, last
		}
		if err := sleep(ctx, s.backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

func (s *Settings) requestOnce(ctx context.Context, cl *http.Client, method, target string) (*http.Response, error) {
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, method, target, nil)
		if err != nil {
			return nil, err
		}
		req.Header = s.header(target)
		resp, err := cl.Do(req)
		if err != nil {
			return nil, err
		}
		if herr := statusError(resp); herr != nil {
			resp.Body.Close()
			return nil, herr
		}
		if method == http.MethodHead && resp.StatusCode >= 300 && resp.StatusCode < 400 && hops < 10 {
			loc := resp.Header.Get("Location")
			if u, err := url.Parse(loc); err == nil && loc != "" && u.Host == "" && !strings.HasPrefix(loc, "//") {
				resp.Body.Close()
				target = resp.Request.URL.ResolveReference(u).String()
				continue
			}
		}
		return resp, nil
	}
}
