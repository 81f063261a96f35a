// Package check is a checking kernels.Backend: it wraps another backend,
// forwards every op to it, and verifies on the way that every buffer an op is
// given came from the backend's Alloc or AllocInt32 and has not been freed.
// On the CPU any Go slice works, so a model that passes a host slice (a
// make'd scratch, a batch's token ids) to a kernel runs fine there and faults
// on a device backend; run the model's tests on "check:cpu" to catch that
// without a device.
//
// Open it by name: kernels.Open("check:cpu", o) wraps the cpu backend, and
// "check" alone wraps kernels.DefaultName() (or "cpu" when that names check
// itself). The inner backend's package must be linked in (imported) for Open
// to find it. In code, Wrap(inner) gives the checker as a kernels.Backend and
// New(inner) the bare *Backend.
//
// # Rules
//
//   - Alloc/AllocInt32 record each buffer the inner returns: its base address
//     and capacity. A buffer overlapping a live one panics (an inner bug).
//   - Every other op checks every slice argument: a non-nil slice of non-zero
//     length must lie entirely, [SliceData, SliceData+len), within one live
//     recorded buffer of its element type; else the op panics with a message
//     naming the op, the argument and the address ("... is not within a live
//     buffer from Alloc ..."). Sub-slices of a buffer (rows, chunks, views)
//     pass. A non-nil zero-length slice touches no memory and passes (Alloc(0)
//     returns one). nil passes only where the interface allows it: bias,
//     gradients of Backward ops that accumulate (the "nil gradient = skip"
//     convention), SGDStep's buf, LogitStats' fields, parent of the shared
//     attention ops; elsewhere nil panics.
//   - Upload/UploadInt32's src is host memory and is not checked (dst is).
//   - Free/FreeInt32 take a live buffer: the slice Alloc returned or any
//     reslice of it that starts at its base (x[:k], x[:0]); the inner is given
//     the buffer as Alloc returned it. Any other slice — freed already (double
//     free), a sub-slice not at the base, foreign memory — panics. Free of a
//     nil or zero-capacity slice (what Alloc(0) returns) is forwarded and
//     otherwise ignored, like free(NULL).
//   - A buffer of the wrong element type (float32 data inside an AllocInt32
//     buffer, reinterpreted with unsafe) fails like foreign memory.
//
// Every method except Name and Threads is counted under its name (Counts),
// so a test can assert that a loop runs on the backend ("SegmentSum" called
// once per step) rather than on the host.
//
// The optional interfaces kernels.SharedPromptAttention, kernels.FusedSwiGLU,
// kernels.CachedAttention and kernels.TokenSampler are implemented by the value
// Wrap returns exactly when the inner implements them, so a model's type
// assertion sees the inner's capabilities. *Backend
// itself implements neither.
package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/preftune/preftune/kernels"
)

type elemKind uint8

const (
	kindF32 elemKind = iota
	kindI32
)

func (k elemKind) String() string {
	if k == kindI32 {
		return "buffer from AllocInt32"
	}
	return "buffer from Alloc"
}

// region is one live buffer: bytes [base, end) as the inner's Alloc returned it.
type region struct {
	base, end uintptr
	kind      elemKind
	f         []float32 // the buffer (kindF32), for Free; it also keeps the memory reachable
	i         []int32   // the buffer (kindI32)
}

// Backend is the checker around an inner backend. It is not safe for
// concurrent use (as every Backend), though its bookkeeping is locked.
type Backend struct {
	inner  kernels.Backend
	shared kernels.SharedPromptAttention // inner's, or nil
	fused  kernels.FusedSwiGLU           // inner's, or nil
	cached kernels.CachedAttention       // inner's, or nil
	sample kernels.TokenSampler          // inner's, or nil

	mu     sync.Mutex
	live   []region // sorted by base, disjoint
	counts map[string]int
}

var _ kernels.Backend = (*Backend)(nil)

// New returns a checker forwarding to inner. The *Backend implements none of
// the optional interfaces; use Wrap to get a value that has those inner has.
func New(inner kernels.Backend) *Backend {
	b := &Backend{inner: inner, counts: map[string]int{}}
	b.shared, _ = inner.(kernels.SharedPromptAttention)
	b.fused, _ = inner.(kernels.FusedSwiGLU)
	b.cached, _ = inner.(kernels.CachedAttention)
	b.sample, _ = inner.(kernels.TokenSampler)
	return b
}

// Wrap returns a checker forwarding to inner that implements each optional
// interface (kernels.SharedPromptAttention, FusedSwiGLU, CachedAttention,
// TokenSampler) exactly when inner does. Of recovers the *Backend (for Counts).
func Wrap(inner kernels.Backend) kernels.Backend {
	return wrap(New(inner))
}

// Of returns the checker behind be (a value from Wrap or New, or Open("check…")),
// or nil when be is not a checker.
func Of(be kernels.Backend) *Backend {
	if c, ok := be.(interface{ checker() *Backend }); ok {
		return c.checker()
	}
	return nil
}

