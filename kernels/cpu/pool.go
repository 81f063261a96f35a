package cpu

import (
	"sync"
	"sync/atomic"

	"github.com/preftune/preftune/internal/goroutine"
)

// pool is a fixed set of worker goroutines that run parallel-for loops.
// Worker 0 is the calling goroutine. A loop is cut into chunks claimed
// dynamically through an atomic counter, so uneven rows balance themselves.
// run must not be called from inside a running loop (no nesting).
type pool struct {
	workers int
	start   []chan struct{} // one per worker goroutine 1..workers-1
	wg      sync.WaitGroup
	panics  goroutine.Group // a worker's panic, re-raised on run's caller

	// the loop being run
	fn    chunker
	n     int
	chunk int
	next  atomic.Int64
}

func newPool(workers int) *pool {
	p := &pool{workers: workers, start: make([]chan struct{}, workers)}
	for w := 1; w < workers; w++ {
		p.start[w] = make(chan struct{}, 1)
		go p.worker(w)
	}
	return p
}

func (p *pool) worker(w int) {
	for range p.start[w] {
		p.workerLoop(w)
		p.wg.Done()
	}
}

// workerLoop is loop on a worker goroutine: a panic there is kept for run's caller
// (a panic on a worker goroutine would otherwise end the process past every recover).
func (p *pool) workerLoop(w int) {
	defer p.panics.Recover()
	p.loop(w)
}

func (p *pool) close() {
	for w := 1; w < p.workers; w++ {
		close(p.start[w])
	}
	p.workers = 1
}

func (p *pool) loop(w int) {
	n, chunk, fn := p.n, p.chunk, p.fn
	for {
		lo := int(p.next.Add(int64(chunk))) - chunk
		if lo >= n {
			return
		}
		fn.chunk(w, lo, min(lo+chunk, n))
	}
}

// chunker is one parallel loop body: chunk(w, lo, hi) processes items
// [lo,hi) on worker w. Kernels keep their chunker structs (loop arguments) in
// the Backend and pass pointers to them, so starting a loop allocates
// nothing (a closure handed to other goroutines would escape to the heap).
type chunker interface {
	chunk(w, lo, hi int)
}

// run calls fn.chunk(w, lo, hi) over disjoint ranges covering [0,n), each of
// at least grain items (except the last), on up to p.workers workers; w is
// the worker index in [0,p.workers), usable to index per-worker scratch.
func (p *pool) run(n, grain int, fn chunker) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	if p.workers <= 1 || n <= grain {
		fn.chunk(0, 0, n)
		return
	}
	// about 4 chunks per worker for balance, never below grain
	chunk := max(grain, (n+4*p.workers-1)/(4*p.workers))
	nchunks := (n + chunk - 1) / chunk
	nw := min(p.workers, nchunks)
	p.fn, p.n, p.chunk = fn, n, chunk
	p.next.Store(0)
	p.wg.Add(nw - 1)
	for w := 1; w < nw; w++ {
		p.start[w] <- struct{}{}
	}
	p.loop(0)
	p.wg.Wait()
	p.fn = nil
	p.panics.Check()
}
