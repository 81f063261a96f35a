package train

// WriteError wraps a failure to write an output (the disk, not the input): callers
// report it as an internal failure.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }
