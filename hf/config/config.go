package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error about an unusable config.json, so callers can tell
// bad input (errors.Is(err, ErrInvalid)) from I/O failures.
var ErrInvalid = errors.New("invalid model config")

// Family is a supported model family, named by its transformers model_type.
type Family string

// The supported families.
const (
	Llama   Family = "llama"
	Mistral Family = "mistral"
	Qwen2   Family = "qwen2"
	Qwen3   Family = "qwen3"
)

// architectures maps each supported architectures[0] value to its family.
var architectures = map[string]Family{
	"LlamaForCausalLM":   Llama,
	"MistralForCausalLM": Mistral,
	"Qwen2ForCausalLM":   Qwen2,
	"Qwen3ForCausalLM":   Qwen3,
}

// SupportedArchitectures lists the architectures[0] values Parse accepts, sorted.
func SupportedArchitectures() []string {
	out := make([]string, 0, len(architectures))
	for a := range architectures {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Config is a parsed config.json with every default resolved, so the engine never needs
// to know which fields were present.
type Config struct {
	Architecture string // architectures[0], or the family's causal-LM class when absent
	Family       Family

	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int
	HeadDim               int // per-head size; may differ from HiddenSize/NumAttentionHeads
	VocabSize             int
	MaxPositionEmbeddings int
	RMSNormEps            float64
	RopeTheta             float64
	RopeScaling           *RopeScaling // nil: plain RoPE

	TieWordEmbeddings bool // lm_head shares model.embed_tokens.weight
	QKVBias           bool // q_proj, k_proj, v_proj have a bias
	OProjBias         bool // o_proj has a bias
	MLPBias           bool // gate_proj, up_proj, down_proj have a bias
	QKNorm            bool // per-head RMSNorm on queries and keys (Qwen3), weight [HeadDim]

	// SlidingWindow is the attention window in tokens (0: none); LayerTypes says per layer
	// whether it applies ("sliding_attention") or not ("full_attention").
	SlidingWindow int
	LayerTypes    []string

	BOSTokenID  *int  // nil when the config has none
	EOSTokenIDs []int // eos_token_id as a list (it may be an int or a list in the file)
	PadTokenID  *int
	TorchDType  string // torch_dtype, or dtype in newer files: "bfloat16", "float32", ...
	HiddenAct   string // always "silu" (SwiGLU MLP)
}

// RopeScaling is a supported rope_scaling (or rope_parameters) entry.
type RopeScaling struct {
	Type   string  // "linear" or "llama3"
	Factor float64 // positions are interpolated by this factor
	// llama3 only: wavelengths below OriginalMaxPositionEmbeddings/HighFreqFactor are kept,
	// above OriginalMaxPositionEmbeddings/LowFreqFactor are divided by Factor, in between
	// they are blended.
	LowFreqFactor                 float64
	HighFreqFactor                float64
	OriginalMaxPositionEmbeddings int
}

// KVGroupSize is how many query heads share one key/value head.
func (c *Config) KVGroupSize() int { return c.NumAttentionHeads / c.NumKeyValueHeads }

// QDim is the output size of q_proj (and input size of o_proj).
func (c *Config) QDim() int { return c.NumAttentionHeads * c.HeadDim }

// KVDim is the output size of k_proj and v_proj.
func (c *Config) KVDim() int { return c.NumKeyValueHeads * c.HeadDim }

// SlidingWindowFor is the attention window of layer i in tokens, 0 for full attention.
func (c *Config) SlidingWindowFor(layer int) int {
	if layer >= 0 && layer < len(c.LayerTypes) && c.LayerTypes[layer] == "sliding_attention" {
		return c.SlidingWindow
	}
	return 0
}

// Load parses path, a config.json or a directory holding one.
func Load(path string) (*Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// fields is config.json as raw values, with helpers that read one field and turn every
// problem into an error naming the file and the field.
type fields struct {
	file   string
	prefix string // "rope_scaling." for a nested object
	m      map[string]json.RawMessage
	err    error // first error
}

func (f *fields) fail(field, format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%s: field %q: %s: %w", f.file, f.prefix+field, fmt.Sprintf(format, args...), ErrInvalid)
	}
}

// raw returns the field's value, or nil when absent or null.
func (f *fields) raw(field string) json.RawMessage {
	v, ok := f.m[field]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	return v
}

func (f *fields) present(field string) bool { _, ok := f.m[field]; return ok }

// number parses a JSON number field; ok is false when absent or null.
func (f *fields) number(field string) (v float64, ok bool) {
	r := f.raw(field)
	if r == nil {
		return 0, false
	}
	var n json.Number // (json.Number would also accept a quoted "64"; a config must not)
	if err := json.Unmarshal(r, &n); err != nil || bytes.HasPrefix(bytes.TrimSpace(r), []byte{'"'}) {
		f.fail(field, "want a number, got %s", r)
		return 0, false
	}
	v, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(v, 0) {
		f.fail(field, "number %s out of range", n)
		return 0, false
	}
	return v, true
}

// integer parses an integer field (1024 or 1024.0); ok is false when absent or null.
func (f *fields) integer(field string) (int, bool) {
	v, ok := f.number(field)
	if !ok {
		return 0, false
	}
	if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
		f.fail(field, "want an integer, got %v", v)
		return 0, false
	}
	return int(v), true
}

// positive reads a required or defaulted positive integer (def <= 0: required).
func (f *fields) positive(field string, def int) int {
	v, ok := f.integer(field)
	if !ok {
		if def > 0 {
			return def
		}
		f.fail(field, "missing")
		return 0
	}
	if v <= 0 {
		f.fail(field, "must be positive, got %d", v)
	}
	return v
}

// positiveFloat reads a defaulted positive float.
func (f *fields) positiveFloat(field string, def float64) float64 {
	v, ok := f.number(field)
	if !ok {
		return def
	}
	if v <= 0 {
		f.fail(field, "must be positive, got %v", v)
	}
	return v
}

func (f *fields) boolean(field string, def bool) bool {
	r := f.raw(field)
	if r == nil {
		return def
	}
	var b bool
	if err := json.Unmarshal(r, &b); err != nil {
		f.fail(field, "want true or false, got %s", r)
	}
	return b
}

func (f *fields) str(field string) string {
	r := f.raw(field)
	if r == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		f.fail(field, "want a string, got %s", r)
	}
	return s
}

