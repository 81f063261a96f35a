package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The fixtures in testdata/ and expected.json come from reference/safetensors/make_fixtures.py:
// files written by an independent Python writer (one by the peer benchmark's numpy writer),
// expected floats from torch's own dtype conversions, stored as bit patterns.

type expectedTensor struct {
	Name      string   `json:"name"`
	DType     DType    `json:"dtype"`
	Shape     []int    `json:"shape"`
	F32Bits   []uint32 `json:"f32_bits"`
	F32SHA256 string   `json:"f32_sha256"`
	Ints      []int64  `json:"ints"`
}

type expectedFile struct {
	Metadata map[string]string `json:"metadata"`
	Tensors  []expectedTensor  `json:"tensors"`
}

type expectedJSON struct {
	Files   map[string]expectedFile `json:"files"`
	Sharded struct {
		Files []string `json:"files"`
		expectedFile
	} `json:"sharded"`
	Rounding struct {
		F32Bits  []uint32 `json:"f32_bits"`
		BF16Bits []uint16 `json:"bf16_bits"`
		F16Bits  []uint16 `json:"f16_bits"`
	} `json:"rounding"`
	RandomRounding struct {
		Count      int    `json:"count"`
		BF16SHA256 string `json:"bf16_sha256"`
		F16SHA256  string `json:"f16_sha256"`
	} `json:"random_rounding"`
	WriterGolden struct {
		File     string            `json:"file"`
		Metadata map[string]string `json:"metadata"`
		Inputs   []expectedTensor  `json:"inputs"`
	} `json:"writer_golden"`
}

func loadExpected(t *testing.T) *expectedJSON {
	t.Helper()
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expectedJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func float32sFromBits(bits []uint32) []float32 {
	out := make([]float32, len(bits))
	for i, b := range bits {
		out[i] = math.Float32frombits(b)
	}
	return out
}

func sha256Float32(vals []float32) string {
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, vals)
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// checkTensors compares every tensor of r with the expectation, in order, bit for bit.
func checkTensors(t *testing.T, r Reader, want expectedFile) {
	t.Helper()
	if md := r.Metadata(); !reflect.DeepEqual(md, want.Metadata) && !(len(md) == 0 && len(want.Metadata) == 0) {
		t.Errorf("metadata = %v, want %v", md, want.Metadata)
	}
	got := r.Tensors()
	if len(got) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got), len(want.Tensors))
	}
	for i, w := range want.Tensors {
		g := got[i]
		if g.Name != w.Name || g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) {
			t.Errorf("tensor %d = %s %s %v, want %s %s %v", i, g.Name, g.DType, g.Shape, w.Name, w.DType, w.Shape)
			continue
		}
		vals := make([]float32, g.NumElements())
		if err := r.ReadFloat32(w.Name, vals); err != nil {
			t.Errorf("ReadFloat32(%s): %v", w.Name, err)
			continue
		}
		if w.F32SHA256 != "" {
			if h := sha256Float32(vals); h != w.F32SHA256 {
				t.Errorf("%s: sha256 of float32 values = %s, torch gives %s", w.Name, h, w.F32SHA256)
			}
		} else {
			for j, b := range w.F32Bits {
				if gb := math.Float32bits(vals[j]); gb != b {
					t.Errorf("%s[%d] = %#08x, torch gives %#08x", w.Name, j, gb, b)
				}
			}
		}
		if w.Ints != nil {
			i64 := make([]int64, len(w.Ints))
			if err := r.ReadInt64(w.Name, i64); err != nil {
				t.Errorf("ReadInt64(%s): %v", w.Name, err)
			} else if !reflect.DeepEqual(i64, w.Ints) {
				t.Errorf("ReadInt64(%s) = %v, want %v", w.Name, i64, w.Ints)
			}
			if w.DType == I32 {
				i32 := make([]int32, len(w.Ints))
				if err := r.ReadInt32(w.Name, i32); err != nil {
					t.Errorf("ReadInt32(%s): %v", w.Name, err)
				}
				for j := range i32 {
					if int64(i32[j]) != w.Ints[j] {
						t.Errorf("ReadInt32(%s)[%d] = %d, want %d", w.Name, j, i32[j], w.Ints[j])
					}
				}
			}
		}
	}
}

