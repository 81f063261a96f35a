package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// baseFromAdapter fills an empty --model with the adapter's base_model_name_or_path
// (as PEFT's AutoPeftModel does), when that names a local directory, and says so.
func baseFromAdapter(modelDir *string, adapterDir string, stderr io.Writer) {
	if *modelDir != "" || adapterDir == "" {
		return
	}
	raw, err := os.ReadFile(filepath.Join(adapterDir, "adapter_config.json"))
	if err != nil {
		return
	}
	var ac struct {
		Base string `json:"base_model_name_or_path"`
	}
	if json.Unmarshal(raw, &ac) != nil || ac.Base == "" {
		return
	}
	if st, err := os.Stat(ac.Base); err == nil && st.IsDir() {
		*modelDir = ac.Base
		fmt.Fprintf(stderr, "--model: %s (the adapter's base_model_name_or_path)\n", ac.Base)
	}
}
