package hub

import (
	"strings"
	"testing"
)

// TestPickers: which files of a repo a run fetches, per kind of argument.
func TestPickers(t *testing.T) {
	qwen := []string{".gitattributes", "LICENSE", "README.md", "config.json", "generation_config.json", "merges.txt",
		"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
		"onnx/model.onnx", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json", "vocab.json"}
	adapter := []string{"README.md", "adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "training_args.bin", "tokenizer.json"}
	cases := []struct {
		name  string
		pick  Picker
		files []string
		want  string // comma-joined, or "error: …"
	}{
		{"model", ModelPicker, qwen, "config.json,generation_config.json,merges.txt,model-00001-of-00002.safetensors,model-00002-of-00002.safetensors,model.safetensors.index.json,tokenizer.json,tokenizer_config.json,vocab.json"},
		{"model without weights", ModelPicker, []string{"config.json", "pytorch_model.bin"}, "error: no *.safetensors weights"},
		{"adapter", AdapterPicker, adapter, "adapter_config.json,adapter_model.safetensors,tokenizer.json"},
		{"adapter without safetensors", AdapterPicker, []string{"adapter_config.json", "adapter_model.bin"}, "error: adapter_model.safetensors"},
		{"tokenizer", TokenizerPicker, qwen, "config.json,generation_config.json,merges.txt,tokenizer.json,tokenizer_config.json,vocab.json"},
		{"tokenizer missing", TokenizerPicker, []string{"config.json", "model.safetensors"}, "error: no tokenizer.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.pick(c.files)
			if msg, isErr := strings.CutPrefix(c.want, "error: "); isErr {
				if err == nil || !strings.Contains(err.Error(), msg) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, msg)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != c.want {
				t.Fatalf("got %v, %v; want %s", got, err, c.want)
			}
		})
	}
}
