package model

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels/cpu"
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
				Options{Frozen: true, Storage: Storage{Keep16: true, Quant4: c.t, DoubleQuant: c.double}})
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

// torch_dtype bfloat16 over a float32 checkpoint: weights rounded to bf16 as
// tensor.to(torch.bfloat16) does — the llama_bf16 fixture is llama-shaped float32 weights
// rounded that way, so a float32 copy of it stored back as bf16 must give its goldens.
func TestStorageTo16RoundsFloat32(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "llama_bf16")
	f32, err := Load(src, testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, x := range f32.Tensors() {
		// nudge each value by a fraction of a bf16 ulp: rounding must undo it
		v := append([]float32(nil), x.Data...)
		for i := range v {
			if is2DWeight(x.Name) { // only what gets stored 16-bit; norms stay float32
				v[i] *= 1 + 1.0/1024
			}
		}
		ts = append(ts, safetensors.Tensor{Name: x.Name, DType: safetensors.F32, Shape: x.Shape, F32: v})
	}
	f32.Close()
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
	m, err := Load(dir, testBackend(), Options{Frozen: true, Storage: Storage{Keep16: true, To16: safetensors.BF16}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g := loadGolden(t, "llama_bf16")
	out, err := m.Forward(g.batch(), ForwardOptions{Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLogps(t, "f32 rounded to bf16", out.LogProbs, g.Full.Logps)
}

// bf16LoRAFixture gives the bf16 compute tests a CPU backend with a bf16 GEMM (the test
// is skipped without one; closed at the test's end), the llama_bf16 checkpoint
// directory, its float64 goldens and its adapter's LoRA config.
func bf16LoRAFixture(t *testing.T) (*cpu.Backend, string, *golden, *LoRAConfig) {
	t.Helper()
	be := cpu.New(2)
	t.Cleanup(be.Close)
	if err := be.BF16Ready(); err != nil {
		t.Skipf("no bf16 GEMM: %v", err)
	}
	dir := filepath.Join("testdata", "llama_bf16")
	lc, err := ReadAdapterConfig(filepath.Join(dir, "adapter"))
	if err != nil {
		t.Fatal(err)
	}
	return be, dir, loadGolden(t, "llama_bf16"), lc
}

// bf16 compute (oneDNN's bf16 GEMM, float32 accumulation) on a bf16 LoRA base: the
// products' inputs are rounded to bf16, so log-probs drift from the float64 goldens by
// bf16's resolution (2⁻⁸ relative per input) — and they must actually differ from the
// float32 path's (the bf16 GEMM ran), stay within 3e-2, and give LoRA gradients within 5e-2
// of the float64 ones.
func TestComputeBF16(t *testing.T) {
	be, dir, g, lc := bf16LoRAFixture(t)
	for _, v := range storageVariants {
		t.Run(v.name, func(t *testing.T) {
			opt := v.opt
			opt.LoRA, opt.Storage, opt.ComputeBF16 = lc, Storage{Keep16: true}, true
			m, err := Load(dir, be, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.ComputeDType() != "bfloat16" {
				t.Fatalf("compute %s", m.ComputeDType())
			}
			if err := m.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
				t.Fatal(err)
			}
			out, err := m.Forward(g.batch(), ForwardOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := g.LoRA.Logps
			T := len(want[0])
			worst := 0.0
			for r, row := range want {
				for c, w := range row {
					e := math.Abs(float64(out.LogProbs[r*T+c])-w) / math.Max(math.Abs(w), 1)
					worst = math.Max(worst, e)
				}
			}
			if !(worst <= 3e-2) || !(worst > 1e-6) {
				t.Fatalf("bf16 compute: max logp rel err %.3g vs float64 (want in (1e-6, 3e-2])", worst)
			}
			m.ZeroGrad()
			if err := m.Backward(flat(g.LoRA.Dlogps)); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(filepath.Join(dir, "grads_lora.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			gw := 0.0
			for _, tr := range m.Trainable() {
				ref := make([]float32, len(tr.Grad))
				if err := f.ReadFloat32(tr.Name, ref); err != nil {
					t.Fatal(err)
				}
				var num, den float64
				for i := range ref {
					num = math.Max(num, math.Abs(float64(tr.Grad[i]-ref[i])))
					den = math.Max(den, math.Abs(float64(ref[i])))
				}
				gw = math.Max(gw, num/den)
			}
			if !(gw <= 5e-2) {
				t.Fatalf("bf16 compute: LoRA grads max rel err %.3g", gw)
			}
			t.Logf("bf16 compute: logp drift %.3g, LoRA grad drift %.3g (relative to float64)", worst, gw)
		})
	}
}

// TestComputeBF16InPlace: under bf16 compute on a host-memory backend the stored bf16
// weights are GEMM operands as they are (kernels.HostBF16); the staged path (rows copied
// into scratch, chunk by chunk — what a device backend does) must give the same
// log-probs and LoRA gradients, up to float32 summation order across chunks (a wrong row
// offset or part boundary would differ at bf16's resolution, ~1e-2).
func TestComputeBF16InPlace(t *testing.T) {
	be, dir, g, lc := bf16LoRAFixture(t)
	run := func(opt Options, inPlace bool) ([]float32, [][]float32) {
		opt.LoRA, opt.Storage, opt.ComputeBF16 = lc, Storage{Keep16: true}, true
		m, err := Load(dir, be, opt)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if !m.bf16Host {
			t.Fatal("the CPU backend's bf16 memory is host memory; the in-place path is off")
		}
		m.bf16Host = inPlace
		if err := m.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
			t.Fatal(err)
		}
		out, err := m.Forward(g.batch(), ForwardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lp := append([]float32(nil), out.LogProbs...)
		m.ZeroGrad()
		if err := m.Backward(flat(g.LoRA.Dlogps)); err != nil {
			t.Fatal(err)
		}
		var grads [][]float32
		for _, tr := range m.Trainable() {
			grads = append(grads, append([]float32(nil), tr.Grad...))
		}
		return lp, grads
	}
	for _, v := range storageVariants {
		t.Run(v.name, func(t *testing.T) {
			lpA, gA := run(v.opt, true)
			lpB, gB := run(v.opt, false)
			worst := 0.0
			for i := range lpA {
				worst = math.Max(worst, math.Abs(float64(lpA[i]-lpB[i]))/math.Max(math.Abs(float64(lpB[i])), 1))
			}
			if !(worst <= 1e-5) {
				t.Fatalf("log-probs in place vs staged: max rel diff %.3g", worst)
			}
			for k := range gA {
				var num, den float64
				for i := range gA[k] {
					num = math.Max(num, math.Abs(float64(gA[k][i]-gB[k][i])))
					den = math.Max(den, math.Abs(float64(gB[k][i])))
				}
				if !(num <= 1e-4*den) {
					t.Fatalf("grad %d in place vs staged: max diff %.3g of max %.3g", k, num, den)
				}
			}
		})
	}
}
