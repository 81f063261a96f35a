package model

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/config"
)

// copyFixture copies a fixture model dir (config, weights, adapter) into a temp dir.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"} {
		raw, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
		lora bool
		want []string
	}{
		{"config disagrees with weights", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "config.json"), `"intermediate_size": 80`, `"intermediate_size": 81`)
		}, false, []string{"mlp.gate_proj.weight"}},
		{"untied config, tied weights", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "config.json"), `"num_hidden_layers": 2`, `"num_hidden_layers": 3`)
		}, false, []string{"model.layers.2."}},
		{"unsupported model_type", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "config.json"), `"LlamaForCausalLM"`, `"GPT2LMHeadModel"`)
			editFile(t, filepath.Join(dir, "config.json"), `"model_type": "llama"`, `"model_type": "gpt2"`)
		}, false, []string{"config.json"}},
		{"adapter for other modules", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "adapter", "adapter_config.json"), `"v_proj"`, `"k_proj"`)
		}, true, []string{"adapter_model.safetensors", "v_proj.lora_A.weight", "not an adapter of this model"}},
		{"adapter rank mismatch", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "adapter", "adapter_config.json"), `"r": 4`, `"r": 3`)
		}, true, []string{"shape"}},
		{"DoRA", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "adapter", "adapter_config.json"), `"r": 4`, `"use_dora": true, "r": 4`)
		}, true, []string{"use_dora"}},
		{"unknown target", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "adapter", "adapter_config.json"), `"v_proj"`, `"c_attn"`)
		}, true, []string{"target_modules", "c_attn"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "llama_gqa")
			tc.edit(t, dir)
			err := func() error {
				opt := Options{}
				if tc.lora {
					lc, err := ReadAdapterConfig(filepath.Join(dir, "adapter"))
					if err != nil {
						return err
					}
					opt.LoRA = lc
				}
				m, err := Load(dir, testBackend(), opt)
				if err != nil {
					return err
				}
				if tc.lora {
					return m.LoadAdapter(filepath.Join(dir, "adapter"))
				}
				return nil
			}()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// FromConfig on published configs (hf/config's testdata): the facts the engine relies on.
func TestFromPublishedConfigs(t *testing.T) {
	tests := []struct {
		file                  string
		heads, kv, hd, maxPos int
		tied, qkvBias, qkNorm bool
		window0, windowLast   int
		rope                  string
	}{
		{"llama-3.2-1b.json", 32, 8, 64, 131072, true, false, false, 0, 0, "llama3"},
		{"qwen2.5-0.5b.json", 14, 2, 64, 32768, true, true, false, 0, 0, ""},
		{"qwen3-0.6b.json", 16, 8, 128, 40960, true, false, true, 0, 0, ""},
		{"mistral-7b-v0.1.json", 32, 8, 128, 32768, false, false, false, 4096, 4096, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			a, err := ReadArch(filepath.Join("..", "hf", "config", "testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			rope := ""
			if a.RopeScaling != nil {
				rope = a.RopeScaling.Type
			}
			got := []any{a.Heads, a.KVHeads, a.HeadDim, a.MaxPos, a.Tied, a.QKVBias, a.QKNorm, a.window(0), a.window(a.Layers - 1), rope}
			want := []any{tc.heads, tc.kv, tc.hd, tc.maxPos, tc.tied, tc.qkvBias, tc.qkNorm, tc.window0, tc.windowLast, rope}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d: got %v, want %v (%+v)", i, got[i], want[i], a)
				}
			}
		})
	}
}

// The parameter layout follows hf/config's list (transformers' named_parameters order).
func TestTensorOrderMatchesConfig(t *testing.T) {
	for _, name := range cases {
		dir := filepath.Join("testdata", name)
		cfg, err := config.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(FromConfig(cfg), testBackend(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ps := cfg.Parameters()
		if len(ps) != len(m.Tensors()) {
			t.Fatalf("%s: %d tensors, config lists %d", name, len(m.Tensors()), len(ps))
		}
		off := 0
		for i, ten := range m.Tensors() {
			if ten.Name != ps[i].Name || !slices.Equal(ten.Shape, ps[i].Shape) {
				t.Errorf("%s: tensor %d is %s %v, config lists %s %v", name, i, ten.Name, ten.Shape, ps[i].Name, ps[i].Shape)
			}
			// views are consecutive in the flat buffers
			if &ten.Data[0] != &m.params[off] || &ten.Grad[0] != &m.grads[off] {
				t.Errorf("%s: %s is not at offset %d of the flat buffers", name, ten.Name, off)
			}
			off += len(ten.Data)
		}
		if off != len(m.params) {
			t.Errorf("%s: tensors cover %d of %d parameters", name, off, len(m.params))
		}
	}
}
