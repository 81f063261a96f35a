package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func randomTensor(rng *rand.Rand, name string, dt DType, shape ...int) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return Tensor{Name: name, DType: dt, Shape: shape, F32: v}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestWriteReadRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	tensors := []Tensor{
		randomTensor(rng, "model.layers.0.mlp.up_proj.weight", BF16, 7, 3),
		randomTensor(rng, "model.embed_tokens.weight", F32, 5, 4),
		randomTensor(rng, "scale", F16, 3),
		randomTensor(rng, "scalar", F32),
		randomTensor(rng, "empty", BF16, 0, 4),
		randomTensor(rng, "odd", BF16, 1),
	}
	tensors[1].F32[0] = float32(math.Inf(-1))
	tensors[1].F32[1] = float32(math.Copysign(0, -1))
	meta := map[string]string{"format": "pt", "note": "ünïcode <&> \"quoted\""}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); !reflect.DeepEqual(got, meta) {
		t.Errorf("metadata = %v, want %v", got, meta)
	}
	for _, in := range tensors {
		info, ok := f.Tensor(in.Name)
		if !ok {
			t.Fatalf("tensor %q missing", in.Name)
		}
		if info.DType != in.DType || !reflect.DeepEqual(info.Shape, in.Shape) && len(in.Shape) > 0 {
			t.Errorf("%s: %s %v, want %s %v", in.Name, info.DType, info.Shape, in.DType, in.Shape)
		}
		if info.Offset%int64(in.DType.Size()) != 0 {
			t.Errorf("%s: data at offset %d, not aligned to %d", in.Name, info.Offset, in.DType.Size())
		}
		got := make([]float32, len(in.F32))
		if err := f.ReadFloat32(in.Name, got); err != nil {
			t.Fatal(err)
		}
		for i, v := range in.F32 {
			var want float32
			switch in.DType {
			case F32:
				want = v
			case BF16:
				want = bf16ToF32(f32ToBF16(v))
			case F16:
				want = f16ToF32(f32ToF16(v))
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Errorf("%s[%d] = %v, want %v", in.Name, i, got[i], want)
			}
		}
	}
	// The data section starts 8-byte aligned and the padding is spaces.
	raw, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Errorf("data starts at %d, not 8-byte aligned", 8+n)
	}
	if hdr := raw[8 : 8+n]; !bytes.HasSuffix(bytes.TrimRight(hdr, " "), []byte("}")) {
		t.Errorf("header padding is not spaces: %q", hdr)
	}
	if left := listDir(t, filepath.Dir(path)); !reflect.DeepEqual(left, []string{"rt.safetensors"}) {
		t.Errorf("directory holds %v, want only the file", left)
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	tensors := []Tensor{randomTensor(rng, "b", F16, 3), randomTensor(rng, "a", BF16, 5), randomTensor(rng, "c", F32, 2)}
	reversed := []Tensor{tensors[2], tensors[1], tensors[0]}
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "1.safetensors"), filepath.Join(dir, "2.safetensors")
	meta := map[string]string{"z": "1", "a": "2", "format": "pt"}
	if err := WriteFile(p1, tensors, meta); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p2, reversed, map[string]string{"format": "pt", "a": "2", "z": "1"}); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Error("same tensors in a different order gave different bytes")
	}
}

