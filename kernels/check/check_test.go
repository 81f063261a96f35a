package check

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/cpu"
)

// argMode says what env hands out for the target argument.
type argMode int

const (
	modeAlloc   argMode = iota // every argument a sub-slice of an Alloc'd buffer
	modeForeign                // the target a host slice (make)
	modeNil                    // the target nil
	modeFreed                  // the target a sub-slice of a freed buffer
)

// env hands an op's slice arguments out by name: sub-slices [2, 2+n) of fresh
// Alloc'd buffers, except the target argument in the other modes.
type env struct {
	be     kernels.Backend
	mode   argMode
	target string
	names  []string // the slice arguments asked for, in order
}

func (e *env) f(name string, n int) []float32 {
	e.names = append(e.names, name)
	if name == e.target {
		switch e.mode {
		case modeForeign:
			return make([]float32, n)
		case modeNil:
			return nil
		case modeFreed:
			buf := e.be.Alloc(n + 4)
			e.be.Free(buf)
			return buf[2 : 2+n]
		}
	}
	return e.be.Alloc(n + 4)[2 : 2+n]
}

func (e *env) i(name string, n int) []int32 {
	e.names = append(e.names, name)
	if name == e.target {
		switch e.mode {
		case modeForeign:
			return make([]int32, n)
		case modeNil:
			return nil
		case modeFreed:
			buf := e.be.AllocInt32(n + 4)
			e.be.FreeInt32(buf)
			return buf[2 : 2+n]
		}
	}
	return e.be.AllocInt32(n + 4)[2 : 2+n]
}

// opCase calls one method with valid shapes for the cpu backend; nilOK names
// the arguments the interface allows to be nil.
type opCase struct {
	op    string
	nilOK []string
	call  func(be kernels.Backend, e *env)
}

