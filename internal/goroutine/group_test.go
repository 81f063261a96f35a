package goroutine

import (
	"errors"
	"strings"
	"testing"
)

// TestWaitRepanics: a panic on a Go goroutine does not crash the test binary (it would
// without the group) and reaches the waiter with the panicking goroutine's stack.
func TestWaitRepanics(t *testing.T) {
	var g Group
	done := make(chan struct{})
	g.Go(func() { <-done })
	g.Go(func() {
		var s []int
		_ = s[3] // index out of range on another goroutine
	})
	close(done)
	got := func() (p *Panic) {
		defer func() {
			v := recover()
			if v == nil {
				t.Fatal("Wait returned without re-panicking")
			}
			var ok bool
			if p, ok = v.(*Panic); !ok {
				t.Fatalf("Wait panicked with %T, want *Panic", v)
			}
		}()
		g.Wait()
		return nil
	}()
	if !strings.Contains(got.Error(), "index out of range") {
		t.Fatalf("panic value %q", got.Error())
	}
	if !strings.Contains(string(got.Stack), "group_test.go") {
		t.Fatalf("stack does not show the panicking goroutine:\n%s", got.Stack)
	}
	var re interface{ RuntimeError() }
	if !errors.As(got, &re) {
		t.Fatalf("Unwrap does not give the runtime error")
	}
	g.Wait() // the panic was handed over once: a second Wait is quiet
}

func TestWaitQuiet(t *testing.T) {
	var g Group
	n := 0
	g.Go(func() { n++ })
	g.Wait()
	if n != 1 {
		t.Fatalf("n = %d", n)
	}
}

// TestRanges: every index of [0, n) is visited exactly once for any part count.
func TestRanges(t *testing.T) {
	for _, tc := range []struct{ n, parts int }{{0, 4}, {1, 4}, {7, 1}, {7, 3}, {10, 4}, {1000, 7}, {5, 9}} {
		seen := make([]int32, tc.n)
		Ranges(tc.n, tc.parts, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++ // ranges are disjoint: no two goroutines touch one index
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n %d parts %d: index %d visited %d times", tc.n, tc.parts, i, c)
			}
		}
	}
}