func TestReadFixturesMatchTorch(t *testing.T) {
	e := loadExpected(t)
	for name, want := range e.Files {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkTensors(t, f, want)
		})
	}
}

func TestReadShardedModelMatchesTorch(t *testing.T) {
	e := loadExpected(t)
	for _, path := range []string{"testdata/sharded", "testdata/sharded/" + IndexFileName} {
		m, err := OpenModel(path)
		if err != nil {
			t.Fatal(err)
		}
		checkTensors(t, m, e.Sharded.expectedFile)
		var files []string
		for _, p := range m.Files() {
			files = append(files, filepath.Base(p))
		}
		if !reflect.DeepEqual(files, e.Sharded.Files) {
			t.Errorf("files = %v, want %v", files, e.Sharded.Files)
		}
		m.Close()
	}
}

func TestOpenModelSingleFile(t *testing.T) {
	e := loadExpected(t)
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/peer.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SingleFileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkTensors(t, m, e.Files["peer.safetensors"])
}

func TestRoundingMatchesTorch(t *testing.T) {
	e := loadExpected(t)
	r := e.Rounding
	for i, in := range r.F32Bits {
		f := math.Float32frombits(in)
		if got := f32ToBF16(f); got != r.BF16Bits[i] {
			t.Errorf("bf16(%#08x) = %#04x, torch gives %#04x", in, got, r.BF16Bits[i])
		}
		if got := f32ToF16(f); got != r.F16Bits[i] {
			t.Errorf("f16(%#08x) = %#04x, torch gives %#04x", in, got, r.F16Bits[i])
		}
	}
}

// fmix32 is murmur3's finalizer; make_fixtures.py draws the same bits with numpy.
func fmix32(i uint32) uint32 {
	h := i * 0x9E3779B1
	h ^= h >> 16
	h *= 0x85EBCA6B
	h ^= h >> 13
	h *= 0xC2B2AE35
	h ^= h >> 16
	return h
}

// TestRandomBitPatternRoundingMatchesTorch rounds 2^20 pseudo-random float32 bit patterns
// (every exponent, NaNs, subnormals) and compares the bytes with torch's .to(bfloat16/float16).
func TestRandomBitPatternRoundingMatchesTorch(t *testing.T) {
	e := loadExpected(t)
	rr := e.RandomRounding
	bf := make([]byte, 2*rr.Count)
	hf := make([]byte, 2*rr.Count)
	for i := 0; i < rr.Count; i++ {
		f := math.Float32frombits(fmix32(uint32(i)))
		binary.LittleEndian.PutUint16(bf[2*i:], f32ToBF16(f))
		binary.LittleEndian.PutUint16(hf[2*i:], f32ToF16(f))
	}
	if s := sha256.Sum256(bf); hex.EncodeToString(s[:]) != rr.BF16SHA256 {
		t.Errorf("bf16 bytes differ from torch's")
	}
	if s := sha256.Sum256(hf); hex.EncodeToString(s[:]) != rr.F16SHA256 {
		t.Errorf("f16 bytes differ from torch's")
	}
}

// TestWriterMatchesGoldenFile: WriteFile must produce exactly the bytes the independent
// Python writer produced from torch-converted data, given the same float32 inputs.
func TestWriterMatchesGoldenFile(t *testing.T) {
	e := loadExpected(t)
	g := e.WriterGolden
	var tensors []Tensor
	for _, in := range g.Inputs {
		tensors = append(tensors, Tensor{Name: in.Name, DType: in.DType, Shape: in.Shape, F32: float32sFromBits(in.F32Bits)})
	}
	out := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteFile(out, tensors, g.Metadata); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want, err := os.ReadFile(filepath.Join("testdata", g.File))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("WriteFile output differs from %s:\n got %q\nwant %q", g.File, got, want)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
