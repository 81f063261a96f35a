package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func intp(v int) *int { return &v }

// countSliding is how many layers use sliding-window attention.
func countSliding(c *Config) int {
	n := 0
	for i := range c.LayerTypes {
		if c.SlidingWindowFor(i) > 0 {
			n++
		}
	}
	return n
}

// TestRealConfigs parses published config.json files; expected values are read off the
// files and the transformers config classes (see testdata/README.md).
func TestRealConfigs(t *testing.T) {
	tests := []struct {
		file string
		want Config
		// derived
		group, qDim, kvDim, sliding int
	}{
		{file: "testdata/llama-3.2-1b.json", want: Config{
			Architecture: "LlamaForCausalLM", Family: Llama,
			HiddenSize: 2048, IntermediateSize: 8192, NumHiddenLayers: 16, NumAttentionHeads: 32, NumKeyValueHeads: 8,
			HeadDim: 64, VocabSize: 128256, MaxPositionEmbeddings: 131072, RMSNormEps: 1e-5, RopeTheta: 500000,
			RopeScaling:       &RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
			TieWordEmbeddings: true, BOSTokenID: intp(128000), EOSTokenIDs: []int{128001}, TorchDType: "bfloat16", HiddenAct: "silu",
		}, group: 4, qDim: 2048, kvDim: 512},
		{file: "testdata/llama-2-7b-hf.json", want: Config{
			Architecture: "LlamaForCausalLM", Family: Llama,
			HiddenSize: 4096, IntermediateSize: 11008, NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 32,
			HeadDim: 128, VocabSize: 32000, MaxPositionEmbeddings: 4096, RMSNormEps: 1e-5, RopeTheta: 10000,
			BOSTokenID: intp(1), EOSTokenIDs: []int{2}, TorchDType: "float16", HiddenAct: "silu",
		}, group: 1, qDim: 4096, kvDim: 4096},
		{file: "testdata/mistral-7b-v0.1.json", want: Config{
			Architecture: "MistralForCausalLM", Family: Mistral,
			HiddenSize: 4096, IntermediateSize: 14336, NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8,
			HeadDim: 128, VocabSize: 32000, MaxPositionEmbeddings: 32768, RMSNormEps: 1e-5, RopeTheta: 10000,
			SlidingWindow: 4096, BOSTokenID: intp(1), EOSTokenIDs: []int{2}, TorchDType: "bfloat16", HiddenAct: "silu",
		}, group: 4, qDim: 4096, kvDim: 1024, sliding: 32},
		{file: "testdata/qwen2.5-0.5b.json", want: Config{
			Architecture: "Qwen2ForCausalLM", Family: Qwen2,
			HiddenSize: 896, IntermediateSize: 4864, NumHiddenLayers: 24, NumAttentionHeads: 14, NumKeyValueHeads: 2,
			HeadDim: 64, VocabSize: 151936, MaxPositionEmbeddings: 32768, RMSNormEps: 1e-6, RopeTheta: 1e6,
			TieWordEmbeddings: true, QKVBias: true, BOSTokenID: intp(151643), EOSTokenIDs: []int{151643},
			TorchDType: "bfloat16", HiddenAct: "silu",
		}, group: 7, qDim: 896, kvDim: 128},
		{file: "../../testdata/tokenizers/qwen2.5/config-qwen2.5-7b-instruct.json", want: Config{
			Architecture: "Qwen2ForCausalLM", Family: Qwen2,
			HiddenSize: 3584, IntermediateSize: 18944, NumHiddenLayers: 28, NumAttentionHeads: 28, NumKeyValueHeads: 4,
			HeadDim: 128, VocabSize: 152064, MaxPositionEmbeddings: 32768, RMSNormEps: 1e-6, RopeTheta: 1e6,
			QKVBias: true, BOSTokenID: intp(151643), EOSTokenIDs: []int{151645}, TorchDType: "bfloat16", HiddenAct: "silu",
		}, group: 7, qDim: 3584, kvDim: 512},
		{file: "testdata/qwen3-0.6b.json", want: Config{
			Architecture: "Qwen3ForCausalLM", Family: Qwen3,
			HiddenSize: 1024, IntermediateSize: 3072, NumHiddenLayers: 28, NumAttentionHeads: 16, NumKeyValueHeads: 8,
			HeadDim: 128, VocabSize: 151936, MaxPositionEmbeddings: 40960, RMSNormEps: 1e-6, RopeTheta: 1e6,
			TieWordEmbeddings: true, QKNorm: true, BOSTokenID: intp(151643), EOSTokenIDs: []int{151645},
			TorchDType: "bfloat16", HiddenAct: "silu",
		}, group: 2, qDim: 2048, kvDim: 1024},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			c, err := Load(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			lt := c.LayerTypes
			c.LayerTypes = nil
			if !reflect.DeepEqual(*c, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *c, tc.want)
			}
			c.LayerTypes = lt
			if len(lt) != c.NumHiddenLayers {
				t.Errorf("%d layer types for %d layers", len(lt), c.NumHiddenLayers)
			}
			if g, q, kv, s := c.KVGroupSize(), c.QDim(), c.KVDim(), countSliding(c); g != tc.group || q != tc.qDim || kv != tc.kvDim || s != tc.sliding {
				t.Errorf("group %d qDim %d kvDim %d sliding layers %d, want %d %d %d %d", g, q, kv, s, tc.group, tc.qDim, tc.kvDim, tc.sliding)
			}
		})
	}
}

