package model

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
)

// poke overwrites element k of tensor name in a safetensors file with v (F32, BF16 or F16).
func poke(t *testing.T, path, name string, k int, v float32) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := f.Tensor(name)
	f.Close()
	if !ok {
		t.Fatalf("%s has no %s", path, name)
	}
	var b []byte
	switch info.DType {
	case safetensors.F32:
		b = binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
	case safetensors.BF16:
		b = binary.LittleEndian.AppendUint16(nil, safetensors.BF16Bits(v))
	default:
		t.Fatalf("poke: dtype %v", info.DType)
	}
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteAt(b, info.Offset+int64(k*len(b))); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRefusesNonFinite: a NaN or ±Inf weight (base or adapter, f32 or bf16) is a
// *NonFiniteError naming the file, the tensor and the first bad index; nothing else
// about the value is tolerated.
func TestLoadRefusesNonFinite(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	tests := []struct {
		name    string
		fixture string
		file    string // relative to the fixture dir
		tensor  string
		k       int
		v       float32
		coords  string
	}{
		{"NaN in an embedding", "llama_gqa", "model.safetensors", "model.embed_tokens.weight", 65, nan, "[1 17]"},
		{"+Inf in a norm", "llama_gqa", "model.safetensors", "model.norm.weight", 3, inf, "[3]"},
		{"-Inf in down_proj", "llama_gqa", "model.safetensors", "model.layers.1.mlp.down_proj.weight", 0, -inf, "[0 0]"},
		{"NaN in a LoRA B", "llama_gqa", "adapter/adapter_model.safetensors", "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", 5, nan, ""},
		{"NaN in bf16", "llama_bf16", "model.safetensors", "lm_head.weight", 7, nan, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", tc.fixture))); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.file)
			poke(t, path, tc.tensor, tc.k, tc.v)
			opt := Options{Frozen: true}
			lora := strings.HasPrefix(tc.file, "adapter/")
			if lora {
				lc, err := ReadAdapterConfig(filepath.Join(dir, "adapter"))
				if err != nil {
					t.Fatal(err)
				}
				opt.LoRA = lc
			}
			m, err := Load(dir, testBackend(), opt)
			if err == nil && lora {
				err = m.LoadAdapter(filepath.Join(dir, "adapter"))
			}
			var nf *NonFiniteError
			if !errors.As(err, &nf) {
				t.Fatalf("want a *NonFiniteError, got %v", err)
			}
			if !errors.Is(err, ErrCheckpoint) {
				t.Errorf("%v does not wrap ErrCheckpoint", err)
			}
			if nf.Tensor != tc.tensor || nf.Index != tc.k || nf.File != path {
				t.Errorf("got %s index %d in %s, want %s index %d in %s", nf.Tensor, nf.Index, nf.File, tc.tensor, tc.k, path)
			}
			msg := err.Error()
			for _, want := range []string{path, tc.tensor, tc.coords} {
				if !strings.Contains(msg, want) {
					t.Errorf("%q lacks %q", msg, want)
				}
			}
		})
	}
}

// TestInspectChecksSizesBeforeAllocating: an absurd config-derived size (a terabyte
// vocabulary, a layer count far past the file) is an error naming config.json's
// disagreement with the weight file and the tensor, from the headers alone.
func TestInspectChecksSizesBeforeAllocating(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           []string
	}{
		// sizes past hf/config's bounds are refused when config.json is parsed, naming the field
		{"vocab_size 1e12", `"vocab_size": 96`, `"vocab_size": 1000000000000`, []string{"config.json", "vocab_size", "1000000000000", "beyond any supported model"}},
		{"vocab_size too large for the file", `"vocab_size": 96`, `"vocab_size": 960000`, []string{"model.safetensors", "model.embed_tokens.weight", "960000"}},
		{"hidden_size", `"hidden_size": 48`, `"hidden_size": 4800000`, []string{"model.safetensors", "wrong shape"}},
		{"layers", `"num_hidden_layers": 2`, `"num_hidden_layers": 2000`, []string{"model.safetensors", "missing", "model.layers.2."}},
		{"layers past the cap", `"num_hidden_layers": 2`, `"num_hidden_layers": 1000000000000`, []string{"num_hidden_layers", "beyond any supported model"}},
		{"intermediate_size", `"intermediate_size": 80`, `"intermediate_size": 8000000000`, []string{"intermediate_size", "beyond any supported model"}},
		{"intermediate_size too large for the file", `"intermediate_size": 80`, `"intermediate_size": 800000`, []string{"mlp.gate_proj.weight"}},
		{"heads", `"num_key_value_heads": 2`, `"num_key_value_heads": 1`, []string{"k_proj.weight"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "llama_gqa")
			editFile(t, filepath.Join(dir, "config.json"), tc.old, tc.new)
			_, err := Inspect(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err2 := Load(dir, testBackend(), Options{}); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Load: %v, want Inspect's error", err2)
			}
		})
	}
}
