package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withFields returns testdata/llama-3.2-1b.json with fields replaced.
func withFields(t testing.TB, fields map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "llama-3.2-1b.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSizeBounds: sizes no model has are refused when the config is parsed,
// naming the field, before anything is sized by them (issue 16: a
// "vocab_size": 1000000000000 crashed five commands with an out-of-memory
// fatal error; "num_hidden_layers": 1e15 allocated the per-layer table).
func TestSizeBounds(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		field  string
	}{
		{"issue16_vocab_1e12", map[string]any{"vocab_size": 1000000000000}, "vocab_size"},
		{"layers_1e15", map[string]any{"num_hidden_layers": 1e15}, "num_hidden_layers"},
		{"layers_5000", map[string]any{"num_hidden_layers": 5000}, "num_hidden_layers"},
		{"hidden_2e9_heads", map[string]any{"hidden_size": 1 << 32}, "hidden_size"},
		{"intermediate", map[string]any{"intermediate_size": 1 << 40}, "intermediate_size"},
		{"kv_heads", map[string]any{"num_key_value_heads": 1 << 40}, "num_key_value_heads"},
		{"head_dim", map[string]any{"head_dim": 1 << 40}, "head_dim"},
		{"positions", map[string]any{"max_position_embeddings": 1 << 50}, "max_position_embeddings"},
		{"product_overflows", map[string]any{"hidden_size": 1 << 30, "num_attention_heads": 1 << 20, "vocab_size": 1 << 30}, "hidden_size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(withFields(t, c.fields), "config.json")
			if err == nil {
				t.Fatalf("accepted: %d layers, vocab %d", cfg.NumHiddenLayers, cfg.VocabSize)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"`+c.field+`"`) {
				t.Fatalf("error %q: want an ErrInvalid naming %q", err, c.field)
			}
		})
	}
	// the largest real models stay inside the bounds: Llama-3.1-405B's sizes
	big := map[string]any{"hidden_size": 16384, "intermediate_size": 53248, "num_hidden_layers": 126,
		"num_attention_heads": 128, "num_key_value_heads": 8, "vocab_size": 128256, "head_dim": 128}
	cfg, err := Parse(withFields(t, big), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if n := cfg.ParameterCount(); n < 400e9 || n > 410e9 {
		t.Fatalf("405B sizes give %d parameters", n)
	}
}
