package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// orderedNumbers decodes a JSON object of numbers keeping the file's key order (PEFT
// tries rank_pattern and alpha_pattern keys in order; the first match wins). null or
// absent is empty.
func orderedNumbers(raw json.RawMessage) ([]PatternValue, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("want an object of module pattern → number")
	}
	var out []PatternValue
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%q: want a number: %w", key, err)
		}
		out = append(out, PatternValue{Key: key, Value: v})
	}
	return out, nil
}

// patternJSON writes a pattern list back as an ordered JSON object.
func patternJSON(ps []PatternValue) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Key)
		v, _ := json.Marshal(p.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// checkModulesToSave refuses a non-empty modules_to_save: preftune's adapters are LoRA
// pairs only, so fully trained extra modules (a score head, embeddings) would be lost.
func checkModulesToSave(raw json.RawMessage) error {
	t := string(bytes.TrimSpace(raw))
	if t == "" || t == "null" || t == "[]" {
		return nil
	}
	return fmt.Errorf("%s is not supported (the adapter would need those modules' full weights; preftune loads LoRA pairs only): merge the adapter with PEFT or drop the field", t)
}

// BaseModelRef is what an adapter records as base_model_name_or_path: an existing
// local directory as an absolute path (so the adapter resolves from any working
// directory), anything else (a hub id) unchanged.
func BaseModelRef(base string) string {
	if base == "" {
		return base
	}
	if info, err := os.Stat(base); err == nil && info.IsDir() {
		if abs, err := filepath.Abs(base); err == nil {
			return abs
		}
	}
	return base
}

// AdapterDirError is returned when a model directory is a PEFT adapter.
type AdapterDirError struct {
	Dir, Base string
}

func (e *AdapterDirError) Error() string {
	base := "BASE"
	if e.Base != "" {
		base = e.Base
	}
	return fmt.Sprintf("%s: this is an adapter; use --model %s --adapter %s (it has adapter_config.json and no config.json; "+
		"in a training config: model_name_or_path: %s, adapter_name_or_path: %s)", e.Dir, base, e.Dir, base, e.Dir)
}

// CheckNotAdapter returns an *AdapterDirError when dir holds adapter_config.json and
// no config.json.
func CheckNotAdapter(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	raw, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return nil
	}
	var ac struct {
		Base string `json:"base_model_name_or_path"`
	}
	json.Unmarshal(raw, &ac)
	return &AdapterDirError{Dir: strings.TrimRight(dir, "/"), Base: ac.Base}
}
