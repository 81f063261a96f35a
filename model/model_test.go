package model

import (
	"errors"
	"github.com/preftune/preftune/rowerr"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/kernels"
)

// A sequence's log-probs do not depend on how much right padding its batch has.
func TestPaddingInvariance(t *testing.T) {
	for _, name := range []string{"llama_gqa", "mistral_window"} {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			m, err := Load(filepath.Join("testdata", name), testBackend(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			b := g.batch()
			for _, extra := range []int{0, 1, 9} {
				p := padBatch(b, b.T+extra)
				out, err := m.Forward(p, ForwardOptions{Eval: true})
				if err != nil {
					t.Fatal(err)
				}
				for r := 0; r < b.B; r++ {
					for c := 0; c < p.T; c++ {
						got := float64(out.LogProbs[r*p.T+c])
						want := 0.0
						if c < b.T {
							want = g.Full.Logps[r][c]
						}
						if math.Abs(got-want) > logpTol*math.Max(1, math.Abs(want)) {
							t.Errorf("T=%d: logp[%d,%d] = %.8g, want %.8g", p.T, r, c, got, want)
						}
					}
				}
			}
		})
	}
}

// padBatch copies b into a batch of t ≥ b.T columns, padding on the right.
func padBatch(b *Batch, t int) *Batch {
	p := &Batch{B: b.B, T: t}
	n := b.B * t
	p.IDs, p.Positions, p.Segments, p.Labels = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	for r := 0; r < b.B; r++ {
		for c := 0; c < t; c++ {
			i := r*t + c
			if c < b.T {
				j := r*b.T + c
				p.IDs[i], p.Positions[i], p.Segments[i], p.Labels[i] = b.IDs[j], b.Positions[j], b.Segments[j], b.Labels[j]
			} else {
				p.IDs[i], p.Segments[i], p.Labels[i] = 7, -1, Ignore // junk id: must not matter
			}
		}
	}
	return p
}

// Two sequences packed into one row (segments 0 and 1, positions restarting) give the
// same log-probs as the PyTorch golden computed on separate rows, for full causal
// attention and for a sliding window.
func TestPackedSegments(t *testing.T) {
	for _, name := range []string{"qwen3_qknorm", "mistral_window"} {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			m, err := Load(filepath.Join("testdata", name), testBackend(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			rows := []int{0, g.NPairs} // chosen_0 and rejected_0
			p := &Batch{B: 1}
			type span struct{ row, start, n int }
			var spans []span
			for s, r := range rows {
				n := 0
				for _, seg := range g.Segments[r] {
					if seg >= 0 {
						n++
					}
				}
				spans = append(spans, span{r, len(p.IDs), n})
				for c := 0; c < n; c++ {
					p.IDs = append(p.IDs, g.IDs[r][c])
					p.Positions = append(p.Positions, int32(c))
					p.Segments = append(p.Segments, int32(s))
					p.Labels = append(p.Labels, g.Labels[r][c])
				}
			}
			p.T = len(p.IDs)
			out, err := m.Forward(p, ForwardOptions{Eval: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range spans {
				for c := 0; c < sp.n; c++ {
					got, want := float64(out.LogProbs[sp.start+c]), g.Full.Logps[sp.row][c]
					if math.Abs(got-want) > logpTol*math.Max(1, math.Abs(want)) {
						t.Errorf("row %d token %d: packed logp %.8g, want %.8g", sp.row, c, got, want)
					}
				}
			}
		})
	}
}

func TestBadBatch(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "llama_gqa"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := m.Arch()
	long := make([]int32, a.MaxPos+1)
	for i := range long {
		long[i] = 3
	}
	ok := Sequence{Prompt: []int32{3, 4}, Completion: []int32{5}}
	tests := []struct {
		name string
		seqs []Sequence
		edit func(b *Batch)
		row  int
		want string
	}{
		{"id ≥ vocab", []Sequence{ok, {Prompt: []int32{3}, Completion: []int32{int32(a.Vocab)}}}, nil, 1, "outside the vocabulary"},
		{"negative id", []Sequence{{Prompt: []int32{-1}, Completion: []int32{4}}}, nil, 0, "token id -1"},
		{"empty completion", []Sequence{ok, ok, {Prompt: []int32{3, 4}}}, nil, 2, "no completion tokens"},
		{"too long", []Sequence{ok, {Prompt: long[:a.MaxPos-1], Completion: long[:2]}}, nil, 1, "max_position_embeddings"},
		{"label on padding", []Sequence{ok, {Prompt: []int32{3}, Completion: []int32{4}}}, func(b *Batch) { b.Labels[b.T+2] = 5 }, 1, "padding"},
		{"label ≥ vocab", []Sequence{ok}, func(b *Batch) { b.Labels[0] = int32(a.Vocab) }, 0, "label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := paddedBatch(tc.seqs, 0)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(b)
			}
			_, err = m.Forward(b, ForwardOptions{})
			var re *rowerr.Error
			if !errors.As(err, &re) || !errors.Is(err, ErrBadBatch) {
				t.Fatalf("got %v, want a rowerr.Error wrapping ErrBadBatch", err)
			}
			if re.Row != tc.row+1 || !strings.Contains(err.Error(), tc.want) { // Row is 1-based
				t.Errorf("got %q (row %d), want row %d and %q", err, re.Row, tc.row+1, tc.want)
			}
		})
	}
	if _, err := m.Forward(&Batch{B: 1, T: 2, IDs: []int32{1}}, ForwardOptions{}); !errors.Is(err, ErrBadBatch) {
		t.Errorf("short slices: got %v", err)
	}
	pad := &Batch{B: 1, T: 2, IDs: []int32{1, 1}, Positions: []int32{0, 0}, Segments: []int32{-1, -1}, Labels: []int32{-100, -100}}
	if _, err := m.Forward(pad, ForwardOptions{}); !errors.Is(err, ErrBadBatch) {
		t.Errorf("all padding: got %v", err)
	}
}