// opCases covers every Backend method that takes a slice (and the optional
// interfaces), except Alloc/Free (TestFree…) and Upload's host src.
func opCases() []opCase {
	const (
		n, c, oc, v     = 2, 4, 3, 5
		h, hd, maxPos   = 2, 4, 4
		b, t, nh, nkv   = 1, 4, 2, 1
		nq, nk, nl      = b * t * nh * hd, b * t * nkv * hd, b * nh * t
		m, k, ncol, ne  = 2, 4, 3, 6
		ff              = 3
		segN, segS      = 4, 2
		gatherN, gather = 4, 3
	)
	return []opCase{
		{"Upload", nil, func(be kernels.Backend, e *env) { be.Upload(e.f("dst", ne), make([]float32, ne)) }},
		{"UploadInt32", nil, func(be kernels.Backend, e *env) { be.UploadInt32(e.i("dst", ne), make([]int32, ne)) }},
		{"Sgemm", nil, func(be kernels.Backend, e *env) {
			be.Sgemm(false, false, m, ncol, k, 1, e.f("a", m*k), k, e.f("b", k*ncol), ncol, 0, e.f("c", m*ncol), ncol)
		}},
		{"LinearForward", []string{"bias"}, func(be kernels.Backend, e *env) {
			be.LinearForward(e.f("out", n*oc), e.f("inp", n*c), e.f("w", oc*c), e.f("bias", oc), n, c, oc, 1, false)
		}},
		{"LinearBackward", []string{"dinp", "dw", "dbias"}, func(be kernels.Backend, e *env) {
			be.LinearBackward(e.f("dinp", n*c), e.f("dw", oc*c), e.f("dbias", oc), e.f("dout", n*oc), e.f("inp", n*c), e.f("w", oc*c), n, c, oc, 1)
		}},
		{"EmbeddingForward", nil, func(be kernels.Backend, e *env) {
			be.EmbeddingForward(e.f("out", n*c), e.i("ids", n), e.f("table", v*c), n, c, v)
		}},
		{"EmbeddingBackward", []string{"dtable"}, func(be kernels.Backend, e *env) {
			be.EmbeddingBackward(e.f("dtable", v*c), e.i("ids", n), e.f("dout", n*c), n, c, v)
		}},
		{"RMSNormForward", nil, func(be kernels.Backend, e *env) {
			be.RMSNormForward(e.f("out", n*c), e.f("rstd", n), e.f("inp", n*c), e.f("w", c), n, c, 1e-6)
		}},
		{"RMSNormBackward", []string{"dinp", "dw"}, func(be kernels.Backend, e *env) {
			be.RMSNormBackward(e.f("dinp", n*c), e.f("dw", c), e.f("dout", n*c), e.f("inp", n*c), e.f("w", c), e.f("rstd", n), n, c)
		}},
		{"RoPEForward", nil, func(be kernels.Backend, e *env) {
			be.RoPEForward(e.f("x", n*h*hd), e.i("pos", n), e.f("cos", maxPos*hd/2), e.f("sin", maxPos*hd/2), n, h, hd)
		}},
		{"RoPEBackward", nil, func(be kernels.Backend, e *env) {
			be.RoPEBackward(e.f("dx", n*h*hd), e.i("pos", n), e.f("cos", maxPos*hd/2), e.f("sin", maxPos*hd/2), n, h, hd)
		}},
		{"AttentionForward", nil, func(be kernels.Backend, e *env) {
			be.AttentionForward(e.f("out", nq), e.f("lse", nl), e.f("q", nq), e.f("k", nk), e.f("v", nk), e.i("seg", b*t), b, t, nh, nkv, hd, 0)
		}},
		{"AttentionBackward", []string{"dq", "dk", "dv"}, func(be kernels.Backend, e *env) {
			be.AttentionBackward(e.f("dq", nq), e.f("dk", nk), e.f("dv", nk), e.f("dout", nq), e.f("q", nq), e.f("k", nk), e.f("v", nk),
				e.f("out", nq), e.f("lse", nl), e.i("seg", b*t), b, t, nh, nkv, hd, 0)
		}},
		{"AttentionForwardShared", []string{"parent"}, func(be kernels.Backend, e *env) {
			be.(kernels.SharedPromptAttention).AttentionForwardShared(e.f("out", nq), e.f("lse", nl), e.f("q", nq), e.f("k", nk), e.f("v", nk),
				e.i("seg", b*t), e.i("parent", b*t), b, t, nh, nkv, hd, 0)
		}},
		{"AttentionBackwardShared", []string{"dq", "dk", "dv", "parent"}, func(be kernels.Backend, e *env) {
			be.(kernels.SharedPromptAttention).AttentionBackwardShared(e.f("dq", nq), e.f("dk", nk), e.f("dv", nk), e.f("dout", nq),
				e.f("q", nq), e.f("k", nk), e.f("v", nk), e.f("out", nq), e.f("lse", nl), e.i("seg", b*t), e.i("parent", b*t), b, t, nh, nkv, hd, 0)
		}},
		{"AttentionForwardCached", nil, func(be kernels.Backend, e *env) {
			be.(kernels.CachedAttention).AttentionForwardCached(e.f("out", nq), e.f("q", nq), e.f("k", nk), e.f("v", nk), e.i("start", b), 0, t, b, nh, nkv, hd, 0)
		}},
		{"SampleTokens", nil, func(be kernels.Backend, e *env) {
			be.(kernels.TokenSampler).SampleTokens(e.i("ids", n), e.f("logits", n*v), e.f("u", n), n, v, 1, 0.9)
		}},
		{"SwiGLUForward", nil, func(be kernels.Backend, e *env) {
			be.SwiGLUForward(e.f("out", ne), e.f("gate", ne), e.f("up", ne), ne)
		}},
		{"SwiGLUBackward", []string{"dgate", "dup"}, func(be kernels.Backend, e *env) {
			be.SwiGLUBackward(e.f("dgate", ne), e.f("dup", ne), e.f("dout", ne), e.f("gate", ne), e.f("up", ne), ne)
		}},
		{"SwiGLUForwardFused", nil, func(be kernels.Backend, e *env) {
			be.(kernels.FusedSwiGLU).SwiGLUForwardFused(e.f("out", n*ff), e.f("gu", 2*n*ff), n, ff)
		}},
		{"SwiGLUBackwardFused", nil, func(be kernels.Backend, e *env) {
			be.(kernels.FusedSwiGLU).SwiGLUBackwardFused(e.f("dgu", 2*n*ff), e.f("dout", n*ff), e.f("gu", 2*n*ff), n, ff)
		}},
		{"Add", nil, func(be kernels.Backend, e *env) { be.Add(e.f("out", ne), e.f("a", ne), e.f("b", ne)) }},
		{"Axpy", nil, func(be kernels.Backend, e *env) { be.Axpy(e.f("y", ne), 0.5, e.f("x", ne)) }},
		{"Scale", nil, func(be kernels.Backend, e *env) { be.Scale(e.f("x", ne), 2) }},
		{"Zero", nil, func(be kernels.Backend, e *env) { be.Zero(e.f("x", ne)) }},
		{"Copy", nil, func(be kernels.Backend, e *env) { be.Copy(e.f("dst", ne), e.f("src", ne)) }},
		{"Mul", nil, func(be kernels.Backend, e *env) { be.Mul(e.f("out", ne), e.f("a", ne), e.f("b", ne)) }},
		{"MulAcc", nil, func(be kernels.Backend, e *env) { be.MulAcc(e.f("y", ne), e.f("a", ne), e.f("b", ne)) }},
		{"DropoutMask", nil, func(be kernels.Backend, e *env) { be.DropoutMask(e.f("mask", ne), 0.5, 7) }},
		{"SegmentSum", nil, func(be kernels.Backend, e *env) {
			be.SegmentSum(e.f("out", segS), e.f("x", segN), e.i("seg", segN), segN, segS)
		}},
		{"Gather", nil, func(be kernels.Backend, e *env) {
			be.Gather(e.f("out", gatherN), e.f("x", gather), e.i("idx", gatherN), gatherN)
		}},
		{"LogSoftmaxGatherForward", []string{"st.Entropy", "st.MeanLogit", "st.LogSumP2"}, func(be kernels.Backend, e *env) {
			st := kernels.LogitStats{Entropy: e.f("st.Entropy", n), MeanLogit: e.f("st.MeanLogit", n), LogSumP2: e.f("st.LogSumP2", n)}
			be.LogSoftmaxGatherForward(e.f("logp", n), e.f("lse", n), st, e.f("logits", n*v), e.i("labels", n), n, v)
		}},
		{"LogSoftmaxGatherBackward", nil, func(be kernels.Backend, e *env) {
			be.LogSoftmaxGatherBackward(e.f("dlogits", n*v), e.f("dlogp", n), e.f("logits", n*v), e.f("lse", n), e.i("labels", n), n, v)
		}},
		{"AdamWStep", nil, func(be kernels.Backend, e *env) {
			be.AdamWStep(e.f("p", ne), e.f("g", ne), e.f("m", ne), e.f("v", ne), 1, 1e-3, 0.9, 0.999, 1e-8, 0.01)
		}},
		{"SGDStep", []string{"buf"}, func(be kernels.Backend, e *env) {
			be.SGDStep(e.f("p", ne), e.f("g", ne), e.f("buf", ne), 1, 1e-2, 0.9, 0)
		}},
		{"SumSquares", nil, func(be kernels.Backend, e *env) { be.SumSquares(e.f("x", ne)) }},
	}
}