// parseVariant parses base with fields replaced (a nil value deletes the field).
func parseVariant(t *testing.T, base string, set map[string]any) (*Config, error) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return Parse(b, "some/config.json")
}

const tinyLlama = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64,"intermediate_size":160,
"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100}`

// null marks a field set to JSON null in a variant.
var null = json.RawMessage("null")

func TestDefaultsAndVariants(t *testing.T) {
	tests := []struct {
		name  string
		set   map[string]any
		check func(t *testing.T, c *Config)
	}{
		{"llama defaults", nil, func(t *testing.T, c *Config) {
			if c.TieWordEmbeddings || c.QKVBias || c.OProjBias || c.MLPBias || c.QKNorm || c.RopeScaling != nil {
				t.Errorf("unexpected flags: %+v", c)
			}
			if c.RopeTheta != 10000 || c.RMSNormEps != 1e-6 || c.MaxPositionEmbeddings != 2048 || c.HeadDim != 16 || c.HiddenAct != "silu" {
				t.Errorf("defaults: theta %v eps %v maxpos %d headdim %d act %q", c.RopeTheta, c.RMSNormEps, c.MaxPositionEmbeddings, c.HeadDim, c.HiddenAct)
			}
			if *c.BOSTokenID != 1 || !reflect.DeepEqual(c.EOSTokenIDs, []int{2}) || c.PadTokenID != nil {
				t.Errorf("token ids: %v %v %v", c.BOSTokenID, c.EOSTokenIDs, c.PadTokenID)
			}
		}},
		{"no architectures: model_type decides", map[string]any{"architectures": nil, "model_type": "qwen3"}, func(t *testing.T, c *Config) {
			if c.Family != Qwen3 || c.Architecture != "Qwen3ForCausalLM" || c.HeadDim != 128 || !c.QKNorm {
				t.Errorf("family %s arch %s head_dim %d qknorm %v", c.Family, c.Architecture, c.HeadDim, c.QKNorm)
			}
		}},
		{"llama kv heads default to heads", map[string]any{"num_key_value_heads": nil}, func(t *testing.T, c *Config) {
			if c.NumKeyValueHeads != 4 || c.KVGroupSize() != 1 {
				t.Errorf("kv heads %d", c.NumKeyValueHeads)
			}
		}},
		{"llama attention_bias and mlp_bias", map[string]any{"attention_bias": true, "mlp_bias": true}, func(t *testing.T, c *Config) {
			if !c.QKVBias || !c.OProjBias || !c.MLPBias {
				t.Errorf("biases %v %v %v", c.QKVBias, c.OProjBias, c.MLPBias)
			}
		}},
		{"qwen2 always has q/k/v bias, never o bias", map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "attention_bias": false}, func(t *testing.T, c *Config) {
			if !c.QKVBias || c.OProjBias || c.SlidingWindow != 0 || c.MaxPositionEmbeddings != 32768 || c.BOSTokenID != nil || c.EOSTokenIDs != nil {
				t.Errorf("qwen2: %+v", c)
			}
		}},
		{"qwen3 attention_bias covers o_proj", map[string]any{"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "attention_bias": true, "head_dim": 32}, func(t *testing.T, c *Config) {
			if !c.QKVBias || !c.OProjBias || c.HeadDim != 32 || c.QDim() != 128 {
				t.Errorf("qwen3: %+v", c)
			}
		}},
		{"mistral window defaults to 4096 on every layer", map[string]any{"architectures": []string{"MistralForCausalLM"}, "model_type": "mistral"}, func(t *testing.T, c *Config) {
			if c.SlidingWindow != 4096 || countSliding(c) != 2 || c.MaxPositionEmbeddings != 131072 {
				t.Errorf("mistral window %d on %d layers, maxpos %d", c.SlidingWindow, countSliding(c), c.MaxPositionEmbeddings)
			}
		}},
		{"mistral window null means none", map[string]any{"architectures": []string{"MistralForCausalLM"}, "model_type": "mistral", "sliding_window": null}, func(t *testing.T, c *Config) {
			if c.SlidingWindow != 0 || countSliding(c) != 0 {
				t.Errorf("mistral window %d on %d layers", c.SlidingWindow, countSliding(c))
			}
		}},
		{"qwen2 window needs use_sliding_window", map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "sliding_window": 128, "use_sliding_window": false}, func(t *testing.T, c *Config) {
			if c.SlidingWindow != 0 || countSliding(c) != 0 {
				t.Errorf("window %d", c.SlidingWindow)
			}
		}},
		{"qwen2 window from max_window_layers on", map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "sliding_window": 128, "use_sliding_window": true, "max_window_layers": 1}, func(t *testing.T, c *Config) {
			if c.SlidingWindow != 128 || c.SlidingWindowFor(0) != 0 || c.SlidingWindowFor(1) != 128 {
				t.Errorf("window %d, layer types %v", c.SlidingWindow, c.LayerTypes)
			}
		}},
		{"qwen2 explicit layer_types", map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "sliding_window": 64, "use_sliding_window": true, "layer_types": []string{"sliding_attention", "full_attention"}}, func(t *testing.T, c *Config) {
			if c.SlidingWindowFor(0) != 64 || c.SlidingWindowFor(1) != 0 {
				t.Errorf("layer types %v", c.LayerTypes)
			}
		}},
		{"eos list, pad and null bos", map[string]any{"eos_token_id": []int{128001, 128008, 128009}, "pad_token_id": 0, "bos_token_id": null}, func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c.EOSTokenIDs, []int{128001, 128008, 128009}) || c.PadTokenID == nil || *c.PadTokenID != 0 || c.BOSTokenID != nil {
				t.Errorf("eos %v pad %v bos %v", c.EOSTokenIDs, c.PadTokenID, c.BOSTokenID)
			}
		}},
		{"newer dtype key wins over torch_dtype", map[string]any{"torch_dtype": "float16", "dtype": "bfloat16"}, func(t *testing.T, c *Config) {
			if c.TorchDType != "bfloat16" {
				t.Errorf("dtype %q", c.TorchDType)
			}
		}},
		{"rope_scaling default type is plain rope", map[string]any{"rope_scaling": map[string]any{"rope_type": "default"}}, func(t *testing.T, c *Config) {
			if c.RopeScaling != nil {
				t.Errorf("scaling %+v", c.RopeScaling)
			}
		}},
		{"old-style type key, linear", map[string]any{"rope_scaling": map[string]any{"type": "linear", "factor": 2.0}}, func(t *testing.T, c *Config) {
			if c.RopeScaling == nil || c.RopeScaling.Type != "linear" || c.RopeScaling.Factor != 2 {
				t.Errorf("scaling %+v", c.RopeScaling)
			}
		}},
		{"transformers v5 rope_parameters", map[string]any{"rope_theta": nil, "rope_parameters": map[string]any{"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}, func(t *testing.T, c *Config) {
			want := &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
			if c.RopeTheta != 500000 || !reflect.DeepEqual(c.RopeScaling, want) {
				t.Errorf("theta %v scaling %+v", c.RopeTheta, c.RopeScaling)
			}
		}},
		{"integral float sizes", map[string]any{"hidden_size": 64.0}, func(t *testing.T, c *Config) {
			if c.HiddenSize != 64 {
				t.Errorf("hidden %d", c.HiddenSize)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseVariant(t, tinyLlama, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]any
		want []string // substrings, besides the file name
	}{
		{"unknown architecture", map[string]any{"architectures": []string{"GPT2LMHeadModel"}},
			[]string{`"architectures"`, `"GPT2LMHeadModel" is not supported`, "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM"}},
		{"sequence classifier", map[string]any{"architectures": []string{"LlamaForSequenceClassification"}}, []string{"LlamaForSequenceClassification"}},
		{"unknown model_type", map[string]any{"architectures": nil, "model_type": "gemma2"}, []string{`"model_type"`, `"gemma2" is not supported`, "Qwen3ForCausalLM"}},
		{"no architecture at all", map[string]any{"architectures": nil, "model_type": nil}, []string{"both missing", "LlamaForCausalLM"}},
		{"model_type disagrees", map[string]any{"model_type": "qwen2"}, []string{`"model_type"`, "disagrees"}},
		{"missing hidden_size", map[string]any{"hidden_size": nil}, []string{`field "hidden_size": missing`}},
		{"null vocab_size", map[string]any{"vocab_size": null}, []string{`field "vocab_size": missing`}},
		{"negative intermediate_size", map[string]any{"intermediate_size": -5}, []string{`field "intermediate_size": must be positive, got -5`}},
		{"zero layers", map[string]any{"num_hidden_layers": 0}, []string{`field "num_hidden_layers": must be positive`}},
		{"fractional layers", map[string]any{"num_hidden_layers": 2.5}, []string{`field "num_hidden_layers": want an integer`}},
		{"string size", map[string]any{"hidden_size": "64"}, []string{`field "hidden_size": want a number`}},
		{"heads not divisible by kv heads", map[string]any{"num_key_value_heads": 3}, []string{`field "num_key_value_heads"`, "4 is not divisible by num_key_value_heads 3"}},
		{"qwen2 absent kv heads uses transformers default", map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "num_key_value_heads": nil},
			[]string{`field "num_key_value_heads"`, "not divisible by num_key_value_heads 32", "absent"}},
		{"hidden not divisible by heads", map[string]any{"num_attention_heads": 6, "num_key_value_heads": 6}, []string{`field "hidden_size"`, "not divisible by num_attention_heads 6"}},
		{"odd head_dim", map[string]any{"head_dim": 15}, []string{`field "head_dim"`, "odd"}},
		{"gelu", map[string]any{"hidden_act": "gelu"}, []string{`field "hidden_act"`, `"gelu" is not supported`}},
		{"zero rms_norm_eps", map[string]any{"rms_norm_eps": 0}, []string{`field "rms_norm_eps": must be positive`}},
		{"negative rope_theta", map[string]any{"rope_theta": -1}, []string{`field "rope_theta"`}},
		{"yarn rope", map[string]any{"rope_scaling": map[string]any{"rope_type": "yarn", "factor": 4.0}},
			[]string{`field "rope_scaling.rope_type"`, `"yarn" is not supported (supported: default, linear, llama3)`}},
		{"llama3 rope missing factor", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
			[]string{`field "rope_scaling.factor": missing`}},
		{"llama3 rope missing original length", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}},
			[]string{`field "rope_scaling.original_max_position_embeddings": missing`}},
		{"llama3 rope inverted factors", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}},
			[]string{`field "rope_scaling.high_freq_factor"`, "must exceed low_freq_factor"}},
		{"linear rope without factor", map[string]any{"rope_scaling": map[string]any{"type": "linear"}}, []string{`field "rope_scaling.factor": missing`}},
		{"rope_scaling not an object", map[string]any{"rope_scaling": "llama3"}, []string{`field "rope_scaling": want an object or null`}},
		{"rope_parameters bad type", map[string]any{"rope_parameters": map[string]any{"rope_type": "dynamic", "rope_theta": 1e4}}, []string{`field "rope_parameters.rope_type"`, `"dynamic"`}},
		{"eos not ids", map[string]any{"eos_token_id": "</s>"}, []string{`field "eos_token_id": want an integer or a list of integers`}},
		{"tie not a bool", map[string]any{"tie_word_embeddings": "yes"}, []string{`field "tie_word_embeddings": want true or false`}},
		{"qwen window on but null", map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "model_type": "qwen2", "use_sliding_window": true, "sliding_window": null},
			[]string{`field "sliding_window": use_sliding_window is true but the window is 0`}},
		{"layer_types wrong length", map[string]any{"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "use_sliding_window": true, "layer_types": []string{"full_attention"}},
			[]string{`field "layer_types": want 2 strings`}},
		{"layer_types bad entry", map[string]any{"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "use_sliding_window": true, "layer_types": []string{"full_attention", "chunked"}},
			[]string{`field "layer_types": entry 1 is "chunked"`}},
		{"architectures not a list", map[string]any{"architectures": "LlamaForCausalLM"}, []string{`field "architectures": want a list of strings`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseVariant(t, tinyLlama, tc.set)
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			for _, w := range append([]string{"some/config.json"}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Parse([]byte(`[1]`), "x/config.json"); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "x/config.json: not a JSON object") {
		t.Errorf("non-object error = %v", err)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tinyLlama), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil || c.HiddenSize != 64 {
		t.Fatalf("Load(dir) = %+v, %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v", err)
	}
}
