package chattemplate

import (
	"fmt"
	"strings"
	"time"
)

// Bounds on what one render may build, beyond the step and output limits in
// eval.go. Python would let a template allocate until the machine runs out of
// memory; these turn such a template into a *TemplateError naming its line:
//
//   - a string built by ~, +, %, join, replace, indent or printing (str()/repr()/
//     tojson of a container) is at most maxStrLen bytes;
//   - a list or tuple built by + or * is at most maxSeqLen items;
//   - all strings and lists built by ~, + and * together are at most maxBuilt
//     bytes (list items count 16 bytes), which bounds the time and memory of a
//     loop that keeps concatenating;
//   - a render runs at most RenderOptions.Timeout (DefaultTimeout when zero) of
//     wall time, checked every few thousand steps.
var maxStrLen = maxOutputLen

const (
	// DefaultTimeout is the render watchdog when RenderOptions.Timeout is zero.
	DefaultTimeout = 30 * time.Second
	// clockEvery is how many steps pass between two looks at the clock.
	clockEvery = 1024
)

// maxBuilt is the bound on bytes built by ~, + and * in one render (a variable
// so that tests can lower it).
var maxBuilt int64 = 1 << 30

// watchdogClock is the clock of the wall-time watchdog (tests replace it).
var watchdogClock = time.Now

// limitPanic carries a size-limit error out of deep printers (repr, tojson)
// that have no error result; RenderValues recovers it.
type limitPanic struct{ msg string }

func panicTooLarge(what string) {
	panic(limitPanic{msg: fmt.Sprintf("%s exceeds %d bytes", what, maxStrLen)})
}

// checkStrLen rejects a string result of n bytes.
func checkStrLen(n int) error {
	if n > maxStrLen || n < 0 {
		return errorf("string result too large (%d bytes; the limit is %d)", n, maxStrLen)
	}
	return nil
}

// charge accounts a value built by ~, + or * against maxBuilt.
func (r *renderer) charge(v any) error {
	n := 0
	switch x := v.(type) {
	case string:
		n = len(x)
	case []any:
		n = 16 * len(x)
	case Tuple:
		n = 16 * len(x)
	}
	r.built += int64(n)
	if r.built > maxBuilt {
		return errorf("template built more than %d bytes of strings and lists with ~, + and * (runaway concatenation?)", maxBuilt)
	}
	return nil
}

// checkClock is the wall-time watchdog.
func (r *renderer) checkClock() error {
	if r.deadline.IsZero() || r.steps%clockEvery != 0 {
		return nil
	}
	if watchdogClock().After(r.deadline) {
		return errorf("template rendering exceeded the time limit of %s", r.timeout)
	}
	return nil
}

// limitedWriter guards a strings.Builder used by a printer.
func checkBuilder(b *strings.Builder, what string) {
	if b.Len() > maxStrLen {
		panicTooLarge(what)
	}
}

// checkJoin rejects strings.Join(parts, sep) when its result would be too large.
func checkJoin(parts []string, sep string) error {
	n := 0
	for i, p := range parts {
		n += len(p)
		if i > 0 {
			n += len(sep)
		}
		if n > maxStrLen {
			return checkStrLen(n)
		}
	}
	return nil
}

// checkReplace rejects strings.Replace(s, old, new, n) when its result would
// be too large.
func checkReplace(s, old, new string, n int) error {
	if len(new) <= len(old) {
		return nil
	}
	m := strings.Count(s, old) // len(s)+1 for an empty old
	if n >= 0 && n < m {
		m = n
	}
	if m > 0 && (len(new)-len(old)) > (maxStrLen-len(s))/m {
		return errorf("string result too large (replace would exceed %d bytes)", maxStrLen)
	}
	return nil
}
