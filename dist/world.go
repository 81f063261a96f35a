package dist

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// mpiLib is the loaded library's calls (mpi_cgo.go).
type mpiLib interface {
	init() (rank, size int, err error)
	sumF32([]float32) error
	sumF64([]float64) error
	sumI64([]int64) error
	bcast(b []byte, root int) error
	barrier() error
	abort(code int)
	finalize() error
}

// Wait classes a collective by how long a healthy peer may keep it waiting.
type Wait int

const (
	// Step: a training or evaluation step's collective (peers are at most a step apart).
	Step Wait = iota
	// IO: a collective that waits for rank 0's file I/O (setup, checkpoint, final save).
	IO
)

// World is the job's process group (MPI_COMM_WORLD). Its methods are called from one
// goroutine at a time (MPI_THREAD_SERIALIZED).
type World struct {
	Env
	lib  mpiLib
	stop chan struct{}
	once sync.Once

	// the collective in flight, for the watchdog: start (unix ns, 0 = none), limit, name
	start atomic.Int64
	limit atomic.Int64
	name  atomic.Value

	stepLimit time.Duration
	// the end of the last Step collective, and the longest time between two ends
	lastStepEnd time.Time
	maxPeriod   time.Duration
	// CommTime is the wall time spent inside collectives since Init.
	CommTime time.Duration
}

// Init opens OpenMPI, initialises it (MPI_Init_thread, MPI_THREAD_SERIALIZED) and
// starts the collective watchdog. Call Finalize (every rank, same point) or Abort at
// the end.
func Init() (*World, error) {
	env, _ := FromEnv()
	lib, err := loadMPI()
	if err != nil {
		return nil, fmt.Errorf("data-parallel run (%s set by the launcher): %w", env.Launcher, err)
	}
	// OpenMPI traps SIGSEGV/SIGBUS/SIGFPE/SIGILL to print its own stack trace by
	// default; the Go runtime needs those signals itself (nil-pointer checks).
	if _, set := os.LookupEnv("OMPI_MCA_opal_signal"); !set {
		os.Setenv("OMPI_MCA_opal_signal", "")
	}
	// A rank waiting in a collective (for rank 0's checkpoint, say) yields its core
	// instead of spinning: a step has a few collectives, so their latency is immaterial.
	if _, set := os.LookupEnv("OMPI_MCA_mpi_yield_when_idle"); !set {
		os.Setenv("OMPI_MCA_mpi_yield_when_idle", "1")
	}
	rank, size, err := lib.init()
	if err != nil {
		return nil, fmt.Errorf("data-parallel run: %w", err)
	}
	env.Rank, env.Size = rank, size
	// under srun --mpi=pmix OpenMPI sets OMPI_COMM_WORLD_LOCAL_* only in MPI_Init
	if e, ok := FromEnv(); ok && e.Launcher == "OMPI_COMM_WORLD_*" {
		env.LocalRank, env.LocalSize = e.LocalRank, e.LocalSize
	}
	w := &World{Env: env, lib: lib, stop: make(chan struct{}), stepLimit: 60 * time.Second}
	if v := os.Getenv("PREFTUNE_DIST_TIMEOUT"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || !(s > 0) {
			return nil, fmt.Errorf("PREFTUNE_DIST_TIMEOUT=%q: want a number of seconds > 0", v)
		}
		w.stepLimit = time.Duration(s * float64(time.Second))
	}
	w.name.Store("")
	go w.watchdog()
	return w, nil
}

// watchdog aborts the job when a collective waits longer than its limit.
func (w *World) watchdog() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		s := w.start.Load()
		if s == 0 {
			continue
		}
		waited := time.Since(time.Unix(0, s))
		if waited > time.Duration(w.limit.Load()) {
			fmt.Fprintf(os.Stderr, "preftune: rank %d of %d: %s has waited %.0f s for the other ranks (limit %.0f s, PREFTUNE_DIST_TIMEOUT): a rank died or hangs; aborting the job\n",
				w.Rank, w.Size, w.name.Load(), waited.Seconds(), time.Duration(w.limit.Load()).Seconds())
			go func() {
				time.Sleep(5 * time.Second)
				os.Exit(1)
			}()
			w.lib.abort(1)
			os.Exit(1)
		}
	}
}

