package hub

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub huggingface_hub talks to when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the branch resolved when no revision is given.
const DefaultRevision = "main"

// Settings say where the cache is, which Hub to ask and how.
type Settings struct {
	// CacheDir is the hub cache root (holding models--org--name/ folders).
	CacheDir string
	// Endpoint is the Hub's base URL, without a trailing slash.
	Endpoint string
	// Token, when set, is sent as "Authorization: Bearer" to the endpoint's host.
	Token string
	// Offline uses the cache only (HF_HUB_OFFLINE=1).
	Offline bool
	// Progress, when set, receives a progress bar per download if Terminal, else
	// nothing per download (one summary line per resolved repo).
	Progress io.Writer
	Terminal bool
	// Client makes the requests (nil: a client with timeouts, redirects followed).
	Client *http.Client
	// Retries is how many times a failed request or a cut transfer is retried
	// (with exponential backoff from Backoff); 5xx, 429, 408 and broken connections
	// are retried, other HTTP errors are not.
	Retries int
	Backoff time.Duration
	// ReadTimeout drops a transfer that receives nothing for this long (then it is
	// retried from where it stopped); 0 means 60 s.
	ReadTimeout time.Duration
}

// FromEnv reads the settings huggingface_hub reads: HF_HUB_CACHE (or the legacy
// HUGGINGFACE_HUB_CACHE), HF_HOME (else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface), HF_ENDPOINT, HF_TOKEN (else the file $HF_TOKEN_PATH, else
// $HF_HOME/token) and HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE): 1, ON, YES or TRUE.
func FromEnv() Settings {
	home := expand(os.Getenv("HF_HOME"))
	if home == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			h, _ := os.UserHomeDir()
			base = filepath.Join(h, ".cache")
		}
		home = filepath.Join(expand(base), "huggingface")
	}
	cache := expand(os.Getenv("HF_HUB_CACHE"))
	if cache == "" {
		cache = expand(os.Getenv("HUGGINGFACE_HUB_CACHE"))
	}
	if cache == "" {
		cache = filepath.Join(home, "hub")
	}
	endpoint := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	token := strings.TrimSpace(os.Getenv("HF_TOKEN"))
	if token == "" {
		path := expand(os.Getenv("HF_TOKEN_PATH"))
		if path == "" {
			path = filepath.Join(home, "token")
		}
		if raw, err := os.ReadFile(path); err == nil {
			token = strings.TrimSpace(string(raw))
		}
	}
	offline := os.Getenv("HF_HUB_OFFLINE")
	if offline == "" {
		offline = os.Getenv("TRANSFORMERS_OFFLINE")
	}
	return Settings{CacheDir: cache, Endpoint: endpoint, Token: token, Offline: isTrue(offline),
		Retries: 4, Backoff: 500 * time.Millisecond}
}

// isTrue is huggingface_hub's _is_true: 1, ON, YES or TRUE in any case.
func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// expand does os.path.expanduser and expandvars.
func expand(p string) string {
	if p == "" {
		return ""
	}
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(h, p[1:])
		}
	}
	return p
}
