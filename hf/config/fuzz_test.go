package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig parses arbitrary config.json bytes. A config is refused with an
// ErrInvalid, or everything derived from it is consistent: positive shapes, a
// parameter count that matches the shapes without overflow, and a tensor
// check that accepts exactly its own parameter list. Nothing may panic.
// `go test -run '^$' -fuzz '^FuzzConfig$' ./hf/config` explores.
func FuzzConfig(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*", "config.json"))
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, fields := range []map[string]any{
		{"vocab_size": 1000000000000}, // issue 16's out-of-memory crash
		{"num_hidden_layers": 1e15},
		{"model_type": "qwen2", "architectures": []string{"Qwen2ForCausalLM"}, "use_sliding_window": true, "max_window_layers": -3, "layer_types": nil},
		{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": -1, "original_max_position_embeddings": 0}},
		{"eos_token_id": []any{1, -2, 1e300}, "head_dim": 7},
	} {
		f.Add(withFields(f, fields))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "config.json")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		var sum int64
		shapes := map[string][]int{}
		for _, p := range c.Parameters() {
			e := int64(1)
			for _, d := range p.Shape {
				if d <= 0 {
					t.Fatalf("%s has shape %v", p.Name, p.Shape)
				}
				e *= int64(d)
			}
			sum += e
			shapes[p.Name] = p.Shape
		}
		if n := c.ParameterCount(); n != sum || n <= 0 {
			t.Fatalf("ParameterCount %d, shapes sum to %d", n, sum)
		}
		if err := c.CheckTensors(shapes); err != nil {
			t.Fatalf("CheckTensors rejects the config's own parameters: %v", err)
		}
		if len(c.LayerTypes) != c.NumHiddenLayers {
			t.Fatalf("%d layer types for %d layers", len(c.LayerTypes), c.NumHiddenLayers)
		}
		for l := 0; l < c.NumHiddenLayers; l++ {
			if w := c.SlidingWindowFor(l); w < 0 {
				t.Fatalf("layer %d: window %d", l, w)
			}
		}
		_ = c.QDim() + c.KVDim() + c.KVGroupSize()
	})
}
