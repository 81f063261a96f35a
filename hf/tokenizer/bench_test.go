package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// englishProse returns the prompt, chosen and rejected texts of the ultrafeedback
// sample (~590 KB of mostly English prose, some code).
func englishProse(b *testing.B) []string {
	b.Helper()
	f, err := os.Open(filepath.Join(testdataDir, "preferences", "ultrafeedback_binarized_200.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var row struct{ Prompt, Chosen, Rejected string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			b.Fatal(err)
		}
		texts = append(texts, row.Prompt, row.Chosen, row.Rejected)
	}
	return texts
}

// BenchmarkEncodeEnglish reports encode throughput in MB/s of input text. The word
// cache is warm after the first pass, as it is in training (the same
// vocabulary recurs).
func BenchmarkEncodeEnglish(b *testing.B) {
	texts := englishProse(b)
	total := 0
	for _, s := range texts {
		total += len(s)
	}
	for _, name := range []string{"gpt2", "llama3", "qwen2.5", "llama2", "mistral"} {
		b.Run(name, func(b *testing.B) {
			tok := loadTestTokenizer(b, name)
			for _, s := range texts { // warm the word cache
				tok.Encode(s, false)
			}
			b.SetBytes(int64(total))
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				for _, s := range texts {
					tok.Encode(s, false)
				}
			}
			reportCPUThroughput(b, total, cpuTime()-cpu0)
		})
	}
}

// BenchmarkEncodeEnglishCold is the same without the benefit of a warm cache: a
// fresh tokenizer each iteration.
func BenchmarkEncodeEnglishCold(b *testing.B) {
	texts := englishProse(b)
	total := 0
	for _, s := range texts {
		total += len(s)
	}
	for _, name := range []string{"gpt2", "llama3", "qwen2.5", "llama2"} {
		b.Run(name, func(b *testing.B) {
			tok := loadTestTokenizer(b, name)
			defer func() { tok.cache, tok.short = newWordCache(), newShortCache() }()
			b.SetBytes(int64(total))
			b.ResetTimer()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				tok.cache, tok.short = newWordCache(), newShortCache()
				b.StartTimer()
				cpu0 := cpuTime()
				for _, s := range texts {
					tok.Encode(s, false)
				}
				cpu += cpuTime() - cpu0
			}
			reportCPUThroughput(b, total, cpu)
		})
	}
}

// reportCPUThroughput adds MB per CPU-second, the throughput a core would give on
// an idle machine (wall-clock MB/s on a loaded one says little).
func reportCPUThroughput(b *testing.B, bytesPerOp int, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
}

// BenchmarkLoad measures Load (tokenizer.json + config) per tokenizer.
func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{"gpt2", "llama3", "qwen2.5", "llama2"} {
		b.Run(name, func(b *testing.B) {
			cpu0 := cpuTime()
			for range b.N {
				if _, err := Load(filepath.Join(testdataDir, "tokenizers", name)); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			}
		})
	}
}
