package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/quant"
	"github.com/preftune/preftune/report"
)

// ShardBytes is the shard size of saved models: transformers' save_pretrained default
// max_shard_size "5GB" (5·10⁹ bytes).
const ShardBytes = 5_000_000_000

// TokenizerFiles are copied from the model dir next to the trained weights (those present).
var TokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
	"tokenizer.model", "added_tokens.json", "chat_template.jinja", "chat_template.json", "generation_config.json",
}

// writeOutputs saves the trained model (full weights in the input dtype, or the PEFT
// adapter), the tokenizer files, train_results.json, trainer_state.json and the plots,
// as a set: all are written into output_dir/.preftune-final.tmp first and renamed into
// output_dir only when every one was written (rundir.go). A failure while writing
// (disk full) leaves output_dir as it was: its last checkpoint and no final file.
func (t *trainer) writeOutputs(sum *Summary) error {
	out := t.c.OutputDir
	stage := filepath.Join(out, finalStage)
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("saving the final outputs: %w", err)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("saving the final outputs: %w", err)
	}
	plots, err := t.stageOutputs(stage, sum)
	if err != nil {
		os.RemoveAll(stage)
		atomicfile.SyncDir(out)
		kept := "no checkpoint"
		if ck, _ := listCheckpoints(out); len(ck) > 0 {
			kept = fmt.Sprintf("the last checkpoint, %s, is intact: resume_from_checkpoint: true continues from it", checkpointDir(out, ck[len(ck)-1]))
		}
		return fmt.Errorf("saving the final outputs in %s failed, none of them was written (%s): %w", out, kept, err)
	}
	if _, err := commitFinalStage(out, stage); err != nil {
		return fmt.Errorf("saving the final outputs in %s: %w", out, err)
	}
	for _, f := range plots {
		fmt.Fprintf(t.log, "plot: %s\n", filepath.Join(out, filepath.Base(f)))
	}
	fmt.Fprintf(t.log, "saved to %s\n", out)
	return nil
}

// stageOutputs writes every final output into dir; it returns the plots written.
func (t *trainer) stageOutputs(dir string, sum *Summary) ([]string, error) {
	c := t.c
	if t.st.vh != nil {
		if err := t.saveRewardModel(dir); err != nil {
			return nil, err
		}
	} else if c.LoRA() {
		if err := t.st.policy.SaveAdapter(dir, c.ModelNameOrPath); err != nil {
			return nil, fmt.Errorf("saving the adapter: %w", err)
		}
	} else {
		if err := SaveModel(dir, c.ModelNameOrPath, t.st.policy.Tensors()); err != nil {
			return nil, err
		}
	}
	if err := copyFiles(c.ModelNameOrPath, dir, TokenizerFiles); err != nil {
		return nil, fmt.Errorf("copying the tokenizer files: %w", err)
	}
	raw, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, resultsFile), append(raw, '\n'), 0o644); err != nil {
		return nil, err
	}
	state, err := json.MarshalIndent(map[string]any{"global_step": t.step, "max_steps": t.totalSteps,
		"epoch": sum.Epoch, "log_history": t.history}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "trainer_state.json"), append(state, '\n'), 0o644); err != nil {
		return nil, err
	}
	var plots []string
	if c.PlotLoss {
		if plots, err = report.Plot(dir, t.history); err != nil {
			return nil, fmt.Errorf("plot_loss: %w", err)
		}
	}
	return plots, nil
}

// SaveModel writes full weights to dir as save_pretrained does — model.safetensors,
// sharded past 5 GB — each tensor in the dtype it has in srcDir's weights (float32 for
// tensors srcDir lacks), plus srcDir's config.json.
func SaveModel(dir, srcDir string, ts []model.Tensor) error {
	st, err := safetensors.OpenModel(srcDir)
	if err != nil {
		return fmt.Errorf("reading the input dtypes: %w", err)
	}
	out := make([]safetensors.Tensor, len(ts))
	for i, t := range ts {
		dt := safetensors.F32
		if info, ok := st.Tensor(t.Name); ok && (info.DType == safetensors.BF16 || info.DType == safetensors.F16) {
			dt = info.DType
		} else if quant.IsQuantized(st, t.Name) { // a dequantized 4-bit weight: its source dtype
			if info, err := quant.State(st, t.Name); err == nil && info.DType != safetensors.F32 {
				dt = info.DType
			}
		}
		out[i] = safetensors.Tensor{Name: t.Name, DType: dt, Shape: t.Shape, F32: t.Data}
	}
	st.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := safetensors.WriteModel(dir, out, map[string]string{"format": "pt"}, ShardBytes); err != nil {
		return fmt.Errorf("saving the model: %w", err)
	}
	return copyFiles(srcDir, dir, []string{"config.json"})
}

// copyFiles copies the named files of src that exist into dst, atomically each.
func copyFiles(src, dst string, names []string) error {
	if filepath.Clean(src) == filepath.Clean(dst) {
		return nil
	}
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(src, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("copying %s: %w", n, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dst, n), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
