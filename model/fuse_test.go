package model

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// Options.FuseGateUp gives the plain path's log-probs and gradients (full fine-tuning,
// LoRA, checkpointing, and the shared-prompt layout on top).
func TestFuseGateUpEqualsPlain(t *testing.T) {
	for _, name := range cases {
		dir := filepath.Join("testdata", name)
		g := loadGolden(t, name)
		for _, mode := range []string{"full", "lora", "full+checkpoint"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				run := func(fuse bool) ([]float32, []float32) {
					opt := Options{FuseGateUp: fuse, Checkpoint: mode == "full+checkpoint"}
					var m *Model
					if mode == "lora" {
						m = loadLoRA(t, dir, opt)
					} else {
						var err error
						if m, err = Load(dir, testBackend(), opt); err != nil {
							t.Fatal(err)
						}
					}
					if fuse && !m.fuseGU && !m.arch.MLPBias {
						t.Fatal("FuseGateUp not in effect")
					}
					b := g.batch()
					out, err := m.Forward(b, ForwardOptions{Eval: true})
					if err != nil {
						t.Fatal(err)
					}
					logp := slices.Clone(out.LogProbs)
					m.ZeroGrad()
					if err := m.Backward(flat(g.Full.Dlogps)); err != nil {
						t.Fatal(err)
					}
					_, gr := m.TrainableBuffers()
					return logp, slices.Clone(gr)
				}
				wantL, wantG := run(false)
				gotL, gotG := run(true)
				checkEqual(t, "logp", to64(gotL), to64(wantL))
				checkGradsEqual(t, gotG, wantG)
			})
		}
	}
}

// The fast paths allocate nothing per step either: shared-prompt packed batch,
// FuseGateUp, BackwardSeq, full fine-tuning and LoRA.
func TestNoAllocFastStep(t *testing.T) {
	dir := filepath.Join("testdata", "llama_gqa")
	arch, err := ReadArch(dir)
	if err != nil {
		t.Fatal(err)
	}
	pairs := randPairs(rand.New(rand.NewPCG(9, 9)), 3, arch.Vocab)
	b, err := pairBatch(pairs, Layout{SharePrompt: true, Pack: true})
	if err != nil {
		t.Fatal(err)
	}
	dseq := []float32{0.1, -0.2, 0.3, -0.1, 0.2, -0.3}
	for _, lora := range []bool{false, true} {
		var m *Model
		if lora {
			m = loadLoRA(t, dir, Options{FuseGateUp: true})
		} else if m, err = Load(dir, testBackend(), Options{FuseGateUp: true}); err != nil {
			t.Fatal(err)
		}
		step := func() {
			if _, err := m.Forward(b, ForwardOptions{Eval: true}); err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if err := m.BackwardSeq(dseq); err != nil {
				t.Fatal(err)
			}
		}
		step()
		if n := testing.AllocsPerRun(3, step); n > 0 {
			t.Errorf("lora=%v: %.0f allocations per step", lora, n)
		}
	}
}
