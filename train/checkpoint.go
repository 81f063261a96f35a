package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
)

func checkpointDir(out string, n int) string {
	return filepath.Join(out, "checkpoint-"+strconv.Itoa(n))
}

func pathIn(dir, name string) string { return filepath.Join(dir, name) }

// listCheckpoints returns the steps of the complete checkpoints in out (checkCheckpoint
// without hashes: every file of the manifest present with its size), ascending.
func listCheckpoints(out string) ([]int, error) {
	ents, err := os.ReadDir(out)
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if !ok || !e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		if checkCheckpoint(filepath.Join(out, e.Name()), false) == nil {
			steps = append(steps, n)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// trainerState is a checkpoint's trainer_state.json: everything besides tensors that
// a resumed run needs to continue bit for bit.
type trainerState struct {
	GlobalStep    int     `json:"global_step"`
	Epoch         float64 `json:"epoch"`
	MaxSteps      int     `json:"max_steps"`
	StepsPerEpoch int     `json:"steps_per_epoch"`
	OptimizerStep int     `json:"optimizer_step"`
	Seed          int     `json:"seed"`
	DataOrder     string  `json:"data_order"`
	// DropoutStream is the LoRA dropout stream position (model.DropoutStream).
	DropoutStream uint64 `json:"dropout_stream"`
	// WorldSize and DropoutStreams (every rank's position) are a data-parallel run's.
	WorldSize      int            `json:"world_size,omitempty"`
	DropoutStreams []uint64       `json:"dropout_streams,omitempty"`
	LogHistory     []report.Entry `json:"log_history"`
	Interval       intervalState  `json:"logging_interval"`
}

// intervalState is the logging accumulator between two log lines.
type intervalState struct {
	Steps   int                `json:"steps"`
	Loss    float64            `json:"loss"`
	GNorm   float64            `json:"grad_norm"`
	Metrics map[string]float64 `json:"metrics"`
	Weight  map[string]float64 `json:"weights"`
	LossSum float64            `json:"run_loss_sum"`
	NSum    int                `json:"run_steps"`
}

// saveCheckpoint writes checkpoint-N atomically: everything goes to a temporary dir,
// checkpoint_manifest.json last, and the dir is renamed into place when complete; then
// save_total_limit prunes old ones.
func (t *trainer) saveCheckpoint() error {
	c := t.c
	final := checkpointDir(c.OutputDir, t.step)
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	fail := func(err error) error {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkpoint %d: %w", t.step, err)
	}
	p := t.st.policy
	if c.LoRA() {
		if err := p.SaveAdapter(tmp, c.ModelNameOrPath); err != nil {
			return fail(err)
		}
	} else {
		if err := safetensors.WriteFile(filepath.Join(tmp, "model.safetensors"), f32Tensors(p.Tensors(), ""), map[string]string{"format": "pt"}); err != nil {
			return fail(err)
		}
		if err := copyFiles(c.ModelNameOrPath, tmp, []string{"config.json"}); err != nil {
			return fail(err)
		}
	}
	if vh := t.st.vh; vh != nil {
		if err := safetensors.WriteFile(filepath.Join(tmp, valueHeadFile), f32Tensors(vh.Tensors(), ""), map[string]string{"format": "pt"}); err != nil {
			return fail(err)
		}
	}
	if !c.SaveOnlyModel {
		var ts []safetensors.Tensor
		for o, prefix := t.optim, ""; o != nil; o, prefix = o.next, "score." {
			if o.m != nil {
				ts = append(ts, safetensors.Tensor{Name: prefix + o.momentName(), DType: safetensors.F32, Shape: []int{len(o.m)}, F32: o.m})
			}
			if o.v != nil {
				ts = append(ts, safetensors.Tensor{Name: prefix + o.secondName(), DType: safetensors.F32, Shape: []int{len(o.v)}, F32: o.v})
			}
		}
		if len(ts) > 0 {
			if err := safetensors.WriteFile(filepath.Join(tmp, "optimizer.safetensors"), ts, nil); err != nil {
				return fail(err)
			}
		}
		if c.SyncRefModel {
			if err := safetensors.WriteFile(filepath.Join(tmp, "ref_model.safetensors"), f32Tensors(t.st.ref.Tensors(), ""), nil); err != nil {
				return fail(err)
			}
		}
	}
	st := trainerState{
		GlobalStep: t.step, Epoch: float64(t.step) / float64(t.stepsPerEpoch), MaxSteps: t.totalSteps,
		StepsPerEpoch: t.stepsPerEpoch, OptimizerStep: t.optim.step, Seed: c.Seed,
		DropoutStream:  t.st.policy.DropoutStream(),
		DataOrder:      "PCG(seed, epoch) shuffle; position = global_step",
		DropoutStreams: t.dropStreams,
		WorldSize:      t.worldIfParallel(),
		LogHistory:     t.history,
		Interval: intervalState{Steps: t.acc.steps, Loss: t.acc.loss, GNorm: t.acc.gnorm, Metrics: t.acc.metrics,
			Weight: t.acc.weight, LossSum: t.acc.lossSum, NSum: t.acc.nSum},
	}
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, "trainer_state.json"), raw, 0o644); err != nil {
		return fail(err)
	}
	if err := writeManifest(tmp, t.step); err != nil {
		return fail(err)
	}
	atomicfile.SyncDir(tmp)
	if err := removeCheckpoint(final); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	atomicfile.SyncDir(c.OutputDir)
	if c.SaveTotalLimit > 0 {
		steps, err := listCheckpoints(c.OutputDir)
		if err != nil {
			return fmt.Errorf("save_total_limit: %w", err)
		}
		for len(steps) > c.SaveTotalLimit {
			if err := removeCheckpoint(checkpointDir(c.OutputDir, steps[0])); err != nil {
				return fmt.Errorf("save_total_limit: %w", err)
			}
			steps = steps[1:]
		}
	}
	return nil
}

