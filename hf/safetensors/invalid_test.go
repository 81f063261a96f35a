package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildFile assembles a safetensors file from a header string and a data section.
func buildFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestInvalidFiles(t *testing.T) {
	valid := buildFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}`, make([]byte, 12))
	withLen := func(n uint64, rest []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, n)
		return append(b, rest...)
	}
	tests := []struct {
		name   string
		file   []byte
		tensor string // the tensor the message must name, if any
		want   string
	}{
		{"empty file", nil, "", "too short"},
		{"short length prefix", []byte{1, 2, 3, 4}, "", "too short"},
		{"header length past end", withLen(1000, []byte(`{}`)), "", "runs past the end"},
		{"absurd header length", withLen(1<<40, []byte(`{}`)), "", "exceeds"},
		{"zero header length", withLen(0, nil), "", "not a JSON object"},
		{"header not an object", buildFile(`[1,2]`, nil), "", "not a JSON object"},
		{"invalid JSON", buildFile(`{"a":{"dtype":"F32",`, nil), "", "header JSON"},
		{"data after JSON", buildFile(`{} {}`, nil), "", "data after the JSON object"},
		{"duplicate tensor", buildFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), "a", "twice"},
		{"metadata not strings", buildFile(`{"__metadata__":{"format":1}}`, nil), "", "__metadata__"},
		{"unknown dtype", buildFile(`{"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "unknown dtype"},
		{"missing dtype", buildFile(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "missing dtype"},
		{"missing shape", buildFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), "w", "missing shape"},
		{"missing offsets", buildFile(`{"w":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "w", "missing data_offsets"},
		{"negative dimension", buildFile(`{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "negative"},
		{"fractional dimension", buildFile(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "not an integer"},
		{"overflowing shape", buildFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "too many elements"},
		{"shape/byte mismatch", buildFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "w", "needs 12 bytes"},
		{"three offsets", buildFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "w", "data_offsets has 3"},
		{"end before begin", buildFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, make([]byte, 8)), "w", "end before"},
		{"offset past data", buildFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)), "w", "run past"},
		{"overlap", buildFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "b", "overlaps"},
		{"gap", buildFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "b", "gap"},
		{"leading gap", buildFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "a", "gap"},
		{"trailing bytes", buildFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 12)), "", "8 unexplained bytes"},
		{"truncated data", valid[:len(valid)-3], "b", "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			msg := err.Error()
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", msg)
			}
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			if tc.tensor != "" && !strings.Contains(msg, `"`+tc.tensor+`"`) {
				t.Errorf("error %q does not name tensor %q", msg, tc.tensor)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}
	// And the valid base file does open.
	if _, err := openReader(bytes.NewReader(valid), int64(len(valid)), "valid"); err != nil {
		t.Fatalf("valid file: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	file := buildFile(`{"f":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"u":{"dtype":"U64","shape":[1],"data_offsets":[16,24]},"q":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[24,25]},"i":{"dtype":"I64","shape":[1],"data_offsets":[25,33]}}`, make([]byte, 33))
	f, err := openReader(bytes.NewReader(file), int64(len(file)), "x.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		read func() error
		want string
	}{
		{"no such tensor", func() error { return f.ReadFloat32("nope", nil) }, `no tensor "nope"`},
		{"dst too short", func() error { return f.ReadFloat32("f", make([]float32, 3)) }, `"f" has 4 elements (shape [2 2]), destination has 3`},
		{"dst too long", func() error { return f.ReadFloat32("f", make([]float32, 5)) }, "destination has 5"},
		{"U64 as float32", func() error { return f.ReadFloat32("u", make([]float32, 1)) }, "dtype U64"},
		{"F8 as float32", func() error { return f.ReadFloat32("q", make([]float32, 1)) }, "dtype F8_E4M3"},
		{"F32 as int64", func() error { return f.ReadInt64("f", make([]int64, 4)) }, "cannot be read as int64"},
		{"I64 as int32", func() error { return f.ReadInt32("i", make([]int32, 1)) }, "cannot be read as int32"},
		{"raw size", func() error { return f.ReadRaw("f", make([]byte, 4)) }, "is 16 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.safetensors") {
				t.Errorf("error = %v, want one naming x.safetensors and containing %q", err, tc.want)
			}
		})
	}
}

// writeShardedFixture copies testdata/sharded into a temp dir so tests can break it.
func writeShardedFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/sharded")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/sharded", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInvalidModels(t *testing.T) {
	const shard1, shard2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
	index := func(weightMap string) string {
		return `{"metadata":{"total_size":90},"weight_map":{` + weightMap + `}}`
	}
	full := `"model.embed_tokens.weight":"` + shard1 + `","model.layers.0.input_layernorm.weight":"` + shard1 +
		`","lm_head.weight":"` + shard2 + `","model.norm.weight":"` + shard2 + `"`
	tests := []struct {
		name   string
		break_ func(dir string) error
		want   []string
	}{
		{"missing shard", func(dir string) error { return os.Remove(filepath.Join(dir, shard2)) },
			[]string{shard2, "is missing", `"lm_head.weight"`}},
		{"tensor in index but not in shard", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index(full+`,"extra.weight":"`+shard2+`"`)), 0o644)
		}, []string{shard2, "lacks", `"extra.weight"`}},
		{"tensor listed in the wrong shard", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index(strings.Replace(full, `"lm_head.weight":"`+shard2, `"lm_head.weight":"`+shard1, 1))), 0o644)
		}, []string{shard1, "lacks", `"lm_head.weight"`}},
		{"shard tensor not in index", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index(strings.Replace(full, `,"model.norm.weight":"`+shard2+`"`, "", 1))), 0o644)
		}, []string{shard2, "does not put there", `"model.norm.weight"`}},
		{"index not JSON", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":`), 0o644)
		}, []string{IndexFileName}},
		{"empty weight_map", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"metadata":{}}`), 0o644)
		}, []string{IndexFileName, "weight_map is missing or empty"}},
		{"shard outside the directory", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index(`"w":"../`+shard1+`"`)), 0o644)
		}, []string{"not a file name in the model directory", `"w"`}},
		{"corrupt shard", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, shard1), []byte{1, 2, 3}, 0o644)
		}, []string{shard1, "too short"}},
		{"no weights at all", func(dir string) error {
			os.Remove(filepath.Join(dir, IndexFileName))
			return nil
		}, []string{"neither model.safetensors nor model.safetensors.index.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeShardedFixture(t)
			if err := tc.break_(dir); err != nil {
				t.Fatal(err)
			}
			m, err := OpenModel(dir)
			if err == nil {
				m.Close()
				t.Fatalf("OpenModel succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestOpenDirectoryAsFile(t *testing.T) {
	_, err := Open(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Open(dir) error = %v", err)
	}
	_, err = OpenModel(filepath.Join(t.TempDir(), "missing"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenModel(missing) error = %v, want not-exist", err)
	}
}
