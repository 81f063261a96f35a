package data

import (
	"path/filepath"
	"testing"
)

// BenchmarkTokenizeDPOEnDemoQwen tokenizes LLaMA-Factory's dpo_en_demo (300
// sharegpt ranking rows) through Qwen2.5's tokenizer and chat template, as training
// does, and reports rows per second (wall time, one goroutine).
//
//	go test ./data -run '^$' -bench TokenizeDPOEnDemoQwen
func BenchmarkTokenizeDPOEnDemoQwen(b *testing.B) {
	ds, err := Load("dpo_en_demo", Options{DatasetDir: filepath.Join(prefDir, "llamafactory")})
	if err != nil {
		b.Fatal(err)
	}
	tk, err := LoadTokenizer(filepath.Join("..", "testdata", "tokenizers", "qwen2.5"), TokenizeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rows, tokens := 0, 0
	b.ResetTimer()
	for b.Loop() {
		out, _, err := tk.TokenizeAll(ds.Examples, PolicyStrict)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(out)
		for i := range out {
			tokens += len(out[i].PromptIDs)
			for _, c := range out[i].Completions {
				tokens += len(c)
			}
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}
