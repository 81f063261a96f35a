package model

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/quant"
)

// storageVariants are the layouts the packed paths must agree under.
var storageVariants = []struct {
	name string
	opt  Options
}{
	{"plain", Options{}},
	{"fused gate/up", Options{FuseGateUp: true}},
	{"chunked head", Options{LogitsBudget: 3 * 64}},
	{"checkpointed", Options{Checkpoint: true}},
}

// goldenLoRAWith is testGoldenLoRA on dir's goldens with extra options: adapters-off
// log-probs, LoRA log-probs and the LoRA gradients against PyTorch.
func goldenLoRAWith(t *testing.T, dir string, opt Options, wantAdaptersOff bool) *Model {
	t.Helper()
	g := loadGolden(t, filepath.Base(dir))
	m := loadLoRA(t, dir, opt)
	b := g.batch()
	out, err := m.Forward(b, ForwardOptions{NoAdapters: true, Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	if wantAdaptersOff {
		checkLogps(t, "adapters off", out.LogProbs, g.Full.Logps)
	}
	if out, err = m.Forward(b, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	checkLogps(t, "lora", out.LogProbs, g.LoRA.Logps)
	m.ZeroGrad()
	if err := m.Backward(flat(g.LoRA.Dlogps)); err != nil {
		t.Fatal(err)
	}
	checkGrads(t, "lora", filepath.Join(dir, "grads_lora.safetensors"), m.Trainable())
	return m
}

// A LoRA base kept in its checkpoint's bf16: the PyTorch goldens hold unchanged, and the
// packed weights take 2 bytes a parameter.
func TestStorageKeep16LoRAGolden(t *testing.T) {
	dir := filepath.Join("testdata", "llama_bf16")
	for _, v := range storageVariants {
		t.Run(v.name, func(t *testing.T) {
			opt := v.opt
			opt.Storage = Storage{Keep16: true}
			m := goldenLoRAWith(t, dir, opt, true)
			var want int64
			for _, ts := range m.Tensors() {
				if !is2DWeight(ts.Name) {
					if ts.Packed != nil {
						t.Errorf("%s packed", ts.Name)
					}
					continue
				}
				if ts.Packed == nil || ts.Data != nil {
					t.Fatalf("%s: not packed (Data %d values)", ts.Name, len(ts.Data))
				}
				want += 2 * int64(ts.Shape[0]*ts.Shape[1])
			}
			if got := m.PackedBytes(); got != want {
				t.Errorf("PackedBytes %d, want %d", got, want)
			}
		})
	}
}

// A Frozen bf16 model (a reference model, an inference command) kept in bf16.
func TestStorageKeep16FrozenGolden(t *testing.T) {
	g := loadGolden(t, "llama_bf16")
	for _, v := range storageVariants[:3] {
		t.Run(v.name, func(t *testing.T) {
			opt := v.opt
			opt.Frozen, opt.Storage = true, Storage{Keep16: true}
			m, err := Load(filepath.Join("testdata", "llama_bf16"), testBackend(), opt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			out, err := m.Forward(g.batch(), ForwardOptions{Eval: true, Entropy: true, MeanLogit: true})
			if err != nil {
				t.Fatal(err)
			}
			checkLogps(t, "frozen bf16", out.LogProbs, g.Full.Logps)
			checkLogps(t, "entropy", out.Entropy, g.Full.Entropy)
		})
	}
}

var bnbCases = []string{"llama_bnb4_nf4", "llama_bnb4_nf4_dq", "llama_bnb4_fp4_dq"}

// Pre-quantized bitsandbytes checkpoints (reference/quant/gen_bnb_model.py): log-probs
// within 1e-5 of a float64 forward over bitsandbytes' dequantized weights, and QLoRA
// (a LoRA adapter on the 4-bit base) log-probs and gradients against PyTorch.
func TestPrequantizedGolden(t *testing.T) {
	for _, name := range bnbCases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			g := loadGolden(t, name)
			for _, v := range storageVariants[:3] {
				opt := v.opt
				opt.Frozen = true
				m, err := Load(dir, testBackend(), opt)
				if err != nil {
					t.Fatal(err)
				}
				out, err := m.Forward(g.batch(), ForwardOptions{Eval: true})
				if err != nil {
					t.Fatal(err)
				}
				e := checkLogps(t, v.name, out.LogProbs, g.Full.Logps)
				t.Logf("%s: frozen max logp rel err %.3g", v.name, e)
				for _, ts := range m.Tensors() {
					if isLinearWeight(ts.Name) && (ts.Packed == nil || ts.Packed.Parts[0].Q4 == nil) {
						t.Fatalf("%s is not 4-bit", ts.Name)
					}
				}
				m.Close()
				goldenLoRAWith(t, dir, v.opt, true).Close()
			}
		})
	}
}

// Quantize on load (load_in_4bit over a bf16 checkpoint) gives bitsandbytes' codes and
// scales: the packed bytes and absmax of the pre-quantized reference checkpoint.
func TestQuantizeOnLoadMatchesBitsandbytes(t *testing.T) {
	for _, c := range []struct {
		ref    string
		t      quant.Type
		double bool
	}{
		{"llama_bnb4_nf4", quant.NF4, false},
		{"llama_bnb4_nf4_dq", quant.NF4, true},
		{"llama_bnb4_fp4_dq", quant.FP4, true},
	} {
		t.Run(c.ref, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata", "llama_bf16"), testBackend(),
				Options{Frozen: true, Storage: Storage{Quant4: c.t, DoubleQuant: c.double}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ref, err := safetensors.OpenModel(filepath.Join("testdata", c.ref))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			n := 0
			for _, ts := range m.Tensors() {
				if !isLinearWeight(ts.Name) {
					if is2DWeight(ts.Name) && (ts.Packed == nil || ts.Packed.Parts[0].DType != safetensors.BF16) {
						t.Errorf("%s: want bf16 storage beside 4-bit linears", ts.Name)
					}
					continue
				}
				n++
				w := ts.Packed.Parts[0].Q4
				rw, err := quant.FromTensors(ref, ts.Name)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(w.Packed, rw.Packed) {
					t.Fatalf("%s: packed codes differ from bitsandbytes'", ts.Name)
				}
				if w.Nested != c.double {
					t.Fatalf("%s: nested %v", ts.Name, w.Nested)
				}
				if !c.double {
					for i := range rw.Absmax {
						if w.Absmax[i] != rw.Absmax[i] {
							t.Fatalf("%s: absmax %d: %g, bitsandbytes %g", ts.Name, i, w.Absmax[i], rw.Absmax[i])
						}
					}
				}
			}
			if n != 14 {
				t.Fatalf("%d linear weights, want 14", n)
			}
			g := loadGolden(t, c.ref)
			out, err := m.Forward(g.batch(), ForwardOptions{Eval: true})
			if err != nil {
				t.Fatal(err)
			}
			checkLogps(t, "quantized on load", out.LogProbs, g.Full.Logps)
		})
	}
}

func TestPrequantizedRefusesFullFineTune(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "llama_bnb4_nf4"), testBackend(), Options{})
	if err == nil || !strings.Contains(err.Error(), "LoRA") {
		t.Fatalf("full fine-tuning of a 4-bit checkpoint: err %v, want a refusal naming LoRA", err)
	}
}
