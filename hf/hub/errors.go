package hub

import (
	"errors"
	"fmt"
)

// Classes of resolution failures, for errors.Is.
var (
	// ErrAccess: the Hub refused (401/403, or a gated repo): a token is missing or lacks access.
	ErrAccess = errors.New("access denied")
	// ErrNotFound: no such repo, revision or file (404).
	ErrNotFound = errors.New("not found")
	// ErrNotCached: offline (HF_HUB_OFFLINE or the network is down) and the cache lacks it.
	ErrNotCached = errors.New("not in the cache")
	// ErrIntegrity: a downloaded blob does not match its ETag (sha256 or git sha1) or size.
	ErrIntegrity = errors.New("integrity check failed")
)

// Error is a failed resolution of one repo (and, when File is set, one of its files).
type Error struct {
	Repo     string
	Kind     Kind
	Revision string
	File     string
	// Class is one of ErrAccess, ErrNotFound, ErrNotCached, ErrIntegrity, or nil.
	Class error
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	what := fmt.Sprintf("hub %s %s", e.Kind, e.Repo)
	if e.Revision != "" {
		what += "@" + e.Revision
	}
	if e.File != "" {
		what += " file " + e.File
	}
	s := what + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() []error {
	var out []error
	if e.Class != nil {
		out = append(out, e.Class)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// HTTPError is an unexpected HTTP status from the Hub.
type HTTPError struct {
	Method, URL string
	Status      int
	// Code is the Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound,
	// GatedRepo), Message its X-Error-Message.
	Code, Message string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// transient says whether a request with this status is worth retrying.
func (e *HTTPError) transient() bool {
	return e.Status == 408 || e.Status == 429 || e.Status >= 500
}

// describe turns an HTTP failure into what the user should do.
func describe(base *Error, herr *HTTPError, haveToken bool) *Error {
	e := *base
	e.Err = herr
	switch {
	case herr.Status == 401 || herr.Status == 403 || herr.Code == "GatedRepo":
		e.Class = ErrAccess
		if haveToken {
			e.Msg = "access denied with the token given (HF_TOKEN or $HF_HOME/token): the repo is private or gated, or does not exist; use a token with access (and accept a gated repo's terms on its page)"
		} else {
			e.Msg = "access denied: the repo is private or gated, or does not exist; set HF_TOKEN to a Hugging Face token with access (or run huggingface-cli login)"
		}
	case herr.Status == 404:
		e.Class = ErrNotFound
		switch {
		case herr.Code == "RevisionNotFound":
			e.Msg = "no such revision " + e.Revision
		case herr.Code == "EntryNotFound" || (e.File != "" && herr.Code != "RepoNotFound"):
			e.Msg = "no such file in the repo at this revision"
		case herr.Code == "RepoNotFound" || e.File == "":
			e.Msg = "no such repo or revision on the Hub (a private repo also needs HF_TOKEN)"
		}
	default:
		e.Msg = "the Hub answered with an error"
	}
	return &e
}
