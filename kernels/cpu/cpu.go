package cpu

import (
	"fmt"
	"runtime"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/cpu/openblas"
	"github.com/preftune/preftune/kernels/cpu/vec"
)

// Backend is the CPU implementation of kernels.Backend. Create it with New;
// it is not safe for concurrent use (each op is parallel inside).
type Backend struct {
	threads int
	pool    *pool
	blas    bool   // GEMM through OpenBLAS
	name    string // description for Name
	// blasSplit: OpenBLAS runs single-threaded and Sgemm splits large products
	// into row or column panels run by the pool's workers, so one set of
	// threads (the pool) does all the work; false: OpenBLAS uses its own
	// threads (Options.BLASThreads > 1).
	blasSplit bool
	// vec: element-wise loops in C (package vec, vectorised by GCC) instead of Go
	vec bool

	gemmPack    []float32 // pure-Go GEMM: packed transposed panel [gemmKC, gemmNC]
	gemmPartial []float32 // k-split GEMM: per-part partial C's, grown once
	partial     []float64 // per-worker partial sums
	segSum      []float64 // SegmentSum accumulators

	// attention scratch, per worker: [attnQB, T] ×2, grown on first use of a larger T
	attnS, attnDP [][]float32
	attnT         int     // T the scratch holds
	attnK0        []int32 // first visible key per (row, query block)

	lp loops // arguments of the parallel loops (see chunker)

	gen genState // generation kernels (cached.go)
}

// loops holds one argument struct per parallel loop. A kernel fills its
// struct and passes a pointer to the pool, so no call allocates.
type loops struct {
	gemmScale  gemmScale
	gemmPack   gemmPack
	gemmTiles  gemmTiles
	biasAdd    biasAdd
	biasGrad   biasGrad
	embed      embed
	embedGrad  embedScatter
	rmsFwd     rmsFwd
	rmsBwd     rmsBwd
	rmsBwdW    rmsBwdW
	rope       ropeLoop
	swiglu     swiglu
	swigluBwd  swigluBwd
	elem       elem
	lsmFwd     lsmFwd
	lsmBwd     lsmBwd
	adamw      adamw
	sgd        sgd
	gemmSplit  gemmSplit
	gemmSplitK gemmSplitK
	swigluRows swigluRows
	attnFwd    attnFwd
	attnBwd    attnBwd
	dropout    dropoutLoop
}

// Options configure NewWithOptions.
type Options struct {
	// Threads is the number of worker threads (≤ 0: runtime.GOMAXPROCS(0)).
	Threads int
	// BLASThreads > 1 lets OpenBLAS run each GEMM on its own BLASThreads
	// threads instead of splitting GEMMs over the pool's workers (the default,
	// 0 or 1, with OpenBLAS single-threaded). OpenBLAS's idle threads spin
	// while Go kernels run, so two thread pools fight over the cores; with the
	// split only the pool's workers ever run. Also PREFTUNE_BLAS_THREADS.
	BLASThreads int
	// NoVec keeps the element-wise loops (log-softmax, SwiGLU, attention
	// probabilities, AdamW) in Go instead of package vec's C. Also PREFTUNE_NOVEC=1.
	NoVec bool
}

var _ kernels.Backend = (*Backend)(nil)

// New returns a CPU backend with threads workers (threads ≤ 0 means
// runtime.GOMAXPROCS(0)). OpenBLAS, when it loads, is given the same thread
// count: Go kernels and OpenBLAS calls never overlap, so together they use
// threads cores. Set PREFTUNE_NOBLAS=1 to force the pure-Go GEMM.
func New(threads int) *Backend {
	return NewWithOptions(Options{Threads: threads})
}

// NewWithOptions returns a CPU backend configured by o (see Options).
func NewWithOptions(o Options) *Backend {
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if o.BLASThreads == 0 {
		o.BLASThreads = blasThreadsEnv()
	}
	be := &Backend{
		threads:  threads,
		pool:     newPool(threads),
		gemmPack: make([]float32, gemmKC*gemmNC),
		partial:  make([]float64, threads),
		attnS:    make([][]float32, threads),
		attnDP:   make([][]float32, threads),
		vec:      vec.Available && !o.NoVec && !noVecEnv(),
	}
	gemm := "pure-Go GEMM"
	if !noBlasEnv() {
		bt, split := 1, true
		if o.BLASThreads > 1 {
			bt, split = o.BLASThreads, false
		}
		if info, err := openblas.Load(bt); err == nil {
			be.blas, be.blasSplit = true, split
			gemm = info
			if split {
				gemm += ", single-threaded, GEMMs split over the workers"
			} else {
				gemm += fmt.Sprintf(", %d OpenBLAS threads", bt)
			}
		} else {
			gemm += " (" + err.Error() + ")"
		}
	}
	loops := "Go loops"
	if be.vec {
		loops = "C loops"
	}
	be.name = fmt.Sprintf("cpu (%s, %s, %d threads)", gemm, loops, threads)
	return be
}

// newGo returns a backend that never uses OpenBLAS (tests compare the two).
func newGo(threads int) *Backend {
	be := New(threads)
	be.blas, be.vec = false, false
	be.name = fmt.Sprintf("cpu (pure-Go GEMM, Go loops, %d threads)", be.threads)
	return be
}

// Name describes the backend and its GEMM.
func (be *Backend) Name() string { return be.name }

// Threads is the number of worker threads.
func (be *Backend) Threads() int { return be.threads }

// UsesOpenBLAS reports whether Sgemm goes to OpenBLAS.
func (be *Backend) UsesOpenBLAS() bool { return be.blas }

// Alloc returns a zeroed float32 buffer of n elements.
func (be *Backend) Alloc(n int) []float32 { return make([]float32, n) }

// AllocInt32 returns a zeroed int32 buffer of n elements.
func (be *Backend) AllocInt32(n int) []int32 { return make([]int32, n) }

// Sync has nothing to wait for (CPU ops complete before they return) and no
// asynchronous failure to report.
func (be *Backend) Sync() error { return nil }

// Close stops the worker goroutines. The backend must not be used after.
func (be *Backend) Close() {
	be.pool.close()
	be.attnS, be.attnDP, be.gemmPack = nil, nil, nil
	be.attnT = 0
}

func init() {
	kernels.Register("cpu", func(inner string, o kernels.OpenOptions) (kernels.Backend, error) {
		if inner != "" {
			return nil, fmt.Errorf("the cpu backend wraps no other (got %q)", inner)
		}
		return New(o.Threads), nil
	})
}
