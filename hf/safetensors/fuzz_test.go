package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseHeader feeds arbitrary bytes to the file parser. It must never panic; whatever
// it accepts must be internally consistent (tensors inside the file, tiling the data
// section, shapes matching byte counts) and readable without error.
func FuzzParseHeader(f *testing.F) {
	for _, name := range []string{"f32.safetensors", "ints.safetensors", "unpadded.safetensors", "peer.safetensors", "writer_golden.safetensors"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(buildFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(buildFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(buildFile(`{"a":{"dtype":"BF16","shape":[0,3],"data_offsets":[0,0]}}`, nil))
	f.Add(buildFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(buildFile(`{}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := openReader(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		n := int64(binary.LittleEndian.Uint64(data))
		next := 8 + n
		for _, ti := range file.Tensors() {
			if ti.Offset != next || ti.Offset+ti.Size > int64(len(data)) {
				t.Fatalf("tensor %q at [%d,+%d) breaks the tiling (expected start %d, file %d bytes)", ti.Name, ti.Offset, ti.Size, next, len(data))
			}
			next = ti.Offset + ti.Size
			if int64(ti.NumElements())*int64(ti.DType.Size()) != ti.Size {
				t.Fatalf("tensor %q: shape %v of %s vs %d bytes", ti.Name, ti.Shape, ti.DType, ti.Size)
			}
			if ti.DType.Float32Readable() {
				if err := file.ReadFloat32(ti.Name, make([]float32, ti.NumElements())); err != nil {
					t.Fatalf("accepted tensor %q unreadable: %v", ti.Name, err)
				}
			}
		}
		if next != int64(len(data)) {
			t.Fatalf("tensors end at %d, file has %d bytes", next, len(data))
		}
	})
}

// FuzzShardIndex opens arbitrary model.safetensors.index.json bytes next to
// the two shards of testdata/sharded. The index is refused with an ErrInvalid
// naming it, or the model it describes is exactly the shards' tensors, each
// readable; nothing may panic or reach outside the model directory.
// `go test -run '^$' -fuzz '^FuzzShardIndex$' ./hf/safetensors` explores.
func FuzzShardIndex(f *testing.F) {
	src := filepath.Join("testdata", "sharded")
	index, err := os.ReadFile(filepath.Join(src, IndexFileName))
	if err != nil {
		f.Fatal(err)
	}
	// The model directory is made once per fuzzing process: the two shards and
	// the real index (so an index naming the index file as a shard meets a
	// file that is not safetensors, as it would on disk). Each exec hands its
	// bytes to openIndexed, what OpenModel runs on the index file's bytes.
	dir := f.TempDir()
	for _, n := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", IndexFileName} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	p := filepath.Join(dir, IndexFileName)
	f.Add(index)
	for _, s := range []string{
		`{"weight_map": {}}`,
		`{"metadata": {"total_size": -1}, "weight_map": {"lm_head.weight": "../model-00002-of-00002.safetensors"}}`,
		`{"weight_map": {"lm_head.weight": "/etc/passwd"}}`,
		`{"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors", "lm_head.weight": "model-00001-of-00002.safetensors"}}`,
		`{"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors", "model.norm.weight": "model-00002-of-00002.safetensors"}}`,
		`{"weight_map": {"x": "model.safetensors.index.json"}}`,
		`{"weight_map": {"x": "missing.safetensors"}}`,
		`{"weight_map": {"": "model-00001-of-00002.safetensors", "__metadata__": "model-00002-of-00002.safetensors"}}`,
		`{"weight_map": {"x": 3}}`,
		`{"weight_map": null, "metadata": []}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := openIndexed(p, data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		defer m.Close()
		for _, f := range m.Files() {
			if filepath.Dir(f) != dir {
				t.Fatalf("model file %s outside %s", f, dir)
			}
		}
		for _, ti := range m.Tensors() {
			if _, ok := m.Tensor(ti.Name); !ok {
				t.Fatalf("listed tensor %q cannot be looked up", ti.Name)
			}
		}
	})
}