// f32Tensors views model tensors as float32 safetensors (the dtype of checkpoints,
// so a resume restores the exact weights); prefix is prepended to names.
func f32Tensors(ts []model.Tensor, prefix string) []safetensors.Tensor {
	out := make([]safetensors.Tensor, len(ts))
	for i, t := range ts {
		out[i] = safetensors.Tensor{Name: prefix + t.Name, DType: safetensors.F32, Shape: t.Shape, F32: t.Data}
	}
	return out
}

// resumeOrStart opens trainer_log.jsonl fresh, or restores the checkpoint named by
// resume_from_checkpoint (true: the newest in output_dir) and rewrites the log to its
// history, dropping lines a killed run wrote after that checkpoint.
func (t *trainer) resumeOrStart() error {
	c := t.c
	logPath := pathIn(c.OutputDir, "trainer_log.jsonl")
	if c.ResumeFromCheckpoint == "" {
		return t.createLog(logPath, nil)
	}
	dir, err := t.resumeDir()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	if err != nil {
		return fmt.Errorf("resume_from_checkpoint: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("resume_from_checkpoint: %s/trainer_state.json: %w", dir, err)
	}
	if ws := max(1, st.WorldSize); ws != t.world {
		return fmt.Errorf("resume_from_checkpoint: %s was written by a data-parallel run of %d ranks, this run has %d: resume it with the same number of ranks (mpirun -np %d); the data order of a step and each rank's dropout stream depend on it. To continue with %d ranks, start a new run from its weights (model_name_or_path: %s, or adapter_name_or_path for LoRA)",
			dir, ws, t.world, ws, t.world, dir)
	}
	if st.MaxSteps != t.totalSteps && st.StepsPerEpoch == t.stepsPerEpoch && st.Seed == c.Seed {
		// HF Trainer continues to the new max_steps; its rebuilt scheduler follows the
		// new total from the restored step.
		fmt.Fprintf(t.log, "resume: %s was written by a run of %d steps; continuing from step %d to %d (the learning-rate schedule follows the new total, as HF Trainer's does)\n",
			dir, st.MaxSteps, st.GlobalStep, t.totalSteps)
		st.MaxSteps = t.totalSteps
	}
	if st.MaxSteps != t.totalSteps || st.StepsPerEpoch != t.stepsPerEpoch || st.Seed != c.Seed {
		return fmt.Errorf("resume_from_checkpoint: %s was written by a run with %d steps (%d per epoch, seed %d); this config gives %d (%d, seed %d)",
			dir, st.MaxSteps, st.StepsPerEpoch, st.Seed, t.totalSteps, t.stepsPerEpoch, c.Seed)
	}
	p := t.st.policy
	if c.LoRA() {
		if err := p.LoadAdapter(dir); err != nil {
			return fmt.Errorf("resume_from_checkpoint: %w", err)
		}
	} else if err := readInto(filepath.Join(dir, "model.safetensors"), p.Tensors()); err != nil {
		return fmt.Errorf("resume_from_checkpoint: %w", err)
	}
	if vh := t.st.vh; vh != nil {
		if err := readInto(filepath.Join(dir, valueHeadFile), vh.Tensors()); err != nil {
			return fmt.Errorf("resume_from_checkpoint: %w", err)
		}
	}
	o := t.optim
	if o.m != nil || o.v != nil {
		f, err := safetensors.Open(filepath.Join(dir, "optimizer.safetensors"))
		if err != nil {
			return fmt.Errorf("resume_from_checkpoint: optimizer state (a save_only_model checkpoint cannot be resumed): %w", err)
		}
		defer f.Close()
		for p, prefix := o, ""; p != nil; p, prefix = p.next, "score." {
			if p.m != nil {
				if err := f.ReadFloat32(prefix+p.momentName(), p.m); err != nil {
					return fmt.Errorf("resume_from_checkpoint: %w", err)
				}
			}
			if p.v != nil {
				if err := f.ReadFloat32(prefix+p.secondName(), p.v); err != nil {
					return fmt.Errorf("resume_from_checkpoint: %w", err)
				}
			}
		}
	}
	if c.SyncRefModel {
		if err := readInto(filepath.Join(dir, "ref_model.safetensors"), t.st.ref.Tensors()); err != nil {
			return fmt.Errorf("resume_from_checkpoint: %w", err)
		}
	}
	for p := o; p != nil; p = p.next {
		p.step = st.OptimizerStep
	}
	p.SetDropoutStream(st.DropoutStream)
	if len(st.DropoutStreams) == t.world && t.world > 1 {
		p.SetDropoutStream(st.DropoutStreams[t.rank])
	}
	t.step = st.GlobalStep
	t.history = st.LogHistory
	iv := st.Interval
	t.acc.steps, t.acc.loss, t.acc.gnorm, t.acc.lossSum, t.acc.nSum = iv.Steps, iv.Loss, iv.GNorm, iv.LossSum, iv.NSum
	for k, v := range iv.Metrics {
		t.acc.metrics[k] = v
	}
	for k, v := range iv.Weight {
		t.acc.weight[k] = v
	}
	fmt.Fprintf(t.log, "resumed from %s at step %d\n", dir, t.step)
	return t.createLog(logPath, t.history)
}

// resumeDir is the checkpoint to resume: resume_from_checkpoint's dir, or (true) the
// newest complete checkpoint of output_dir whose manifest verifies, skipping (and
// saying so) any whose hashes do not match.
func (t *trainer) resumeDir() (string, error) {
	c := t.c
	if dir := c.ResumeFromCheckpoint; dir != "true" {
		if err := verifyCheckpoint(dir); errors.Is(err, errLegacyCheckpoint) {
			fmt.Fprintf(t.log, "resume_from_checkpoint: %s has no %s (an older preftune wrote it); its files are present, so it is used\n", dir, manifestFile)
		} else if err != nil {
			return "", fmt.Errorf("resume_from_checkpoint: %w", err)
		}
		return dir, nil
	}
	steps, err := listCheckpoints(c.OutputDir)
	if err != nil {
		return "", fmt.Errorf("resume_from_checkpoint: %w", err)
	}
	if len(steps) == 0 {
		return "", fmt.Errorf("resume_from_checkpoint: no checkpoint yet in %s; start over without resume_from_checkpoint or with overwrite_output_dir", c.OutputDir)
	}
	var bad []string
	for i := len(steps) - 1; i >= 0; i-- {
		dir := checkpointDir(c.OutputDir, steps[i])
		err := verifyCheckpoint(dir)
		if errors.Is(err, errLegacyCheckpoint) {
			fmt.Fprintf(t.log, "resume_from_checkpoint: %s has no %s (an older preftune wrote it); its files are present, so it is used\n", dir, manifestFile)
			return dir, nil
		}
		if err == nil {
			return dir, nil
		}
		fmt.Fprintf(t.log, "resume_from_checkpoint: skipping %s: %v\n", dir, err)
		bad = append(bad, err.Error())
	}
	return "", fmt.Errorf("resume_from_checkpoint: no checkpoint in %s verifies: %s", c.OutputDir, strings.Join(bad, "; "))
}

// removeCheckpoint deletes a checkpoint dir: renamed first (checkpoint-N.old is no
// checkpoint), so that a kill midway never leaves a dir that still looks complete.
func removeCheckpoint(dir string) error {
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(dir, old); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(old)
}

// readInto reads every tensor of ts from a safetensors file.
func readInto(path string, ts []model.Tensor) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, t := range ts {
		if err := f.ReadFloat32(t.Name, t.Data); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
