package main

import (
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
func checkMemory(flag, dir string, lora *model.LoRAConfig, tokens, rows int) error {
	ck, err := model.Inspect(dir)
	if err != nil {
		return badInputf("%s: %w", flag, err)
	}
	if tokens <= 0 {
		tokens = inferenceTokens
	}
	est, err := preflight.Inference(preflight.FromCheckpoint(ck, nil), preflight.Use{Tokens: tokens, LogitRows: rows, LoRA: lora}, 0)
	if err != nil {
		return badInputf("%s: %w", flag, err)
	}
	if _, err := preflight.Host.Check(est, inferenceHints); err != nil {
		return badInputf("%s: %w", flag, err)
	}
	return nil
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
