package cpu

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preftune/preftune/internal/goroutine"
)

// panicOnWorker panics in every chunk a worker goroutine (w > 0) runs; the caller's
// chunks (w = 0) are slow, so the workers get some.
type panicOnWorker struct{}

func (panicOnWorker) chunk(w, lo, hi int) {
	if w > 0 {
		panic("injected fault in a pool task")
	}
	time.Sleep(5 * time.Millisecond)
}

// TestPoolPanicReachesCaller: a panic in a pool task on a worker goroutine is re-raised
// on run's caller (where the command's guard makes it exit 1), not a process crash; the
// pool still works afterwards.
func TestPoolPanicReachesCaller(t *testing.T) {
	p := newPool(2)
	defer p.close()
	v := func() (v any) {
		defer func() { v = recover() }()
		p.run(16, 1, panicOnWorker{})
		return nil
	}()
	gp, ok := v.(*goroutine.Panic)
	if !ok {
		t.Fatalf("run's caller got %T %v, want a *goroutine.Panic", v, v)
	}
	if !strings.Contains(gp.Error(), "injected fault") || !strings.Contains(string(gp.Stack), "pool_panic_test.go") {
		t.Fatalf("panic %q, stack:\n%s", gp.Error(), gp.Stack)
	}
	var c countChunks
	p.run(64, 1, &c)
	if c.n.Load() != 64 {
		t.Fatalf("after the panic the pool ran %d of 64 items", c.n.Load())
	}
}

type countChunks struct{ n atomic.Int64 }

func (c *countChunks) chunk(_, lo, hi int) { c.n.Add(int64(hi - lo)) }