// panicMsg runs f and returns its panic value as text ("" when it returned).
func panicMsg(f func()) (msg string, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			msg, panicked = panicString(r), true
		}
	}()
	f()
	return "", false
}

func panicString(r any) string {
	switch x := r.(type) {
	case string:
		return x
	case error:
		return x.Error()
	}
	return reflect.ValueOf(r).String()
}

func openCheckCPU(t *testing.T) kernels.Backend {
	t.Helper()
	be, err := kernels.Open("check:cpu", kernels.OpenOptions{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Close)
	return be
}

// TestOpsCovered: the case table names every slice-taking method of
// kernels.Backend and of the optional interfaces.
func TestOpsCovered(t *testing.T) {
	have := map[string]bool{}
	for _, c := range opCases() {
		have[c.op] = true
	}
	skip := map[string]bool{"Name": true, "Threads": true, "Alloc": true, "AllocInt32": true,
		"Free": true, "FreeInt32": true, "Sync": true, "Close": true}
	for _, it := range []reflect.Type{
		reflect.TypeFor[kernels.Backend](),
		reflect.TypeFor[kernels.SharedPromptAttention](),
		reflect.TypeFor[kernels.FusedSwiGLU](),
		reflect.TypeFor[kernels.CachedAttention](),
		reflect.TypeFor[kernels.TokenSampler](),
	} {
		for i := range it.NumMethod() {
			if name := it.Method(i).Name; !skip[name] && !have[name] {
				t.Errorf("no case for %s.%s", it.Name(), name)
			}
		}
	}
}

// TestAllocatedArgsPass: every op runs on sub-slices of Alloc'd buffers and is counted once.
func TestAllocatedArgsPass(t *testing.T) {
	be := openCheckCPU(t)
	chk := Of(be)
	for _, c := range opCases() {
		e := &env{be: be}
		before := chk.Counts()[c.op]
		if msg, p := panicMsg(func() { c.call(be, e) }); p {
			t.Errorf("%s on Alloc'd sub-slices panicked: %s", c.op, msg)
			continue
		}
		if got := chk.Counts()[c.op] - before; got != 1 {
			t.Errorf("%s counted %d times, want 1", c.op, got)
		}
		if len(e.names) == 0 {
			t.Errorf("%s: the case takes no buffers", c.op)
		}
	}
}

// TestForeignArgPanics: each slice argument of each op, replaced by a host
// slice, makes the op panic naming the op and the argument, before the inner runs.
func TestForeignArgPanics(t *testing.T) {
	be := openCheckCPU(t)
	for _, c := range opCases() {
		probe := &env{be: be}
		c.call(be, probe)
		for _, name := range probe.names {
			for _, mode := range []argMode{modeForeign, modeFreed} {
				e := &env{be: be, mode: mode, target: name}
				msg, p := panicMsg(func() { c.call(be, e) })
				prefix := "check." + c.op + ": " + name + " ("
				if !p || !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, "not within a live") ||
					!strings.Contains(msg, "from Alloc") || !strings.Contains(msg, "freed") {
					t.Errorf("%s with %s %s: panic %v %q, want %q… not within a live … from Alloc… freed…",
						c.op, map[argMode]string{modeForeign: "host", modeFreed: "freed"}[mode], name, p, msg, prefix)
				}
			}
		}
	}
}

