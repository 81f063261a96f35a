package main

import (
	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/preflight"
)

// inferenceTokens is the activation plan the memory preflight assumes for an inference
// command whose batch is not known before loading (a forward of a few pairs).
const inferenceTokens = 512

// inferenceHints is the advice when an inference command's model cannot fit.
var inferenceHints = []string{"a smaller --batch-size", "load_in_4bit or a bf16 checkpoint", "a machine with more memory"}

// checkMemory is the preflight of loading the model in dir (frozen, with lora when set):
// its sizes are checked against the safetensors headers and its estimate against the
// memory available, before anything is allocated. flag names the dir in errors.
func checkMemory(flag, dir string, opt model.Options, tokens, rows, kvTokens int) error {
	_, err := checkMemoryBeside(flag, dir, opt, tokens, rows, kvTokens, preflight.Estimate{})
	return err
}

// checkMemoryBeside is checkMemory for a model loaded beside others already counted in
// loaded (their estimate); it returns the sum.
// kvTokens sizes a KV cache (generate; 0: none): keys and values of every layer.
func checkMemoryBeside(flag, dir string, opt model.Options, tokens, rows, kvTokens int, loaded preflight.Estimate) (preflight.Estimate, error) {
	opt.Frozen = true
	lora := opt.LoRA
	ck, err := model.Inspect(dir)
	if err != nil {
		return loaded, badInputf("%s: %w", flag, err)
	}
	if tokens <= 0 {
		tokens = inferenceTokens
	}
	a := ck.Arch
	kv := 4 * int64(min(kvTokens, a.MaxPos)) * (2*int64(a.Layers)*int64(a.KVHeads*a.HeadDim) + 1)
	pm, err := preflight.FromCheckpointAs(ck, opt)
	if err != nil {
		return loaded, badInputf("%s: %w", flag, err)
	}
	est, err := preflight.Inference(pm, preflight.Use{Tokens: tokens, LogitRows: rows, LoRA: lora}, kv)
	if err != nil {
		return loaded, badInputf("%s: %w", flag, err)
	}
	if loaded.Total() > 0 { // one runtime allowance for the process
		est.Weights += loaded.Weights
		est.Adapters += loaded.Adapters
		est.Activations += loaded.Activations
		est.Other += loaded.Other - preflight.Runtime
	}
	if _, err := preflight.Host.Check(est, inferenceHints); err != nil {
		return est, badInputf("%s: %w", flag, err)
	}
	return est, nil
}

// busiestPairBatch is the most tokens (each prompt once, as the shared-prompt layout
// holds it) and scored completion tokens of any batch logps will run.
func busiestPairBatch(pairs []tokenPair, batchSize int) (tokens, rows int) {
	for s := 0; s < len(pairs); s += batchSize {
		n, r := 0, 0
		for _, p := range pairs[s:min(s+batchSize, len(pairs))] {
			n += len(p.Prompt) + len(p.Chosen) + len(p.Rejected)
			r += len(p.Chosen) + len(p.Rejected)
		}
		tokens, rows = max(tokens, n), max(rows, r)
	}
	return tokens, rows
}

// busiestScoreBatch is the most tokens and scored tokens of any batch score will run:
// batchSize sequences (prompt + one completion each) at a time.
func busiestScoreBatch(tks []data.Tokenized, batchSize int) (tokens, rows int) {
	n, r, k := 0, 0, 0
	for _, tk := range tks {
		for _, c := range tk.Completions {
			if k == batchSize {
				tokens, rows = max(tokens, n), max(rows, r)
				n, r, k = 0, 0, 0
			}
			n, r, k = n+len(tk.PromptIDs)+len(c), r+len(c), k+1
		}
	}
	return max(tokens, n), max(rows, r)
}
