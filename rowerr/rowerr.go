package rowerr

import "strconv"

// Error is a problem with one row (or one field of one row) of an input.
type Error struct {
	Source string // file (or another name for the input); "" when the rows are not from a file
	Row    int    // 1-based row (line number in JSON Lines, element of an array, group of a batch); 0 when not tied to a row
	Field  string // field (column) as it appears in the input, with a path inside it; "" for the whole row
	Msg    string // what is wrong, in words; when empty, Err's text
	Err    error  // the cause or a sentinel kind, for errors.Is / errors.As
}

func (e *Error) Error() string {
	s := Where(e.Source, e.Row)
	if e.Field != "" {
		if s != "" {
			s += ":"
		}
		s += e.Field
	}
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if s == "" {
		return msg
	}
	return s + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// Where is "source:row", "source" when row is 0, and "row N" when source is empty.
func Where(source string, row int) string {
	switch {
	case row <= 0:
		return source
	case source == "":
		return "row " + strconv.Itoa(row)
	}
	return source + ":" + strconv.Itoa(row)
}