// TestNilArgs: nil panics (naming op and argument) exactly where the interface
// does not allow it; where it does, the checker lets it through (the cpu inner
// may still refuse, e.g. a nil dq to AttentionBackward, with its own message).
func TestNilArgs(t *testing.T) {
	be := openCheckCPU(t)
	for _, c := range opCases() {
		probe := &env{be: be}
		c.call(be, probe)
		for _, name := range probe.names {
			e := &env{be: be, mode: modeNil, target: name}
			msg, p := panicMsg(func() { c.call(be, e) })
			allowed := false
			for _, a := range c.nilOK {
				allowed = allowed || a == name
			}
			if allowed {
				if p && strings.HasPrefix(msg, "check.") {
					t.Errorf("%s: nil %s (allowed) panicked in the checker: %s", c.op, name, msg)
				}
			} else if want := "check." + c.op + ": " + name + " is nil"; !p || !strings.HasPrefix(msg, want) {
				t.Errorf("%s: nil %s: panic %v %q, want %q…", c.op, name, p, msg, want)
			}
		}
	}
}

func TestZeroLengthPasses(t *testing.T) {
	be := openCheckCPU(t)
	be.Scale(make([]float32, 0), 2) // touches no memory
	x := be.Alloc(0)
	if x == nil {
		t.Fatal("Alloc(0) = nil")
	}
	be.Zero(x)
	be.Free(x) // zero capacity: like free(NULL)
	be.Free(nil)
	be.FreeInt32(nil)
	y := be.Alloc(3)
	be.Zero(y[3:])
}