// Inner returns the wrapped backend.
func (b *Backend) Inner() kernels.Backend { return b.inner }

// Counts returns a copy of the number of calls per method name ("Alloc",
// "LinearForward", …) since New or ResetCounts.
func (b *Backend) Counts() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.counts)
}

// ResetCounts sets every count to zero.
func (b *Backend) ResetCounts() {
	b.mu.Lock()
	clear(b.counts)
	b.mu.Unlock()
}

// Live returns the number of live (allocated, not freed) buffers.
func (b *Backend) Live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.live)
}

func (b *Backend) count(op string) {
	b.mu.Lock()
	b.counts[op]++
	b.mu.Unlock()
}

// search returns the index of the last live region with base ≤ p, or −1.
// Callers hold mu.
func (b *Backend) search(p uintptr) int {
	lo, hi := 0, len(b.live) // invariant: live[:lo] have base ≤ p, live[hi:] base > p
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.live[m].base <= p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

func (b *Backend) record(r region, op string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.search(r.base) + 1 // insert before live[i]
	if i > 0 && b.live[i-1].end > r.base || i < len(b.live) && b.live[i].base < r.end {
		panic(fmt.Sprintf("check.%s: the inner backend returned [%#x, %#x), overlapping a live buffer", op, r.base, r.end))
	}
	b.live = slices.Insert(b.live, i, r)
}

// take removes and returns the live region of kind k starting at p.
func (b *Backend) take(op string, p uintptr, k elemKind) region {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.search(p)
	if i < 0 || b.live[i].base != p || b.live[i].kind != k {
		what := "foreign memory, a buffer freed already (double free), or a sub-slice not starting at its buffer's base"
		if i >= 0 && p < b.live[i].end {
			if b.live[i].kind != k {
				what = "it lies in a " + b.live[i].kind.String()
			} else {
				what = fmt.Sprintf("it starts %d elements into its buffer", (p-b.live[i].base)/4)
			}
		}
		panic(fmt.Sprintf("check.%s: x (at %#x) is not the start of a live %v: %s", op, p, k, what))
	}
	r := b.live[i]
	b.live = slices.Delete(b.live, i, i+1) // clears the vacated tail: the buffer is not kept reachable
	return r
}

// within panics unless bytes [p, p+size) lie within one live region of kind k.
func (b *Backend) within(op, name string, p, size uintptr, k elemKind, n int) {
	b.mu.Lock()
	i := b.search(p)
	ok := i >= 0 && p+size <= b.live[i].end && b.live[i].kind == k
	var r region
	if i >= 0 {
		r = b.live[i]
	}
	b.mu.Unlock()
	if ok {
		return
	}
	msg := fmt.Sprintf("check.%s: %s (%d elements at %#x) is not within a live %v: host memory, another backend's buffer, or a freed buffer", op, name, n, p, k)
	if i >= 0 && p < r.end {
		if r.kind != k {
			msg = fmt.Sprintf("check.%s: %s (%d elements at %#x) lies in a live %v, not in one from %v", op, name, n, p, r.kind, strings.TrimPrefix(k.String(), "buffer from "))
		} else {
			msg = fmt.Sprintf("check.%s: %s (%d elements at %#x) runs %d elements past the end of its %v", op, name, n, p, (p+size-r.end)/4, k)
		}
	}
	panic(msg)
}

// f checks a float32 argument; nilOK where the interface allows nil.
func (b *Backend) f(op, name string, x []float32, nilOK bool) {
	if x == nil {
		if !nilOK {
			panic(fmt.Sprintf("check.%s: %s is nil (not allowed here; buffers come from Alloc)", op, name))
		}
		return
	}
	if len(x) == 0 {
		return
	}
	b.within(op, name, uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(len(x))*4, kindF32, len(x))
}

// i checks an int32 argument.
func (b *Backend) i(op, name string, x []int32, nilOK bool) {
	if x == nil {
		if !nilOK {
			panic(fmt.Sprintf("check.%s: %s is nil (not allowed here; buffers come from AllocInt32)", op, name))
		}
		return
	}
	if len(x) == 0 {
		return
	}
	b.within(op, name, uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(len(x))*4, kindI32, len(x))
}

const (
	must  = false // the argument must be a buffer
	maybe = true  // nil allowed
)

func init() {
	kernels.Register("check", func(inner string, o kernels.OpenOptions) (kernels.Backend, error) {
		if inner == "" {
			inner = defaultInner(kernels.DefaultName())
		}
		be, err := kernels.Open(inner, o)
		if err != nil {
			return nil, err
		}
		return Wrap(be), nil
	})
}

// defaultInner is what "check" alone wraps: the default backend, or when
// that is check itself ("check", "check:x"), its inner ("cpu", "x").
func defaultInner(def string) string {
	outer, in, _ := strings.Cut(def, ":")
	if outer != "check" {
		return def
	}
	if in == "" {
		return "cpu"
	}
	return defaultInner(in)
}