func TestWriteRejectsBadInputAndLeavesNoFile(t *testing.T) {
	ok := Tensor{Name: "ok", DType: F32, Shape: []int{2}, F32: []float32{1, 2}}
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"duplicate name", []Tensor{ok, ok}, `"ok" given twice`},
		{"empty name", []Tensor{{DType: F32, Shape: []int{1}, F32: []float32{1}}}, "empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: F32, Shape: []int{1}, F32: []float32{1}}}, "reserved"},
		{"shape mismatch", []Tensor{{Name: "w", DType: BF16, Shape: []int{2, 3}, F32: make([]float32, 5)}}, `"w": shape [2 3] has 6 elements but 5 values`},
		{"negative dimension", []Tensor{{Name: "w", DType: F32, Shape: []int{-1}, F32: nil}}, `"w": negative dimension`},
		{"unwritable dtype", []Tensor{{Name: "w", DType: I64, Shape: []int{1}, F32: []float32{1}}}, `"w": cannot write dtype "I64"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.safetensors")
			err := WriteFile(path, tc.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error = %v, want one naming %s and containing %q", err, path, tc.want)
			}
			if left := listDir(t, dir); len(left) != 0 {
				t.Errorf("directory holds %v after a failed write", left)
			}
			_, err = WriteModel(dir, tc.tensors, nil, 0)
			if err == nil {
				t.Error("WriteModel accepted the same input")
			}
			if left := listDir(t, dir); len(left) != 0 {
				t.Errorf("directory holds %v after a failed WriteModel", left)
			}
		})
	}
}

// A write that fails midway (here: the data writer errors) removes its temporary file and
// leaves the previous file untouched.
func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	old := []Tensor{{Name: "w", DType: F32, Shape: []int{1}, F32: []float32{42}}}
	if err := WriteFile(path, old, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	boom := errors.New("disk full")
	_, err := stageFile(path, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("stageFile error = %v, want %v", err, boom)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("the old file changed")
	}
	if left := listDir(t, dir); !reflect.DeepEqual(left, []string{"w.safetensors"}) {
		t.Errorf("directory holds %v, want only the old file", left)
	}
	// Rename failure: the target is a non-empty directory.
	target := filepath.Join(dir, "isdir")
	os.MkdirAll(filepath.Join(target, "x"), 0o755)
	if err := WriteFile(target, old, nil); err == nil {
		t.Error("WriteFile over a directory succeeded")
	}
	if left := listDir(t, dir); !reflect.DeepEqual(left, []string{"isdir", "w.safetensors"}) {
		t.Errorf("directory holds %v after a failed rename", left)
	}
}

// TestWriteModelMatchesShardedFixture: given the fixture model's float32 inputs in
// transformers' parameter order and its shard limit, WriteModel reproduces the fixture
// directory (written by the independent Python writer) byte for byte, index included.
func TestWriteModelMatchesShardedFixture(t *testing.T) {
	e := loadExpected(t)
	raw, _ := os.ReadFile("testdata/expected.json")
	var aux struct {
		Sharded struct {
			Inputs        []expectedTensor `json:"inputs"`
			MaxShardBytes int64            `json:"max_shard_bytes"`
		} `json:"sharded"`
	}
	if err := jsonUnmarshal(raw, &aux); err != nil {
		t.Fatal(err)
	}
	var tensors []Tensor
	for _, in := range aux.Sharded.Inputs {
		tensors = append(tensors, Tensor{Name: in.Name, DType: in.DType, Shape: in.Shape, F32: float32sFromBits(in.F32Bits)})
	}
	dir := t.TempDir()
	// Stale files from an earlier single-file save must go.
	os.WriteFile(filepath.Join(dir, SingleFileName), []byte("stale"), 0o644)
	os.WriteFile(filepath.Join(dir, "model-00001-of-00009.safetensors"), []byte("stale"), 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	paths, err := WriteModel(dir, tensors, map[string]string{"format": "pt"}, aux.Sharded.MaxShardBytes)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, e.Sharded.Files...), IndexFileName)
	var got []string
	for _, p := range paths {
		got = append(got, filepath.Base(p))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("wrote %v, want %v", got, want)
	}
	for _, name := range want {
		g, _ := os.ReadFile(filepath.Join(dir, name))
		w, _ := os.ReadFile(filepath.Join("testdata/sharded", name))
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs from the fixture:\n got %q\nwant %q", name, g, w)
		}
	}
	if left := listDir(t, dir); !reflect.DeepEqual(left, append([]string{"config.json"}, want...)) {
		t.Errorf("directory holds %v", left)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, m, e.Sharded.expectedFile)
	m.Close()
}

func TestWriteModelSharding(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var tensors []Tensor
	for _, n := range []string{"t0", "t1", "t2", "big", "t4", "t5"} {
		shape := []int{25} // 100 bytes as F32
		if n == "big" {
			shape = []int{100} // 400 bytes: over the limit, gets a shard alone
		}
		tensors = append(tensors, randomTensor(rng, n, F32, shape...))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, IndexFileName), []byte("stale"), 0o644)
	paths, err := WriteModel(dir, tensors, nil, 250)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 { // [t0 t1] [t2] [big] [t4 t5] + index
		t.Fatalf("wrote %v", paths)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	wantShard := map[string]string{"t0": ShardName(1, 4), "t1": ShardName(1, 4), "t2": ShardName(2, 4),
		"big": ShardName(3, 4), "t4": ShardName(4, 4), "t5": ShardName(4, 4)}
	for _, in := range tensors {
		info, _ := m.Tensor(in.Name)
		if filepath.Base(info.File) != wantShard[in.Name] {
			t.Errorf("%s in %s, want %s", in.Name, filepath.Base(info.File), wantShard[in.Name])
		}
		got := make([]float32, len(in.F32))
		if err := m.ReadFloat32(in.Name, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in.F32) {
			t.Errorf("%s did not round-trip", in.Name)
		}
	}
	var idx struct {
		Metadata struct {
			TotalSize int64 `json:"total_size"`
		} `json:"metadata"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err := jsonUnmarshal(raw, &idx); err != nil || idx.Metadata.TotalSize != 900 {
		t.Errorf("index total_size = %d (%v), want 900", idx.Metadata.TotalSize, err)
	}

	// Saving again unsharded replaces the shards and the index with model.safetensors.
	if _, err := WriteModel(dir, tensors, nil, 0); err != nil {
		t.Fatal(err)
	}
	if left := listDir(t, dir); !reflect.DeepEqual(left, []string{SingleFileName}) {
		t.Errorf("directory holds %v, want only %s", left, SingleFileName)
	}
}