func TestFree(t *testing.T) {
	be := openCheckCPU(t)
	chk := Of(be)
	x := be.Alloc(8)
	ids := be.AllocInt32(8)
	if chk.Live() != 2 {
		t.Fatalf("Live = %d, want 2", chk.Live())
	}
	be.Scale(x[1:5], 2)
	// a sub-slice not at the base is not a buffer
	if msg, p := panicMsg(func() { be.Free(x[1:]) }); !p || !strings.Contains(msg, "check.Free") || !strings.Contains(msg, "1 elements into") {
		t.Errorf("Free(x[1:]): %v %q", p, msg)
	}
	be.Free(x[:3]) // a reslice at the base frees the buffer
	if chk.Live() != 1 {
		t.Fatalf("Live = %d after Free, want 1", chk.Live())
	}
	if msg, p := panicMsg(func() { be.Scale(x, 2) }); !p || !strings.HasPrefix(msg, "check.Scale: x (") {
		t.Errorf("Scale on a freed buffer: %v %q", p, msg)
	}
	if msg, p := panicMsg(func() { be.Free(x) }); !p || !strings.Contains(msg, "double free") {
		t.Errorf("double Free: %v %q", p, msg)
	}
	if msg, p := panicMsg(func() { be.Free(make([]float32, 4)) }); !p || !strings.HasPrefix(msg, "check.Free: x") {
		t.Errorf("Free of a host slice: %v %q", p, msg)
	}
	// an int32 buffer is not a float32 one
	asF := unsafe.Slice((*float32)(unsafe.Pointer(&ids[0])), len(ids))
	if msg, p := panicMsg(func() { be.Free(asF) }); !p || !strings.Contains(msg, "lies in a buffer from AllocInt32") {
		t.Errorf("Free of an int32 buffer as float32: %v %q", p, msg)
	}
	if msg, p := panicMsg(func() { be.Zero(asF) }); !p || !strings.Contains(msg, "check.Zero: x") || !strings.Contains(msg, "lies in a live buffer from AllocInt32, not in one from Alloc") {
		t.Errorf("Zero of an int32 buffer as float32: %v %q", p, msg)
	}
	live := be.Alloc(4)
	asI := unsafe.Slice((*int32)(unsafe.Pointer(&live[0])), len(live))
	if msg, p := panicMsg(func() { be.UploadInt32(asI, make([]int32, 4)) }); !p || !strings.Contains(msg, "check.UploadInt32: dst") || !strings.Contains(msg, "lies in a live buffer from Alloc, not in one from AllocInt32") {
		t.Errorf("UploadInt32 into a float32 buffer: %v %q", p, msg)
	}
	be.Free(live)
	be.FreeInt32(ids)
	if msg, p := panicMsg(func() { be.FreeInt32(ids) }); !p || !strings.Contains(msg, "check.FreeInt32") {
		t.Errorf("double FreeInt32: %v %q", p, msg)
	}
	if chk.Live() != 0 {
		t.Errorf("Live = %d, want 0", chk.Live())
	}
}

// TestMessage logs what a failing check says (go test -v -run TestMessage).
func TestMessage(t *testing.T) {
	be := openCheckCPU(t)
	x := be.Alloc(8)
	msg, _ := panicMsg(func() { be.Axpy(x, 1, make([]float32, 8)) })
	t.Log(msg)
	if !strings.HasPrefix(msg, "check.Axpy: x (8 elements at 0x") {
		t.Errorf("message %q", msg)
	}
}

