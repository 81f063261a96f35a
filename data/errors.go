package data

import (
	"errors"
	"fmt"
	"strconv"
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

// RowError is a problem with one row (or one field of one row) of a dataset file.
// Its message reads "file:row:field: message"; the field is left out when the
// problem is with the whole row.
type RowError struct {
	Source string // file
	Row    int    // 1-based row (line number in JSON Lines); 0 when not tied to a row
	Field  string // field (column) name as it appears in the file, with a path inside it
	Msg    string // what is wrong, in words
	Err    error  // one of the sentinel errors
}

func (e *RowError) Error() string {
	s := where(e.Source, e.Row)
	if e.Field != "" {
		s += ":" + e.Field
	}
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return s + ": " + msg
}

func (e *RowError) Unwrap() error { return e.Err }

func where(source string, row int) string {
	if row <= 0 {
		return source
	}
	return source + ":" + strconv.Itoa(row)
}

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
