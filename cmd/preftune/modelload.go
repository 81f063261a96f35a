package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/model"
)

// openBackend opens the compute backend for an inference command (kernels.Open:
// $PREFTUNE_BACKEND or cpu).
func openBackend(threads int) (kernels.Backend, error) {
	be, err := kernels.Open("", kernels.OpenOptions{Threads: threads})
	if err != nil {
		return nil, badInput(err)
	}
	return be, nil
}

// loadModel loads the Hugging Face model dir and, when adapterDir is set, the PEFT
// LoRA adapter on top of it (opt.LoRA is taken from the adapter's config). Problems
// with either dir are bad input, named by their flag. The model is Frozen.
func loadModel(be kernels.Backend, modelDir, adapterDir string, opt model.Options) (*model.Model, error) {
	return loadModelFor(be, modelDir, adapterDir, opt, 0, 0, 0)
}

// loadModelFor is loadModel for forwards of at most tokens tokens, rows of them scored,
// and a KV cache of kvTokens (the memory preflight's estimate; 0: a default, none).
func loadModelFor(be kernels.Backend, modelDir, adapterDir string, opt model.Options, tokens, rows, kvTokens int) (*model.Model, error) {
	if adapterDir != "" {
		lc, err := model.ReadAdapterConfig(adapterDir)
		if err != nil {
			return nil, badInputf("--adapter: %w", err)
		}
		opt.LoRA = lc
	}
	opt.Frozen = true // inference only: no gradient buffers
	if opt.MaxTokens == 0 && tokens > 0 {
		// plan the activations once, for the largest batch: re-planning batch by batch
		// leaves each smaller plan as garbage until the collector runs
		opt.MaxTokens = tokens
	}
	if err := checkMemory("--model", modelDir, opt, opt.MaxTokens, rows, kvTokens); err != nil {
		return nil, err
	}
	m, err := model.Load(modelDir, be, opt)
	if err != nil {
		return nil, badInputf("--model: %w", err)
	}
	if adapterDir != "" {
		if err := m.LoadAdapter(adapterDir); err != nil {
			return nil, badInputf("--adapter: %w", err)
		}
	}
	warnCompute(m, opt)
	return m, nil
}

// computeDTypeFlag adds --compute-dtype float32|bfloat16 (logps, score, generate).
func computeDTypeFlag(fs *flag.FlagSet) *string {
	return fs.String("compute-dtype", "float32", "float32, or bfloat16: bf16 products with float32 accumulation (oneDNN, AVX512-BF16; weights kept in bf16)")
}

// inferenceOptions are a frozen model's storage and compute for --compute-dtype: its
// 16-bit weights stay 16-bit (same values as a float32 load), bfloat16 rounds the others
// and multiplies in bf16.
func inferenceOptions(computeDType string) (model.Options, error) {
	switch strings.ToLower(computeDType) {
	case "float32", "fp32":
		return model.Options{Storage: model.Storage{Keep16: true}}, nil
	case "bfloat16", "bf16":
		return model.Options{Storage: model.Storage{Keep16: true, To16: safetensors.BF16}, ComputeBF16: true}, nil
	}
	return model.Options{}, badInputf("--compute-dtype: %q: want float32 or bfloat16", computeDType)
}

// warnCompute says when bf16 compute was asked for and is not available here.
func warnCompute(m *model.Model, opt model.Options) {
	if opt.ComputeBF16 && m.ComputeDType() != "bfloat16" {
		msg := "the backend has no bf16 GEMM"
		if bf, ok := m.Backend().(kernels.BF16Matmul); ok {
			if err := bf.BF16Ready(); err != nil {
				msg = err.Error()
			}
		}
		fmt.Fprintf(os.Stderr, "preftune: warning: --compute-dtype bfloat16 unavailable (%s); computing in float32\n", msg)
	}
}
