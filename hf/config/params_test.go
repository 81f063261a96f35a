package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
)

// TestParameterCountsMatchPublished: totals measured on the real checkpoints by others
// (sources in testdata/README.md), not computed here.
func TestParameterCountsMatchPublished(t *testing.T) {
	tests := []struct {
		file string
		want int64
	}{
		{"testdata/qwen2.5-0.5b.json", 494_032_768},
		{"testdata/llama-3.2-1b.json", 1_235_814_400},
		{"testdata/qwen3-0.6b.json", 596_049_920},
		{"testdata/llama-2-7b-hf.json", 6_738_415_616},
		{"testdata/mistral-7b-v0.1.json", 7_241_732_096},
		{"../../testdata/tokenizers/qwen2.5/config-qwen2.5-7b-instruct.json", 7_615_616_512},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			c, err := Load(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ParameterCount(); got != tc.want {
				t.Errorf("ParameterCount = %d, published %d", got, tc.want)
			}
		})
	}
}

// peerShapes reads a safetensors header saved by reference/safetensors/peer_headers.py.
func peerShapes(t *testing.T, dir string) map[string][]int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "header.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]struct {
		Shape []int `json:"shape"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{}
	for name, e := range hdr {
		if name != "__metadata__" {
			shapes[name] = e.Shape
		}
	}
	return shapes
}

// TestParametersMatchPeerWriter: the peer benchmark's numpy writer names and shapes its
// Llama (untied, no bias) and Qwen2 (q/k/v bias, tied) checkpoints on its own; Parameters
// must list exactly the same tensors.
func TestParametersMatchPeerWriter(t *testing.T) {
	for _, preset := range []string{"peer-small", "peer-qwen"} {
		t.Run(preset, func(t *testing.T) {
			dir := filepath.Join("testdata", preset)
			c, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			shapes := peerShapes(t, dir)
			if err := c.CheckTensors(shapes); err != nil {
				t.Error(err)
			}
			var names []string
			for _, p := range c.Parameters() {
				names = append(names, p.Name)
				if !reflect.DeepEqual(shapes[p.Name], p.Shape) {
					t.Errorf("%s: peer %v, Parameters %v", p.Name, shapes[p.Name], p.Shape)
				}
			}
			var peer []string
			for n := range shapes {
				peer = append(peer, n)
			}
			sort.Strings(names)
			sort.Strings(peer)
			if !reflect.DeepEqual(names, peer) {
				t.Errorf("Parameters names %v\npeer names %v", names, peer)
			}
		})
	}
}

func TestParametersLayout(t *testing.T) {
	c, err := Load("testdata/qwen3-0.6b.json")
	if err != nil {
		t.Fatal(err)
	}
	ps := c.Parameters()
	// transformers' named_parameters order for one Qwen3 layer.
	want := []Param{
		{"model.embed_tokens.weight", []int{151936, 1024}},
		{"model.layers.0.self_attn.q_proj.weight", []int{2048, 1024}},
		{"model.layers.0.self_attn.k_proj.weight", []int{1024, 1024}},
		{"model.layers.0.self_attn.v_proj.weight", []int{1024, 1024}},
		{"model.layers.0.self_attn.o_proj.weight", []int{1024, 2048}},
		{"model.layers.0.self_attn.q_norm.weight", []int{128}},
		{"model.layers.0.self_attn.k_norm.weight", []int{128}},
		{"model.layers.0.mlp.gate_proj.weight", []int{3072, 1024}},
		{"model.layers.0.mlp.up_proj.weight", []int{3072, 1024}},
		{"model.layers.0.mlp.down_proj.weight", []int{1024, 3072}},
		{"model.layers.0.input_layernorm.weight", []int{1024}},
		{"model.layers.0.post_attention_layernorm.weight", []int{1024}},
	}
	if !reflect.DeepEqual(ps[:len(want)], want) {
		t.Errorf("first layer:\n got %v\nwant %v", ps[:len(want)], want)
	}
	if last := ps[len(ps)-1]; last.Name != "model.norm.weight" {
		t.Errorf("tied model ends with %s, want model.norm.weight", last.Name)
	}
	if len(ps) != 1+28*11+1 {
		t.Errorf("%d parameters, want %d", len(ps), 1+28*11+1)
	}

	// Llama with attention_bias: all four projections get a bias; mlp_bias: all three MLP ones.
	lb, err := parseVariant(t, tinyLlama, map[string]any{"attention_bias": true, "mlp_bias": true, "tie_word_embeddings": false})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int{}
	for _, p := range lb.Parameters() {
		got[p.Name] = p.Shape
	}
	for name, shape := range map[string][]int{
		"model.layers.1.self_attn.q_proj.bias": {64}, "model.layers.1.self_attn.k_proj.bias": {32},
		"model.layers.1.self_attn.o_proj.bias": {64}, "model.layers.1.mlp.up_proj.bias": {160},
		"model.layers.1.mlp.down_proj.bias": {64}, "lm_head.weight": {100, 64},
	} {
		if !reflect.DeepEqual(got[name], shape) {
			t.Errorf("%s = %v, want %v", name, got[name], shape)
		}
	}
}

func TestCheckTensorsReportsEverything(t *testing.T) {
	c, err := parseVariant(t, tinyLlama, map[string]any{"tie_word_embeddings": true})
	if err != nil {
		t.Fatal(err)
	}
	good := map[string][]int{}
	for _, p := range c.Parameters() {
		good[p.Name] = p.Shape
	}
	// Accepted extras: rotary buffers, a tied model's redundant lm_head.
	good["model.layers.0.self_attn.rotary_emb.inv_freq"] = []int{8}
	good["lm_head.weight"] = []int{100, 64}
	if err := c.CheckTensors(good); err != nil {
		t.Fatalf("CheckTensors(good) = %v", err)
	}

	bad := map[string][]int{}
	for k, v := range good {
		bad[k] = v
	}
	delete(bad, "model.layers.1.mlp.down_proj.weight")
	delete(bad, "model.norm.weight")
	bad["model.layers.2.input_layernorm.weight"] = []int{64}
	bad["model.layers.0.self_attn.q_proj.bias"] = []int{64}
	bad["model.layers.0.self_attn.k_proj.weight"] = []int{64, 64}
	bad["lm_head.weight"] = []int{64, 100}
	err = c.CheckTensors(bad)
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("CheckTensors(bad) = %v, want *MismatchError", err)
	}
	wantMissing := []string{"model.layers.1.mlp.down_proj.weight", "model.norm.weight"}
	wantUnexpected := []string{"model.layers.0.self_attn.q_proj.bias", "model.layers.2.input_layernorm.weight"}
	wantShapes := []ShapeMismatch{
		{"lm_head.weight", []int{64, 100}, []int{100, 64}},
		{"model.layers.0.self_attn.k_proj.weight", []int{64, 64}, []int{32, 64}},
	}
	if !reflect.DeepEqual(me.Missing, wantMissing) || !reflect.DeepEqual(me.Unexpected, wantUnexpected) || !reflect.DeepEqual(me.Shapes, wantShapes) {
		t.Errorf("got %+v", me)
	}
	for _, s := range []string{"2 missing", "2 unexpected", "2 with the wrong shape",
		"model.layers.0.self_attn.k_proj.weight is [64 64], config wants [32 64]"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

// TestCheckTensorsAgainstWrittenModel: a checkpoint written by hf/safetensors from the
// config's own parameter list passes the check once read back, sharded or not.
func TestCheckTensorsAgainstWrittenModel(t *testing.T) {
	c, err := parseVariant(t, tinyLlama, map[string]any{"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "head_dim": 16})
	if err != nil {
		t.Fatal(err)
	}
	var tensors []safetensors.Tensor
	for _, p := range c.Parameters() {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		tensors = append(tensors, safetensors.Tensor{Name: p.Name, DType: safetensors.BF16, Shape: p.Shape, F32: make([]float32, n)})
	}
	for _, maxShard := range []int64{0, 20000} {
		dir := t.TempDir()
		if _, err := safetensors.WriteModel(dir, tensors, map[string]string{"format": "pt"}, maxShard); err != nil {
			t.Fatal(err)
		}
		m, err := safetensors.OpenModel(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Files()) == 1 && maxShard > 0 {
			t.Errorf("expected several shards")
		}
		if err := c.CheckTensors(m.Shapes()); err != nil {
			t.Error(err)
		}
		m.Close()
	}
}
