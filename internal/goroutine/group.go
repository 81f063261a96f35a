package goroutine

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// Panic is a panic caught on another goroutine: its value and that goroutine's stack.
// Wait re-panics with a *Panic; a recover that finds one can report Stack.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("%v", p.Value) }

// Unwrap returns the panic value when it is an error (a runtime error, say).
func (p *Panic) Unwrap() error {
	if err, ok := p.Value.(error); ok {
		return err
	}
	return nil
}

// Group is a WaitGroup whose goroutines' panics reach the waiter. The zero value is ready.
type Group struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	first *Panic
}

// Go runs f on a new goroutine.
func (g *Group) Go(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer g.Recover()
		f()
	}()
}

// Recover, deferred at the top of a goroutine the group tracks some other way (a
// long-lived worker), keeps a panic of that goroutine for the next Wait or Check.
func (g *Group) Recover() {
	if v := recover(); v != nil {
		g.keep(v)
	}
}

func (g *Group) keep(v any) {
	p, ok := v.(*Panic)
	if !ok {
		p = &Panic{Value: v, Stack: debug.Stack()}
	}
	g.mu.Lock()
	if g.first == nil {
		g.first = p
	}
	g.mu.Unlock()
}

// Wait waits for the goroutines started by Go, then re-panics on the caller with the
// first panic among them, if any.
func (g *Group) Wait() {
	g.wg.Wait()
	g.Check()
}

// Check re-panics on the caller with the first panic kept so far (and forgets it).
func (g *Group) Check() {
	g.mu.Lock()
	p := g.first
	g.first = nil
	g.mu.Unlock()
	if p != nil {
		panic(p)
	}
}

// Ranges calls f over [0, n) cut into up to parts contiguous ranges, each on its own
// goroutine (on the caller when parts ≤ 1), and waits; a panic in any range is
// re-raised on the caller as a *Panic.
func Ranges(n, parts int, f func(lo, hi int)) {
	if parts <= 1 || n <= 1 {
		f(0, n)
		return
	}
	var g Group
	per := (n + parts - 1) / parts
	for lo := 0; lo < n; lo += per {
		hi := min(n, lo+per)
		g.Go(func() { f(lo, hi) })
	}
	g.Wait()
}
