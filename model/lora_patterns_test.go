package model

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoRAPatternsGolden checks PEFT's rank_pattern and alpha_pattern against
// reference/model/lora_patterns.py: each module's rank and scaling (Python's re.match
// of (.*\.)?(key)$, first key wins), and the log-probs of the qwen2_bias batch under an
// adapter whose modules have different ranks and alphas (PyTorch float64).
func TestLoRAPatternsGolden(t *testing.T) {
	dir := filepath.Join("testdata", "qwen2_bias")
	adir := filepath.Join(dir, "adapter_patterns")
	raw, err := os.ReadFile(filepath.Join(adir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Modules map[string]struct {
			Rank         int
			Alpha, Scale float64
		}
		Logps [][]float64
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	lc, err := ReadAdapterConfig(adir)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Modules) == 0 {
		t.Fatal("golden has no modules")
	}
	for name, want := range g.Modules {
		if got := lc.ModuleRank(name); got != want.Rank {
			t.Errorf("%s: rank %d, want %d", name, got, want.Rank)
		}
		if got := lc.ModuleScale(name); !(math.Abs(got-want.Scale) <= 1e-12*want.Scale) {
			t.Errorf("%s: scale %v, want %v", name, got, want.Scale)
		}
	}
	m, err := Load(dir, testBackend(), Options{LoRA: lc, Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadAdapter(adir); err != nil {
		t.Fatal(err)
	}
	gb := loadGolden(t, "qwen2_bias")
	out, err := m.Forward(gb.batch(), ForwardOptions{Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLogps(t, "rank/alpha patterns", out.LogProbs, g.Logps)

	// the same adapter read with plain alpha must differ (the bug: patterns ignored)
	plain := *lc
	plain.AlphaPattern = nil
	m2, err := Load(dir, testBackend(), Options{LoRA: &plain, Frozen: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.LoadAdapter(adir); err != nil {
		t.Fatal(err)
	}
	out2, err := m2.Forward(gb.batch(), ForwardOptions{Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i := range out2.LogProbs {
		if out2.LogProbs[i] != out.LogProbs[i] {
			same = false
		}
	}
	if same {
		t.Error("alpha_pattern made no difference to the log-probs")
	}

	// SaveAdapter writes the patterns back in order, and an absolute base path
	save := t.TempDir()
	if err := m.SaveAdapter(save, dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadAdapterConfig(save)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range lc.RankPattern {
		if i >= len(back.RankPattern) || back.RankPattern[i] != p {
			t.Errorf("rank_pattern written back as %v, want %v", back.RankPattern, lc.RankPattern)
			break
		}
	}
	for i, p := range lc.AlphaPattern {
		if i >= len(back.AlphaPattern) || back.AlphaPattern[i] != p {
			t.Errorf("alpha_pattern written back as %v, want %v", back.AlphaPattern, lc.AlphaPattern)
			break
		}
	}
	var saved map[string]any
	b, _ := os.ReadFile(filepath.Join(save, "adapter_config.json"))
	json.Unmarshal(b, &saved)
	abs, _ := filepath.Abs(dir)
	if saved["base_model_name_or_path"] != abs {
		t.Errorf("base_model_name_or_path %v, want the absolute path %s", saved["base_model_name_or_path"], abs)
	}
}

// TestMatchPattern: PEFT's key test on module names.
func TestMatchPattern(t *testing.T) {
	name := "model.layers.10.self_attn.q_proj"
	cases := []struct {
		key  string
		want bool
	}{
		{"q_proj", true},
		{"self_attn.q_proj", true},
		{name, true},
		{"_proj", false}, // a suffix must start at a dot
		{"proj", false},
		{"layers.1.self_attn.q_proj", false}, // layer 1 is not layer 10
		{`layers\.1\d\..*q_proj`, true},
		{"k_proj", false},
		{"model.layers.10.self_attn", false}, // the key must reach the end
		{"(", false},                         // invalid expression: exact name only
	}
	for _, tc := range cases {
		if got := MatchPattern(tc.key, name); got != tc.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tc.key, name, got, tc.want)
		}
	}
}

// TestAdapterConfigRefusals: fields preftune cannot honour are refused, naming the field.
func TestAdapterConfigRefusals(t *testing.T) {
	base := `{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]`
	cases := []struct {
		name, extra, want string
	}{
		{"modules_to_save", `, "modules_to_save": ["lm_head"]`, `modules_to_save: ["lm_head"] is not supported`},
		{"rank not integer", `, "rank_pattern": {"q_proj": 2.5}`, `rank_pattern "q_proj": rank 2.5 must be a positive integer`},
		{"rank zero", `, "rank_pattern": {"q_proj": 0}`, `rank_pattern "q_proj"`},
		{"pattern not object", `, "alpha_pattern": [1]`, `alpha_pattern: want an object`},
		{"bad regexp", `, "alpha_pattern": {"(": 2}`, `alpha_pattern key "("`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(base+tc.extra+"}"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadAdapterConfig(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "adapter_config.json") {
				t.Errorf("error %v, want one naming adapter_config.json and %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{`, "modules_to_save": null`, `, "modules_to_save": []`, `, "rank_pattern": {}, "alpha_pattern": null`} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(base+ok+"}"), 0o644)
		if _, err := ReadAdapterConfig(dir); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestLoadAdapterDirAsModel: a PEFT adapter directory given as the model says how to
// use it.
func TestLoadAdapterDirAsModel(t *testing.T) {
	adir := filepath.Join("testdata", "qwen2_bias", "adapter")
	_, err := Load(adir, testBackend(), Options{})
	var ae *AdapterDirError
	if !errors.As(err, &ae) {
		t.Fatalf("Load(adapter dir): %v, want an AdapterDirError", err)
	}
	if !strings.Contains(err.Error(), "this is an adapter; use --model .. --adapter "+adir) {
		t.Errorf("message %q", err)
	}
	if _, err := ReadArch(adir); !errors.As(err, &ae) {
		t.Errorf("ReadArch(adapter dir): %v", err)
	}
}