// After the first step, Forward and Backward allocate nothing: the model's own code
// (measured over a backend whose kernels are no-ops) and the whole step on kernels/cpu.
func TestNoAllocInStep(t *testing.T) {
	g := loadGolden(t, "qwen2_bias")
	m := loadLoRA(t, filepath.Join("testdata", "qwen2_bias"), Options{Checkpoint: true})
	b, d := g.batch(), flat(g.LoRA.Dlogps)
	step := func() {
		if _, err := m.Forward(b, ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(d); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(3, step); n > 0 {
		t.Errorf("kernels/cpu: %.0f allocations per step", n)
	}
	testNoAllocModelOnly(t)
}

func testNoAllocModelOnly(t *testing.T) {
	g := loadGolden(t, "qwen2_bias")
	arch, err := ReadArch(filepath.Join("testdata", "qwen2_bias"))
	if err != nil {
		t.Fatal(err)
	}
	for _, lora := range []*LoRAConfig{nil, {R: 2, Alpha: 4, Targets: []string{"all"}}, {R: 2, Alpha: 4, Dropout: 0.1, Targets: []string{"q_proj"}}} {
		m, err := New(arch, nopBackend{}, Options{LoRA: lora, LogitsBudget: 2 * arch.Vocab})
		if err != nil {
			t.Fatal(err)
		}
		b, d := g.batch(), flat(g.Full.Dlogps)
		step := func() {
			if _, err := m.Forward(b, ForwardOptions{Entropy: true, MeanLogit: true}); err != nil {
				t.Fatal(err)
			}
			if err := m.Backward(d); err != nil {
				t.Fatal(err)
			}
		}
		step()
		if n := testing.AllocsPerRun(3, step); n > 0 {
			t.Errorf("lora=%+v: %.0f allocations per step", lora, n)
		}
	}
}

// nopBackend allocates like a backend and computes nothing.
type nopBackend struct{ kernels.Backend }

func (nopBackend) Alloc(n int) []float32                                                           { return make([]float32, n) }
func (nopBackend) AllocInt32(n int) []int32                                                        { return make([]int32, n) }
func (nopBackend) Sync() error                                                                     { return nil }
func (nopBackend) Upload(dst, src []float32)                                                       {}
func (nopBackend) UploadInt32(dst, src []int32)                                                    {}
func (nopBackend) Free(x []float32)                                                                {}
func (nopBackend) FreeInt32(x []int32)                                                             {}
func (nopBackend) SegmentSum(out, x []float32, seg []int32, n, s int)                              {}
func (nopBackend) Gather(out, x []float32, idx []int32, n int)                                     {}
func (nopBackend) Mul(out, a, b []float32)                                                         {}
func (nopBackend) MulAcc(y, a, b []float32)                                                        {}
func (nopBackend) Axpy(y []float32, a float32, x []float32)                                        {}
func (nopBackend) DropoutMask(mask []float32, p float32, key uint64)                               {}
func (nopBackend) LinearForward(out, inp, w, bias []float32, n, c, oc int, s float32, acc bool)    {}
func (nopBackend) LinearBackward(dinp, dw, dbias, dout, inp, w []float32, n, c, oc int, s float32) {}
func (nopBackend) EmbeddingForward(out []float32, ids []int32, table []float32, n, c, v int)       {}
func (nopBackend) EmbeddingBackward(dtable []float32, ids []int32, dout []float32, n, c, v int)    {}
func (nopBackend) RMSNormForward(out, rstd, inp, w []float32, n, c int, eps float32)               {}
func (nopBackend) RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, n, c int)                {}
func (nopBackend) RoPEForward(x []float32, pos []int32, cos, sin []float32, n, h, hd int)          {}
func (nopBackend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, n, h, hd int)        {}
func (nopBackend) AttentionForward(out, lse, q, k, v []float32, seg []int32, b, t, nh, nkv, hd, w int) {
}
func (nopBackend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, seg []int32, b, t, nh, nkv, hd, w int) {
}
func (nopBackend) SwiGLUForward(out, gate, up []float32, n int) {}
func (nopBackend) Sgemm(ta, tb bool, m, n, k int, al float32, a []float32, lda int, b []float32, ldb int, be float32, c []float32, ldc int) {
}
func (nopBackend) SwiGLUBackward(dgate, dup, dout, gate, up []float32, n int) {}
func (nopBackend) Zero(x []float32)                                           {}
func (nopBackend) Copy(dst, src []float32)                                    {}
func (nopBackend) LogSoftmaxGatherForward(logp, lse []float32, st kernels.LogitStats, logits []float32, labels []int32, n, v int) {
}
func (nopBackend) LogSoftmaxGatherBackward(dlogits, dlogp, logits, lse []float32, labels []int32, n, v int) {
}

// With PEFT's initialization (B = 0) the adapted model equals the base model, and a
// saved adapter loads back to the same log-probs.
func TestInitAndSaveAdapter(t *testing.T) {
	g := loadGolden(t, "llama_tied_rope3")
	dir := filepath.Join("testdata", "llama_tied_rope3")
	lc := &LoRAConfig{R: 3, Alpha: 6, Targets: []string{"all-linear"}}
	m, err := Load(dir, testBackend(), Options{LoRA: lc})
	if err != nil {
		t.Fatal(err)
	}
	m.InitLoRA(1)
	out, err := m.Forward(g.batch(), ForwardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLogps(t, "B=0", out.LogProbs, g.Full.Logps)

	src := loadLoRA(t, dir, Options{})
	tmp := t.TempDir()
	if err := src.SaveAdapter(tmp, dir); err != nil {
		t.Fatal(err)
	}
	lc2, err := ReadAdapterConfig(tmp)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir, testBackend(), Options{LoRA: lc2})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.LoadAdapter(tmp); err != nil {
		t.Fatal(err)
	}
	out, err = m2.Forward(g.batch(), ForwardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLogps(t, "saved adapter", out.LogProbs, g.LoRA.Logps)
}

// LoRA dropout: masks are deterministic for a seed, and the adapter gradients match
// central finite differences of L = Σ dlogp·logp with the same masks.
func TestLoRADropoutGradient(t *testing.T) {
	g := loadGolden(t, "llama_gqa")
	dir := filepath.Join("testdata", "llama_gqa")
	m := loadLoRA(t, dir, Options{})
	m.lora.Dropout = 0.3
	m.lora.Seed = 7
	m.plan(m.planned+1, m.planned+1) // re-plan with mask buffers
	b, d := g.batch(), flat(g.LoRA.Dlogps)
	loss := func() float64 {
		m.rng = 41 // Forward increments it: same masks every call
		out, err := m.Forward(b, ForwardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i, v := range out.LogProbs {
			s += float64(d[i]) * float64(v)
		}
		return s
	}
	l0 := loss()
	if l1 := loss(); l1 != l0 {
		t.Fatalf("same seed, different outputs: %v vs %v", l0, l1)
	}
	m.rng = 99
	if out, _ := m.Forward(b, ForwardOptions{Eval: true}); out != nil {
		checkLogps(t, "eval (no dropout)", out.LogProbs, g.LoRA.Logps)
	}
	loss()
	m.ZeroGrad()
	if err := m.Backward(d); err != nil {
		t.Fatal(err)
	}
	for _, ten := range m.Trainable()[:4] {
		// the largest-gradient element of each tensor
		j := 0
		for i, v := range ten.Grad {
			if math.Abs(float64(v)) > math.Abs(float64(ten.Grad[j])) {
				j = i
			}
		}
		const h = 1e-2
		orig := ten.Data[j]
		ten.Data[j] = orig + h
		lp := loss()
		ten.Data[j] = orig - h
		lm := loss()
		ten.Data[j] = orig
		fd := (lp - lm) / (2 * h)
		if got := float64(ten.Grad[j]); math.Abs(got-fd) > 2e-2*math.Abs(fd)+1e-4 {
			t.Errorf("%s[%d]: grad %.6g, finite difference %.6g", ten.Name, j, got, fd)
		}
	}
}