// optionalID reads a token id that may be absent or null; def applies when absent.
func (f *fields) optionalID(field string, def *int) *int {
	if !f.present(field) {
		return def
	}
	v, ok := f.integer(field)
	if !ok {
		return nil
	}
	return &v
}

// MaxLayers bounds num_hidden_layers (the largest released decoders have a few hundred):
// Parse builds per-layer tables from it before any weight file can contradict it.
const MaxLayers = 1 << 16

// Parse parses the bytes of a config.json; name (its path) is used in error messages.
func Parse(data []byte, name string) (*Config, error) {
	f := &fields{file: name}
	if err := json.Unmarshal(data, &f.m); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v: %w", name, err, ErrInvalid)
	}
	c := &Config{}
	if err := f.family(c); err != nil {
		return nil, err
	}

	c.HiddenSize = f.positive("hidden_size", 0)
	c.IntermediateSize = f.positive("intermediate_size", 0)
	c.NumHiddenLayers = f.positive("num_hidden_layers", 0)
	c.NumAttentionHeads = f.positive("num_attention_heads", 0)
	c.VocabSize = f.positive("vocab_size", 0)
	f.bound("hidden_size", c.HiddenSize, maxDim)
	f.bound("intermediate_size", c.IntermediateSize, maxDim)
	f.bound("num_hidden_layers", c.NumHiddenLayers, maxLayers)
	f.bound("num_attention_heads", c.NumAttentionHeads, maxDim)
	f.bound("vocab_size", c.VocabSize, maxDim)
	if f.err != nil {
		return nil, f.err
	}
	if c.NumHiddenLayers > MaxLayers {
		// per-layer tables are built from it below, before any weight file is read
		f.fail("num_hidden_layers", "%d is implausibly large (at most %d)", c.NumHiddenLayers, MaxLayers)
		return nil, f.err
	}
	// transformers' class defaults when num_key_value_heads is absent.
	kvDefault := c.NumAttentionHeads
	switch c.Family {
	case Mistral:
		kvDefault = 8
	case Qwen2, Qwen3:
		kvDefault = 32
	}
	c.NumKeyValueHeads = f.positive("num_key_value_heads", kvDefault)
	if _, given := f.integer("head_dim"); given || c.Family == Qwen3 {
		c.HeadDim = f.positive("head_dim", 128) // Qwen3Config defaults head_dim to 128
	} else {
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			f.fail("hidden_size", "%d is not divisible by num_attention_heads %d (and no head_dim is given)", c.HiddenSize, c.NumAttentionHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	maxPos := map[Family]int{Llama: 2048, Mistral: 4096 * 32, Qwen2: 32768, Qwen3: 32768}[c.Family]
	f.bound("num_key_value_heads", c.NumKeyValueHeads, maxDim)
	f.bound("head_dim", c.HeadDim, maxDim)
	if f.err != nil {
		return nil, f.err
	}
	f.boundParameters(c)
	c.MaxPositionEmbeddings = f.positive("max_position_embeddings", maxPos)
	f.bound("max_position_embeddings", c.MaxPositionEmbeddings, maxDim)
	c.RMSNormEps = f.positiveFloat("rms_norm_eps", 1e-6)
	c.TieWordEmbeddings = f.boolean("tie_word_embeddings", false)

	switch c.Family {
	case Llama:
		c.QKVBias = f.boolean("attention_bias", false)
		c.OProjBias = c.QKVBias
		c.MLPBias = f.boolean("mlp_bias", false)
	case Qwen2:
		c.QKVBias = true
	case Qwen3:
		c.QKVBias = f.boolean("attention_bias", false)
		c.OProjBias = c.QKVBias
		c.QKNorm = true
	}

	f.rope(c)
	f.window(c)

	var bosDefault *int
	eosDefault := []int(nil)
	if c.Family == Llama || c.Family == Mistral {
		one := 1
		bosDefault, eosDefault = &one, []int{2}
	}
	c.BOSTokenID = f.optionalID("bos_token_id", bosDefault)
	c.PadTokenID = f.optionalID("pad_token_id", nil)
	c.EOSTokenIDs = f.eos(eosDefault)
	c.TorchDType = f.str("torch_dtype")
	if d := f.str("dtype"); d != "" {
		c.TorchDType = d
	}
	c.HiddenAct = f.str("hidden_act")
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	if c.HiddenAct != "silu" {
		f.fail("hidden_act", "%q is not supported (the Llama-family MLP needs \"silu\")", c.HiddenAct)
	}
	if f.err != nil {
		return nil, f.err
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		field := "num_key_value_heads"
		extra := ""
		if !f.present(field) {
			extra = fmt.Sprintf(" (absent; transformers' %s default)", c.Family)
		}
		f.fail(field, "num_attention_heads %d is not divisible by num_key_value_heads %d%s", c.NumAttentionHeads, c.NumKeyValueHeads, extra)
	}
	if c.HeadDim%2 != 0 {
		f.fail("head_dim", "%d is odd; rotary embeddings rotate pairs", c.HeadDim)
	}
	return c, f.err
}

// family resolves architectures[0] (falling back to model_type) to a supported family.
func (f *fields) family(c *Config) error {
	supported := strings.Join(SupportedArchitectures(), ", ")
	modelType := f.str("model_type")
	var archs []string
	if r := f.raw("architectures"); r != nil {
		if err := json.Unmarshal(r, &archs); err != nil {
			f.fail("architectures", "want a list of strings, got %s", r)
		}
	}
	if f.err != nil {
		return f.err
	}
	if len(archs) > 0 {
		fam, ok := architectures[archs[0]]
		if !ok {
			return fmt.Errorf("%s: field \"architectures\": %q is not supported (supported: %s): %w", f.file, archs[0], supported, ErrInvalid)
		}
		if modelType != "" && Family(modelType) != fam {
			return fmt.Errorf("%s: field \"model_type\": %q disagrees with architectures[0] %q (model_type %q): %w",
				f.file, modelType, archs[0], fam, ErrInvalid)
		}
		c.Architecture, c.Family = archs[0], fam
		return nil
	}
	for arch, fam := range architectures {
		if Family(modelType) == fam {
			c.Architecture, c.Family = arch, fam
			return nil
		}
	}
	if modelType == "" {
		return fmt.Errorf("%s: fields \"architectures\" and \"model_type\" are both missing (supported architectures: %s): %w", f.file, supported, ErrInvalid)
	}
	return fmt.Errorf("%s: field \"model_type\": %q is not supported (supported architectures: %s): %w", f.file, modelType, supported, ErrInvalid)
}

// rope reads rope_theta and rope_scaling, or the newer rope_parameters that holds both.
func (f *fields) rope(c *Config) {
	scalingField := "rope_scaling"
	c.RopeTheta = f.positiveFloat("rope_theta", 10000)
	sub := f.raw("rope_scaling")
	if params := f.raw("rope_parameters"); params != nil {
		scalingField = "rope_parameters"
		sub = params
	}
	if sub == nil {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(sub, &m); err != nil {
		f.fail(scalingField, "want an object or null, got %s", sub)
		return
	}
	sf := &fields{file: f.file, prefix: scalingField + ".", m: m}
	defer func() {
		if f.err == nil {
			f.err = sf.err
		}
	}()
	if scalingField == "rope_parameters" {
		c.RopeTheta = sf.positiveFloat("rope_theta", c.RopeTheta)
	}
	typ := sf.str("rope_type")
	if typ == "" {
		typ = sf.str("type")
	}
	switch typ {
	case "", "default":
		return
	case "linear":
		c.RopeScaling = &RopeScaling{Type: typ, Factor: sf.positiveFloat("factor", 0)}
		if c.RopeScaling.Factor == 0 {
			sf.fail("factor", "missing")
		}
	case "llama3":
		r := &RopeScaling{Type: typ}
		for _, p := range []struct {
			name string
			dst  *float64
		}{{"factor", &r.Factor}, {"low_freq_factor", &r.LowFreqFactor}, {"high_freq_factor", &r.HighFreqFactor}} {
			if *p.dst = sf.positiveFloat(p.name, 0); *p.dst == 0 {
				sf.fail(p.name, "missing")
			}
		}
		r.OriginalMaxPositionEmbeddings = sf.positive("original_max_position_embeddings", 0)
		if sf.err == nil && r.HighFreqFactor <= r.LowFreqFactor {
			sf.fail("high_freq_factor", "%v must exceed low_freq_factor %v", r.HighFreqFactor, r.LowFreqFactor)
		}
		c.RopeScaling = r
	default:
		sf.fail("rope_type", "%q is not supported (supported: default, linear, llama3)", typ)
	}
}

// window resolves sliding-window attention as transformers does for each family.
func (f *fields) window(c *Config) {
	full := func() {
		c.LayerTypes = make([]string, c.NumHiddenLayers)
		for i := range c.LayerTypes {
			c.LayerTypes[i] = "full_attention"
		}
	}
	full()
	switch c.Family {
	case Mistral:
		// MistralConfig: window on every layer; 4096 when the key is absent, none when null.
		w := 4096
		if f.present("sliding_window") {
			w, _ = f.integer("sliding_window")
		}
		if w < 0 {
			f.fail("sliding_window", "must be positive, got %d", w)
		}
		if w > 0 {
			c.SlidingWindow = w
			for i := range c.LayerTypes {
				c.LayerTypes[i] = "sliding_attention"
			}
		}
	case Qwen2, Qwen3:
		// Qwen2Config/Qwen3Config: sliding_window only counts with use_sliding_window, and
		// then for layers >= max_window_layers unless layer_types lists them explicitly.
		if !f.boolean("use_sliding_window", false) {
			return
		}
		w := 4096
		if f.present("sliding_window") {
			w, _ = f.integer("sliding_window")
		}
		if w <= 0 {
			f.fail("sliding_window", "use_sliding_window is true but the window is %d", w)
			return
		}
		c.SlidingWindow = w
		if r := f.raw("layer_types"); r != nil {
			var lt []string
			if err := json.Unmarshal(r, &lt); err != nil || len(lt) != c.NumHiddenLayers {
				f.fail("layer_types", "want %d strings (one per layer), got %s", c.NumHiddenLayers, r)
				return
			}
			for i, t := range lt {
				if t != "full_attention" && t != "sliding_attention" {
					f.fail("layer_types", "entry %d is %q, want full_attention or sliding_attention", i, t)
					return
				}
			}
			c.LayerTypes = lt
			return
		}
		maxWindow := 28
		if v, ok := f.integer("max_window_layers"); ok {
			maxWindow = v
		}
		for i := maxWindow; i < c.NumHiddenLayers; i++ {
			if i >= 0 {
				c.LayerTypes[i] = "sliding_attention"
			}
		}
	}
}

// eos reads eos_token_id, an int, a list of ints, or null.
func (f *fields) eos(def []int) []int {
	if !f.present("eos_token_id") {
		return def
	}
	r := f.raw("eos_token_id")
	if r == nil {
		return nil
	}
	var one int
	if err := json.Unmarshal(r, &one); err == nil {
		return []int{one}
	}
	var many []int
	if err := json.Unmarshal(r, &many); err != nil {
		f.fail("eos_token_id", "want an integer or a list of integers, got %s", r)
		return nil
	}
	return many
}
