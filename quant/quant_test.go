package quant

import (
	"math"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
)

// The goldens are bitsandbytes' formulas rendered by reference/quant/bnb_ref.py
// (/usr/bin/python3 reference/quant/bnb_ref.py quant/testdata).
var cases = []struct {
	name   string
	t      Type
	bs     int
	double bool
}{
	{"nf4_f32", NF4, 64, false},
	{"nf4_bf16_dq", NF4, 64, true},
	{"fp4_f32_dq", FP4, 64, true},
	{"nf4_odd", NF4, 64, true},
	{"nf4_bs128_bf16", NF4, 128, false},
}

func openGolden(t *testing.T) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open("testdata/bnb4.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func floats(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("golden tensor %s missing", name)
	}
	v := make([]float32, ti.NumElements())
	if err := f.ReadFloat32(name, v); err != nil {
		t.Fatal(err)
	}
	return v
}

func raw(t *testing.T, f *safetensors.File, name string) []byte {
	t.Helper()
	ti, _ := f.Tensor(name)
	b := make([]byte, ti.NumElements())
	if err := f.ReadRaw(name, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Pre-quantized checkpoints: dequantized weights bit-exact against the reference.
func TestDequantizeCheckpointBitExact(t *testing.T) {
	f := openGolden(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := FromTensors(f, c.name+".weight")
			if err != nil {
				t.Fatal(err)
			}
			if w.Type != c.t || w.Blocksize != c.bs || w.Nested != c.double {
				t.Fatalf("state %s/%d/nested=%v, want %s/%d/%v", w.Type, w.Blocksize, w.Nested, c.t, c.bs, c.double)
			}
			want := floats(t, f, c.name+".dequant")
			got := make([]float32, w.N())
			w.Dequantize(got, w.Scales(), 0, w.N())
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d: %g (bits %08x), reference %g (bits %08x)", i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
			// A sub-range (what a per-tile GEMM asks for) equals the same slice of the whole.
			lo, hi := 37, min(w.N(), 37+200)
			part := make([]float32, hi-lo)
			w.Dequantize(part, w.Scales(), lo, hi)
			for i := range part {
				if math.Float32bits(part[i]) != math.Float32bits(want[lo+i]) {
					t.Fatalf("range [%d,%d) value %d differs", lo, hi, i)
				}
			}
		})
	}
}

// Quantize on load: packed codes and absmax as bitsandbytes computes them from the source.
func TestQuantize4MatchesReference(t *testing.T) {
	f := openGolden(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ti, _ := f.Tensor(c.name + ".source")
			src := floats(t, f, c.name+".source")
			w, err := Quantize4(src, ti.Shape, ti.DType, c.t, c.bs, c.double)
			if err != nil {
				t.Fatal(err)
			}
			wantPacked := raw(t, f, c.name+".weight")
			if len(w.Packed) != len(wantPacked) {
				t.Fatalf("%d packed bytes, reference %d", len(w.Packed), len(wantPacked))
			}
			for i := range wantPacked {
				if w.Packed[i] != wantPacked[i] {
					t.Fatalf("packed byte %d: %02x, reference %02x", i, w.Packed[i], wantPacked[i])
				}
			}
			rawAbs := c.name + ".weight.absmax"
			if c.double {
				rawAbs = c.name + ".absmax_raw"
			}
			wantAbs := floats(t, f, rawAbs)
			gotAbs := w.Absmax
			if c.double {
				// Absmax is not kept once double-quantized; recompute it from the blocks.
				_, gotAbs = scaleBlocks(src, c.bs)
			}
			for i := range wantAbs {
				if math.Float32bits(gotAbs[i]) != math.Float32bits(wantAbs[i]) {
					t.Fatalf("absmax %d: %g, reference %g", i, gotAbs[i], wantAbs[i])
				}
			}
			if !c.double {
				return
			}
			// The offset is absmax.mean(): torch sums float32 in its own order, we in float64,
			// so the offset may differ by an ulp and a nested code by one step; the scales
			// must still agree to the nested code's resolution.
			wantQ := raw(t, f, c.name+".weight.absmax")
			ref, err := FromTensors(f, c.name+".weight")
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(w.Offset - ref.Offset)); !(d <= 2e-7*math.Abs(float64(ref.Offset))) {
				t.Fatalf("offset %g, reference %g", w.Offset, ref.Offset)
			}
			same := 0
			for i := range wantQ {
				if w.QAbsmax[i] == wantQ[i] {
					same++
				} else if d := int(w.QAbsmax[i]) - int(wantQ[i]); d < -1 || d > 1 {
					t.Fatalf("nested code %d: %d, reference %d", i, w.QAbsmax[i], wantQ[i])
				}
			}
			if same < len(wantQ)-1 {
				t.Fatalf("%d of %d nested codes equal the reference", same, len(wantQ))
			}
			gs, rs := w.Scales(), ref.Scales()
			for i := range rs {
				if d := math.Abs(float64(gs[i] - rs[i])); !(d <= 0.02*float64(rs[i])) {
					t.Fatalf("scale %d: %g, reference %g", i, gs[i], rs[i])
				}
			}
		})
	}
}

func TestDynamicMap(t *testing.T) {
	f := openGolden(t)
	want := floats(t, f, "dynamic_map")
	got := DynamicMap()
	if len(got) != len(want) {
		t.Fatalf("%d values, reference %d", len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("value %d: %g, reference %g", i, got[i], want[i])
		}
	}
}

func TestFromTensorsErrors(t *testing.T) {
	f := openGolden(t)
	if _, err := FromTensors(f, "nf4_f32.source"); err == nil {
		t.Fatal("a plain tensor was taken for a quantized one")
	}
	if !IsQuantized(f, "nf4_f32.weight") || IsQuantized(f, "nf4_f32.source") {
		t.Fatal("IsQuantized")
	}
	for _, n := range []string{"nf4_f32.weight.absmax", "x.weight.quant_state.bitsandbytes__nf4", "a.weight.nested_quant_map"} {
		if !IsCompanion(n) {
			t.Errorf("%s is a companion", n)
		}
	}
	if IsCompanion("model.norm.weight") {
		t.Error("model.norm.weight is not a companion")
	}
	if _, err := Quantize4(make([]float32, 10), []int{2, 5}, safetensors.F32, NF4, 48, false); err == nil {
		t.Fatal("blocksize 48 accepted")
	}
}
