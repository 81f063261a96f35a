package model

import (
	"math"
	"path/filepath"
	"testing"
)

// lastTokenBatch is the golden batch with one loss row per sequence: its last
// non-padding token (label 0), the row a sequence-classification head reads.
func lastTokenBatch(g *golden) *Batch {
	b := g.batch()
	for r := 0; r < b.B; r++ {
		last := -1
		for t := 0; t < b.T; t++ {
			i := r*b.T + t
			b.Labels[i] = Ignore
			if b.Segments[i] >= 0 {
				last = i
			}
		}
		b.Labels[last] = 0
	}
	return b
}

// TestValueHeadGradients checks FinalHidden → ValueHead → BackwardHidden against
// central differences of L = Σ_s c_s·score_s for entries of every trainable tensor
// and of score.weight, with full fine-tuning, gradient checkpointing and LoRA.
func TestValueHeadGradients(t *testing.T) {
	g := loadGolden(t, "qwen2_bias")
	dir := filepath.Join("testdata", "qwen2_bias")
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"full", Options{}},
		{"checkpointed", Options{Checkpoint: true}},
		{"lora", Options{LoRA: &LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(dir, testBackend(), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.opt.LoRA != nil {
				m.InitLoRA(3)
				for _, ts := range m.Trainable() { // non-zero B so every adapter has a gradient path
					for i := range ts.Data {
						ts.Data[i] += float32(0.05 * math.Sin(float64(i)))
					}
				}
			}
			b := lastTokenBatch(g)
			C := m.Arch().Hidden
			vh := NewValueHead(m.Backend(), C, 0.5, 1)
			coef := make([]float32, b.B)
			for i := range coef {
				coef[i] = float32(1 + i%3 - 2*(i%2))
			}
			lossAt := func() float64 {
				if _, err := m.Forward(b, ForwardOptions{Eval: true}); err != nil {
					t.Fatal(err)
				}
				h, err := m.FinalHidden()
				if err != nil {
					t.Fatal(err)
				}
				sc, err := vh.Forward(h)
				if err != nil {
					t.Fatal(err)
				}
				var l float64
				for i, s := range sc {
					l += float64(coef[i]) * float64(s)
				}
				return l
			}
			lossAt()
			h, _ := m.FinalHidden()
			if len(h) != b.B*C {
				t.Fatalf("FinalHidden has %d values, want %d", len(h), b.B*C)
			}
			m.ZeroGrad()
			clear(vh.Grad)
			dh := vh.Backward(coef, h)
			if err := m.BackwardHidden(dh); err != nil {
				t.Fatal(err)
			}
			ts := append(m.Trainable(), vh.Tensors()...)
			grads := make([][]float32, len(ts))
			for k, tn := range ts {
				grads[k] = append([]float32(nil), tn.Grad...)
			}
			checked := 0
			for k, tn := range ts {
				gmax := 0.0
				arg := 0
				for i, v := range grads[k] {
					if a := math.Abs(float64(v)); a > gmax {
						gmax, arg = a, i
					}
				}
				if gmax == 0 {
					if tn.Name == ValueHeadName || tc.opt.LoRA == nil {
						t.Errorf("%s: zero gradient", tn.Name)
					}
					continue
				}
				for _, i := range []int{arg, (arg * 7919) % len(tn.Data)} {
					w := tn.Data[i]
					eps := float32(2e-3)
					tn.Data[i] = w + eps
					lp := lossAt()
					tn.Data[i] = w - eps
					lm := lossAt()
					tn.Data[i] = w
					num := (lp - lm) / float64(2*eps)
					if d := math.Abs(num - float64(grads[k][i])); d > 2e-2*gmax+1e-4 {
						t.Errorf("%s[%d]: gradient %.6g, central difference %.6g (max |g| %.3g)", tn.Name, i, grads[k][i], num, gmax)
					}
					checked++
				}
			}
			t.Logf("%d entries of %d tensors checked", checked, len(ts))
		})
	}
}

func TestBackwardHiddenErrors(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "qwen2_bias"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FinalHidden(); err == nil {
		t.Error("FinalHidden before Forward: no error")
	}
	b := lastTokenBatch(loadGolden(t, "qwen2_bias"))
	if _, err := m.Forward(b, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.BackwardHidden(make([]float32, 3)); err == nil {
		t.Error("wrong length: no error")
	}
}

// TestNoAllocValueHeadStep: a reward-model step (Forward with LogSumP2 too, FinalHidden,
// ValueHead, BackwardHidden) allocates nothing after the first.
func TestNoAllocValueHeadStep(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "qwen2_bias"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := lastTokenBatch(loadGolden(t, "qwen2_bias"))
	vh := NewValueHead(m.Backend(), m.Arch().Hidden, 0.02, 1)
	dsc := make([]float32, b.B)
	for i := range dsc {
		dsc[i] = 0.1
	}
	step := func() {
		if _, err := m.Forward(b, ForwardOptions{LogSumP2: true}); err != nil {
			t.Fatal(err)
		}
		h, err := m.FinalHidden()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vh.Forward(h); err != nil {
			t.Fatal(err)
		}
		if err := m.BackwardHidden(vh.Backward(dsc, h)); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(3, step); n > 0 {
		t.Errorf("%v allocations per step", n)
	}
}
