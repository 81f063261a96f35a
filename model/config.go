package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/preftune/preftune/kernels"
)

// TODO(hf/config): replace this private config.json reader with package hf/config once
// it lands; the defaults below are those of transformers' Llama/Qwen2/Qwen3/MistralConfig.

type rawConfig struct {
	ModelType         string          `json:"model_type"`
	VocabSize         int             `json:"vocab_size"`
	HiddenSize        int             `json:"hidden_size"`
	IntermediateSize  int             `json:"intermediate_size"`
	NumHiddenLayers   int             `json:"num_hidden_layers"`
	NumAttentionHeads int             `json:"num_attention_heads"`
	NumKeyValueHeads  *int            `json:"num_key_value_heads"`
	HeadDim           *int            `json:"head_dim"`
	MaxPosition       *int            `json:"max_position_embeddings"`
	RMSNormEps        *float64        `json:"rms_norm_eps"`
	RopeTheta         *float64        `json:"rope_theta"`
	RopeScaling       json.RawMessage `json:"rope_scaling"`
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	AttentionBias     bool            `json:"attention_bias"`
	HiddenAct         string          `json:"hidden_act"`
	UseSlidingWindow  bool            `json:"use_sliding_window"`
	SlidingWindow     *int            `json:"sliding_window"`
	MaxWindowLayers   *int            `json:"max_window_layers"`
}

// ReadArch reads dir/config.json into an Arch. Errors name the file and field.
func ReadArch(dir string) (Arch, error) {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return Arch{}, err
	}
	var c rawConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return Arch{}, fmt.Errorf("%s: %w", path, err)
	}
	a, err := archFromRaw(&c)
	if err != nil {
		return Arch{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

func archFromRaw(c *rawConfig) (Arch, error) {
	a := Arch{ModelType: c.ModelType, Vocab: c.VocabSize, Hidden: c.HiddenSize, FFN: c.IntermediateSize,
		Layers: c.NumHiddenLayers, Heads: c.NumAttentionHeads}
	switch c.ModelType {
	case "llama", "qwen2", "qwen3", "mistral":
	default:
		return a, fmt.Errorf("model_type: %q is not supported (llama, qwen2, qwen3, mistral)", c.ModelType)
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return a, fmt.Errorf("hidden_act: %q is not supported (silu)", c.HiddenAct)
	}
	if a.Heads <= 0 {
		return a, fmt.Errorf("num_attention_heads: %d must be positive", a.Heads)
	}
	a.KVHeads = a.Heads
	if c.NumKeyValueHeads != nil {
		a.KVHeads = *c.NumKeyValueHeads
	}
	switch {
	case c.HeadDim != nil:
		a.HeadDim = *c.HeadDim
	case c.ModelType == "qwen3":
		a.HeadDim = 128 // Qwen3Config default
	default:
		a.HeadDim = a.Hidden / a.Heads
	}
	a.MaxPos = map[string]int{"llama": 2048, "qwen2": 32768, "qwen3": 32768, "mistral": 4096 * 32}[c.ModelType]
	if c.MaxPosition != nil {
		a.MaxPos = *c.MaxPosition
	}
	a.Eps = 1e-6
	if c.RMSNormEps != nil {
		a.Eps = float32(*c.RMSNormEps)
	}
	a.RopeTheta = 10000
	if c.RopeTheta != nil {
		a.RopeTheta = *c.RopeTheta
	}
	if len(c.RopeScaling) > 0 && string(c.RopeScaling) != "null" {
		var rs struct {
			RopeType string   `json:"rope_type"`
			Type     string   `json:"type"`
			Factor   *float64 `json:"factor"`
			Low      float64  `json:"low_freq_factor"`
			High     float64  `json:"high_freq_factor"`
			Orig     int      `json:"original_max_position_embeddings"`
		}
		if err := json.Unmarshal(c.RopeScaling, &rs); err != nil {
			return a, fmt.Errorf("rope_scaling: %w", err)
		}
		t := rs.RopeType
		if t == "" {
			t = rs.Type
		}
		s := &kernels.RopeScaling{Type: t, LowFreqFactor: rs.Low, HighFreqFactor: rs.High, OriginalMaxPositionEmbeddings: rs.Orig}
		if rs.Factor != nil {
			s.Factor = *rs.Factor
		}
		if _, err := kernels.RopeInvFreq(max(a.HeadDim, 2)&^1, max(a.RopeTheta, 1), s); err != nil {
			return a, fmt.Errorf("rope_scaling: %w", err)
		}
		a.RopeScaling = s
	}
	if c.TieWordEmbeddings != nil {
		a.Tied = *c.TieWordEmbeddings
	}
	switch c.ModelType {
	case "qwen2":
		a.QKVBias = true
	case "llama", "qwen3":
		a.QKVBias, a.OBias = c.AttentionBias, c.AttentionBias
	}
	a.QKNorm = c.ModelType == "qwen3"
	switch c.ModelType {
	case "mistral":
		if c.SlidingWindow != nil {
			a.SlidingWindow = *c.SlidingWindow
		}
	case "qwen2", "qwen3":
		if c.UseSlidingWindow && c.SlidingWindow != nil {
			a.SlidingWindow = *c.SlidingWindow
			a.WindowFromLayer = 28 // Qwen2Config/Qwen3Config default max_window_layers
			if c.MaxWindowLayers != nil {
				a.WindowFromLayer = *c.MaxWindowLayers
			}
		}
	}
	if err := a.Validate(); err != nil {
		return a, err
	}
	return a, nil
}
