package main

import (
	"fmt"
	"github.com/preftune/preftune/internal/goroutine"
	"os"
	"runtime/debug"
	"strings"

	"github.com/preftune/preftune/preflight"
)

// internalError is a Go panic caught at the top of a command: exit 1 with one line,
// never a goroutine dump. PREFTUNE_DEBUG=1 adds the stack (for bug reports).
type internalError struct {
	value any
	stack []byte
}

func (e *internalError) Error() string {
	msg := fmt.Sprintf("internal error: %v (please report it; PREFTUNE_DEBUG=1 prints the stack)", e.value)
	if os.Getenv("PREFTUNE_DEBUG") != "" {
		msg += "\n" + strings.TrimRight(string(e.stack), "\n")
	}
	return msg
}

// guarded runs f and turns a panic in it (the command's goroutine) into an *internalError.
func guarded(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if p, ok := v.(*goroutine.Panic); ok { // raised on a worker goroutine
				err = &internalError{value: p.Value, stack: p.Stack}
				return
			}
			err = &internalError{value: v, stack: debug.Stack()}
		}
	}()
	return f()
}

// limitMemory gives the Go runtime a soft memory limit at what the machine or its cgroup
// allows (unless GOMEMLIMIT is set), so the collector works harder before the kernel's
// OOM killer would act. The preflight's estimates keep runs within it.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if lim, ok := preflight.HardLimit(); ok {
		debug.SetMemoryLimit(lim)
	}
}
