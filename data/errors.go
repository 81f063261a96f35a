package data

import (
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
)

// Sentinel errors: every [RowError] wraps one of them, so callers can test the kind
// of problem with errors.Is.
var (
	ErrMissingField  = errors.New("missing field")
	ErrWrongType     = errors.New("wrong type")
	ErrEmpty         = errors.New("empty completion")
	ErrIdentical     = errors.New("chosen and rejected are identical")
	ErrBadRole       = errors.New("bad role")
	ErrRoleOrder     = errors.New("roles do not alternate")
	ErrInvalidJSON   = errors.New("invalid JSON")
	ErrUnknownFormat = errors.New("unknown format")
	ErrInvalidValue  = errors.New("invalid value")
	ErrDropped       = errors.New("dropped") // a row the source format's own loader skips
)

// RowError is a problem with one row (or one field of one row) of a dataset file:
// the project's one row-error type (package rowerr), whose Err is one of the
// sentinel errors above.
type RowError = rowerr.Error

func where(source string, row int) string { return rowerr.Where(source, row) }

// fieldErr builds a RowError with a formatted message.
func fieldErr(kind error, field, format string, args ...any) *RowError {
	return &RowError{Field: field, Err: kind, Msg: fmt.Sprintf(format, args...)}
}

// Severity grades an [Issue].
type Severity int

const (
	// Invalid: the row cannot be used. Under PolicyStrict loading stops.
	Invalid Severity = iota
	// Dropped: the row is skipped, as the format's own loader (LLaMA-Factory) skips it.
	Dropped
	// Warning: the row is kept, but looks wrong (chosen == rejected, empty prompt).
	Warning
)

func (s Severity) String() string {
	switch s {
	case Invalid:
		return "invalid"
	case Dropped:
		return "dropped"
	case Warning:
		return "warning"
	}
	return "unknown"
}

// Issue is one recorded problem.
type Issue struct {
	Severity Severity
	*RowError
}