// collective runs f as the named collective under the watchdog and the comm clock.
// A Step collective may wait PREFTUNE_DIST_TIMEOUT (default 60 s) or three times the
// longest period between two Step collectives seen so far, whichever is longer (a
// peer is at most a step behind; steps of a large model can be long); before any
// period is known, and for IO collectives, ten times PREFTUNE_DIST_TIMEOUT.
func (w *World) collective(name string, wait Wait, f func() error) error {
	lim := 10 * w.stepLimit
	if wait == Step && w.maxPeriod > 0 {
		lim = max(w.stepLimit, 3*w.maxPeriod)
	}
	w.name.Store(name)
	w.limit.Store(int64(lim))
	t0 := time.Now()
	w.start.Store(t0.UnixNano())
	err := f()
	w.start.Store(0)
	end := time.Now()
	w.CommTime += end.Sub(t0)
	if wait == Step {
		if !w.lastStepEnd.IsZero() {
			w.maxPeriod = max(w.maxPeriod, end.Sub(w.lastStepEnd))
		}
		w.lastStepEnd = end
	}
	if err != nil {
		return fmt.Errorf("rank %d: %s: %w", w.Rank, name, err)
	}
	return nil
}

// SumF32 replaces b, element-wise, with its sum over all ranks (MPI_Allreduce in place).
func (w *World) SumF32(b []float32, wait Wait) error {
	return w.collective("all-reduce of "+strconv.Itoa(len(b))+" float32", wait, func() error { return w.lib.sumF32(b) })
}

// SumF64 replaces b with its sum over all ranks.
func (w *World) SumF64(b []float64, wait Wait) error {
	return w.collective("all-reduce of "+strconv.Itoa(len(b))+" float64", wait, func() error { return w.lib.sumF64(b) })
}

// SumI64 replaces b with its sum over all ranks.
func (w *World) SumI64(b []int64, wait Wait) error {
	return w.collective("all-reduce of "+strconv.Itoa(len(b))+" int64", wait, func() error { return w.lib.sumI64(b) })
}

// Bcast sends root's bytes to every rank: on root b is sent, elsewhere the result is
// root's b (any length).
func (w *World) Bcast(b []byte, root int, wait Wait) ([]byte, error) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	err := w.collective("broadcast from rank "+strconv.Itoa(root), wait, func() error {
		if err := w.lib.bcast(n[:], root); err != nil {
			return err
		}
		if w.Rank != root {
			b = make([]byte, binary.LittleEndian.Uint64(n[:]))
		}
		return w.lib.bcast(b, root)
	})
	return b, err
}

// Barrier waits for every rank.
func (w *World) Barrier(wait Wait) error {
	return w.collective("barrier", wait, w.lib.barrier)
}

// Abort ends every rank of the job with code (MPI_Abort): for an error the other
// ranks have not agreed on, where waiting for them in Finalize could hang.
func (w *World) Abort(code int) {
	w.once.Do(func() { close(w.stop) })
	w.lib.abort(code)
	os.Exit(code)
}

// Finalize ends MPI on this rank (every rank calls it at the same point).
func (w *World) Finalize() error {
	w.once.Do(func() { close(w.stop) })
	w.start.Store(0)
	return w.lib.finalize()
}

// AllReduceMean replaces grads with their element-wise mean over all ranks (the sum,
// then ÷ size): train.GradReducer.
func (w *World) AllReduceMean(grads []float32) error {
	if err := w.SumF32(grads, Step); err != nil {
		return err
	}
	if w.Size > 1 {
		inv := 1 / float32(w.Size)
		for i := range grads {
			grads[i] *= inv
		}
	}
	return nil
}