func TestCounts(t *testing.T) {
	be := openCheckCPU(t)
	chk := Of(be)
	x := be.Alloc(4)
	be.Scale(x, 2)
	be.Scale(x[:2], 2)
	be.SumSquares(x)
	if err := be.Sync(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Alloc": 1, "Scale": 2, "SumSquares": 1, "Sync": 1}
	if got := chk.Counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	chk.ResetCounts()
	if got := chk.Counts(); len(got) != 0 {
		t.Errorf("Counts after reset = %v", got)
	}
}

// TestNoAllocs: checking allocates nothing, so the model's no-allocation tests hold on check:cpu.
func TestNoAllocs(t *testing.T) {
	be := openCheckCPU(t)
	x, y := be.Alloc(1000), be.Alloc(1000)
	for i := 0; i < 50; i++ { // many live buffers: the lookup is a search
		be.Alloc(10)
	}
	ids := be.AllocInt32(4)
	out := be.Alloc(4)
	be.Add(x, x, y)
	be.Gather(out, x, ids, 4)
	for name, f := range map[string]func(){
		"Add":        func() { be.Add(x, x[:1000], y) },
		"Gather":     func() { be.Gather(out, x, ids, 4) },
		"SumSquares": func() { be.SumSquares(y[3:]) },
	} {
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%s: %v allocations per call", name, a)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Setenv("PREFTUNE_BACKEND", "")
	for _, name := range []string{"check:cpu", "check"} {
		be, err := kernels.Open(name, kernels.OpenOptions{Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(be.Name(), "check(cpu") || !strings.HasSuffix(be.Name(), ")") {
			t.Errorf("%s: Name = %q", name, be.Name())
		}
		if Of(be) == nil || Of(be).Inner().Threads() != 1 {
			t.Errorf("%s: Of = %v", name, Of(be))
		}
		be.Close()
	}
	t.Setenv("PREFTUNE_BACKEND", "check")
	be, err := kernels.Open("", kernels.OpenOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(be.Name(), "check(cpu") {
		t.Errorf("PREFTUNE_BACKEND=check: Name = %q", be.Name())
	}
	be.Close()
	if _, err := kernels.Open("check:nosuch", kernels.OpenOptions{}); err == nil {
		t.Error("check:nosuch opened")
	}
	for def, want := range map[string]string{"cpu": "cpu", "cuda": "cuda", "check": "cpu", "check:cuda": "cuda", "check:check": "cpu"} {
		if got := defaultInner(def); got != want {
			t.Errorf("defaultInner(%q) = %q, want %q", def, got, want)
		}
	}
}

// ---- a fake inner: an arena allocator, no optional interfaces ----

// fake implements Alloc from one arena (so memory past a buffer's capacity
// is the same Go allocation), Sync with a set error, and records the ops it
// receives; the embedded nil interface panics on anything else.
type fake struct {
	kernels.Backend
	arena   []float32
	next    int
	overlap bool // Alloc hands out the same memory twice
	err     error
	calls   []string
}

func newFake() *fake { return &fake{arena: make([]float32, 1<<12)} }

func (f *fake) Name() string { return "fake" }
func (f *fake) Alloc(n int) []float32 {
	x := f.arena[f.next : f.next+n : f.next+n]
	if !f.overlap {
		f.next += n
	}
	return x
}
func (f *fake) Free(x []float32)                         { f.calls = append(f.calls, "Free") }
func (f *fake) Scale(x []float32, alpha float32)         { f.calls = append(f.calls, "Scale") }
func (f *fake) Sync() error                              { return f.err }
func (f *fake) Close()                                   {}
func (f *fake) SumSquares(x []float32) float64           { return float64(len(x)) }
func (f *fake) Copy(dst, src []float32)                  { f.calls = append(f.calls, "Copy") }
func (f *fake) Upload(dst, src []float32)                { f.calls = append(f.calls, "Upload") }
func (f *fake) Axpy(y []float32, a float32, x []float32) {}

type fakeShared struct{ *fake }

func (f fakeShared) AttentionForwardShared(out, lse, q, k, v []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
	f.calls = append(f.calls, "AttentionForwardShared")
}
func (f fakeShared) AttentionBackwardShared(dq, dk, dv, dout, q, k, v, out, lse []float32, seg, parent []int32, b, t, nh, nkv, hd, window int) {
	f.calls = append(f.calls, "AttentionBackwardShared")
}

type fakeFused struct{ *fake }

func (f fakeFused) SwiGLUForwardFused(out, gu []float32, n, ff int) {
	f.calls = append(f.calls, "SwiGLUForwardFused")
}
func (f fakeFused) SwiGLUBackwardFused(dgu, dout, gu []float32, n, ff int) {
	f.calls = append(f.calls, "SwiGLUBackwardFused")
}

type fakeBoth struct {
	fakeShared
	fused fakeFused
}

func (f fakeBoth) SwiGLUForwardFused(out, gu []float32, n, ff int) {
	f.fused.SwiGLUForwardFused(out, gu, n, ff)
}
func (f fakeBoth) SwiGLUBackwardFused(dgu, dout, gu []float32, n, ff int) {
	f.fused.SwiGLUBackwardFused(dgu, dout, gu, n, ff)
}

// TestOptionalInterfaces: Wrap's value implements SharedPromptAttention and
// FusedSwiGLU exactly when the inner does, and forwards them.
func TestOptionalInterfaces(t *testing.T) {
	cpuBe := cpu.New(1)
	defer cpuBe.Close()
	f0 := newFake()
	fb := fakeBoth{fakeShared: fakeShared{f0}, fused: fakeFused{f0}}
	for _, tc := range []struct {
		name          string
		inner         kernels.Backend
		shared, fused bool
		f             *fake
	}{
		{"cpu", cpuBe, true, true, nil},
		{"fake", newFake(), false, false, nil},
		{"fake shared", fakeShared{newFake()}, true, false, nil},
		{"fake fused", fakeFused{newFake()}, false, true, nil},
		{"fake both", fb, true, true, f0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// the inner really has what the case says
			_, is := tc.inner.(kernels.SharedPromptAttention)
			_, iff := tc.inner.(kernels.FusedSwiGLU)
			if is != tc.shared || iff != tc.fused {
				t.Fatalf("test setup: inner shared %v fused %v", is, iff)
			}
			be := Wrap(tc.inner)
			sh, hasS := be.(kernels.SharedPromptAttention)
			fu, hasF := be.(kernels.FusedSwiGLU)
			if hasS != tc.shared || hasF != tc.fused {
				t.Errorf("Wrap: SharedPromptAttention %v FusedSwiGLU %v, want %v %v", hasS, hasF, tc.shared, tc.fused)
			}
			if Of(be) == nil {
				t.Fatal("Of(Wrap(inner)) = nil")
			}
			if _, ok := kernels.Backend(New(tc.inner)).(kernels.SharedPromptAttention); ok {
				t.Error("New's *Backend implements SharedPromptAttention")
			}
			if tc.f == nil {
				return
			}
			x := be.Alloc(64)
			ids := make([]int32, 4)
			sh.AttentionForwardShared(x, x, x, x, x, ids[:0], nil, 0, 0, 1, 1, 1, 0)
			sh.AttentionBackwardShared(x, x, x, x, x, x, x, x, x, ids[:0], nil, 0, 0, 1, 1, 1, 0)
			fu.SwiGLUForwardFused(x, x, 0, 0)
			fu.SwiGLUBackwardFused(x, x, x, 0, 0)
			want := []string{"AttentionForwardShared", "AttentionBackwardShared", "SwiGLUForwardFused", "SwiGLUBackwardFused"}
			if !reflect.DeepEqual(tc.f.calls, want) {
				t.Errorf("inner calls %v, want %v", tc.f.calls, want)
			}
			if msg, p := panicMsg(func() { fu.SwiGLUForwardFused(make([]float32, 4), x, 1, 1) }); !p || !strings.HasPrefix(msg, "check.SwiGLUForwardFused: out (") {
				t.Errorf("fused with a host out: %v %q", p, msg)
			}
		})
	}
}

func TestFakeInner(t *testing.T) {
	f := newFake()
	be := Wrap(f)
	if _, ok := be.(*Backend); !ok {
		t.Errorf("Wrap of an inner without optional interfaces is %T, want *Backend", be)
	}
	if be.Name() != "check(fake)" {
		t.Errorf("Name = %q", be.Name())
	}
	x := be.Alloc(8)
	y := be.Alloc(8)
	be.Scale(x, 1)
	be.Upload(y, make([]float32, 8)) // src is host memory
	// memory right after x's capacity (y's, or the arena's) is not x's
	past := f.arena[0:9]
	if msg, p := panicMsg(func() { be.Scale(past, 1) }); !p || !strings.Contains(msg, "check.Scale: x (9 elements") || !strings.Contains(msg, "1 elements past the end") {
		t.Errorf("slice past the end of its buffer: %v %q", p, msg)
	}
	// a slice spanning two adjacent live buffers lies in neither
	if msg, p := panicMsg(func() { be.Copy(f.arena[4:12], x) }); !p || !strings.HasPrefix(msg, "check.Copy: dst (") {
		t.Errorf("slice spanning two buffers: %v %q", p, msg)
	}
	be.Free(x)
	if want := []string{"Scale", "Upload", "Free"}; !reflect.DeepEqual(f.calls, want) {
		t.Errorf("inner calls %v, want %v (nothing forwarded after a failed check)", f.calls, want)
	}
	// Sync returns the inner's error
	f.err = errors.New("device fault")
	if err := be.Sync(); !errors.Is(err, f.err) {
		t.Errorf("Sync = %v, want the inner's error", err)
	}
	// an inner that hands out live memory again is caught at Alloc
	f.overlap = true
	be.Alloc(4)
	if msg, p := panicMsg(func() { be.Alloc(4) }); !p || !strings.Contains(msg, "overlapping a live buffer") {
		t.Errorf("overlapping Alloc: %v %q", p, msg)
	}
}
