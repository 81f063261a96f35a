package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAdapterConfig parses arbitrary adapter_config.json bytes (PEFT's LoRA
// adapter config) through ParseAdapterConfig, the parser ReadAdapterConfig
// runs on the file's bytes, so no exec touches the disk. It must return a
// LoRAConfig or an error naming the file, never panic; an accepted config has
// a positive rank and a target set.
// `go test -run '^$' -fuzz '^FuzzAdapterConfig$' ./model` explores.
func FuzzAdapterConfig(f *testing.F) {
	for _, s := range []string{
		`{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"], "bias": "none", "task_type": "CAUSAL_LM"}`,
		`{"peft_type": "LORA", "r": 16, "lora_alpha": 32, "target_modules": "all-linear", "use_rslora": true}`,
		`{"r": 4, "target_modules": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"}`,
		`{"peft_type": "LORA", "r": 8, "target_modules": null}`,
		`{"peft_type": "LORA", "r": 8, "target_modules": [1, 2]}`,
		`{"peft_type": "LORA", "r": 8, "target_modules": ["lm_head", "nosuch"]}`,
		`{"peft_type": "IA3", "r": 8}`,
		`{"r": -1}`,
		`{"r": 1e300}`,
		`{"r": 8, "fan_in_fan_out": true, "use_dora": true, "bias": "all"}`,
		`[]`,
		`{"r": 8, "target_modules": "", "lora_alpha": "16"}`,
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "adapter", "adapter_config.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/adapter_config.json"
		c, err := ParseAdapterConfig(name, data)
		if err != nil {
			if c != nil {
				t.Fatalf("a config and an error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if c.R <= 0 {
			t.Fatalf("accepted rank %d", c.R)
		}
		if _, err := c.targetSet(); err != nil {
			t.Fatalf("accepted targets %v: %v", c.Targets, err)
		}
	})
}
