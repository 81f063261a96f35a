package main

import (
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
	if err := checkMemory("--model", modelDir, opt.LoRA, opt.MaxTokens, rows, kvTokens); err != nil {
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
	return m, nil
}
