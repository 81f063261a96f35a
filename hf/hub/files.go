package hub

import (
	"fmt"
	"path"
	"strings"
)

// modelFiles are the files of a model repo a run reads (besides *.safetensors).
var modelFiles = map[string]bool{
	"config.json": true, "generation_config.json": true, "model.safetensors.index.json": true,
	"tokenizer.json": true, "tokenizer_config.json": true, "special_tokens_map.json": true,
	"chat_template.jinja": true, "chat_template.json": true, "added_tokens.json": true,
	"vocab.json": true, "merges.txt": true, "tokenizer.model": true,
}

// adapterFiles are the files of a PEFT adapter repo a run reads.
var adapterFiles = map[string]bool{
	"adapter_config.json": true, "adapter_model.safetensors": true,
	"tokenizer.json": true, "tokenizer_config.json": true, "special_tokens_map.json": true,
	"chat_template.jinja": true, "added_tokens.json": true,
}

// NeededModelFile says whether a file at the top of a model repo is one a run reads:
// config.json, the safetensors weights and their index, the tokenizer files, the chat
// template and generation_config.json (never *.bin, *.pt, onnx/, gguf, …).
func NeededModelFile(name string) bool {
	if strings.Contains(name, "/") {
		return false
	}
	return modelFiles[name] || strings.HasSuffix(name, ".safetensors")
}

// ModelPicker picks NeededModelFile files and requires config.json and safetensors
// weights (a repo with only PyTorch .bin weights is refused with that reason).
func ModelPicker(files []string) ([]string, error) {
	var out []string
	conf, weights := false, false
	for _, f := range files {
		if NeededModelFile(f) {
			out = append(out, f)
			conf = conf || f == "config.json"
			weights = weights || strings.HasSuffix(f, ".safetensors")
		}
	}
	switch {
	case !conf:
		return nil, fmt.Errorf("no config.json (files: %s)", list(files))
	case !weights:
		return nil, fmt.Errorf("no *.safetensors weights (preftune reads safetensors only; files: %s)", list(files))
	}
	return out, nil
}

// AdapterPicker picks a PEFT adapter's files: adapter_config.json and
// adapter_model.safetensors (required) and its tokenizer files.
func AdapterPicker(files []string) ([]string, error) {
	var out []string
	n := 0
	for _, f := range files {
		if adapterFiles[f] {
			out = append(out, f)
			if f == "adapter_config.json" || f == "adapter_model.safetensors" {
				n++
			}
		}
	}
	if n != 2 {
		return nil, fmt.Errorf("a PEFT adapter needs adapter_config.json and adapter_model.safetensors (files: %s)", list(files))
	}
	return out, nil
}

// TokenizerPicker picks a repo's tokenizer files and config.json (no weights);
// tokenizer.json is required.
func TokenizerPicker(files []string) ([]string, error) {
	var out []string
	tok := false
	for _, f := range files {
		if NeededModelFile(f) && !strings.HasSuffix(f, ".safetensors") && f != "model.safetensors.index.json" {
			out = append(out, f)
			tok = tok || f == "tokenizer.json"
		}
	}
	if !tok {
		return nil, fmt.Errorf("no tokenizer.json (files: %s)", list(files))
	}
	return out, nil
}

// list shows at most 12 names.
func list(files []string) string {
	if len(files) == 0 {
		return "none"
	}
	if len(files) > 12 {
		return strings.Join(files[:12], ", ") + fmt.Sprintf(", … (%d in all)", len(files))
	}
	return strings.Join(files, ", ")
}

// isDataFile says whether a dataset repo file is one the data package reads
// (parquet, jsonl, json, optionally gzipped), leaving out the files the datasets
// library ignores (README.md, dataset_info.json, …) and hidden paths.
func isDataFile(f string) bool {
	for _, p := range strings.Split(f, "/") {
		if strings.HasPrefix(p, ".") || strings.HasPrefix(p, "__") {
			return false
		}
	}
	switch path.Base(f) {
	case "config.json", "dataset_info.json", "dataset_infos.json", "dataset_dict.json":
		return false
	}
	name := strings.TrimSuffix(strings.ToLower(f), ".gz")
	return strings.HasSuffix(name, ".parquet") || strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json")
}
