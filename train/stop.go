package train

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/preftune/preftune/atomicfile"
	"github.com/preftune/preftune/buildinfo"
)

// ArgsFile is the resolved config of a run, saved in output_dir (as LLaMA-Factory
// saves its training_args.yaml), headed by `preftune version`'s lines as comments so
// that the file still loads as a config.
const ArgsFile = "training_args.yaml"

// StoppedError is what Run returns when its context is cancelled with cause
// ErrStopRequested (SIGINT/SIGTERM in the CLI): the optimizer step under way was finished and, when any step was done,
// checkpoint-N written (whatever save_strategy says: transformers saves on interruption
// only through a callback; preftune always saves one), so resume_from_checkpoint: true
// continues from it.
type StoppedError struct {
	Step       int
	Checkpoint string // "" when no step was done
	Cause      error  // context.Cause of the run's context
}

func (e *StoppedError) Error() string {
	if e.Checkpoint == "" {
		return "stopped before the first optimizer step; nothing to resume (no checkpoint written)"
	}
	return fmt.Sprintf("stopped at step %d; resume with resume_from_checkpoint: true (checkpoint %s)", e.Step, e.Checkpoint)
}

func (e *StoppedError) Unwrap() error { return e.Cause }

// ErrStopRequested, as the cause of the run's context (context.WithCancelCause), asks
// for a graceful stop: the run finishes the optimizer step under way, writes a
// checkpoint and returns a *StoppedError. A context cancelled for any other cause stops
// the run between steps without a checkpoint, as a kill there would.
var ErrStopRequested = errors.New("stop requested")

// beginRun is what Run does after the setup and before the first step: the resolved
// config and version in training_args.yaml, and the report_to integrations.
func (t *trainer) beginRun() error {
	if err := t.writeArgsFile(); err != nil {
		return err
	}
	return t.openReports()
}

// writeArgsFile writes output_dir/training_args.yaml (atomically; rank 0 only).
func (t *trainer) writeArgsFile() error {
	if t.rank != 0 || !IsRankZero() {
		return nil
	}
	info := buildinfo.Read()
	if t.opt.Backend != "" {
		info.Backend = t.opt.Backend
	}
	raw, err := t.cfg.MarshalYAML(append(info.Lines(), "the resolved config of this run: `preftune train "+ArgsFile+"` reruns it"))
	if err != nil {
		return fmt.Errorf("%s: %w", ArgsFile, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(t.c.OutputDir, ArgsFile), raw, 0o644); err != nil {
		return fmt.Errorf("%s: %w", ArgsFile, err)
	}
	return nil
}

// finishRun turns the loop's result into Run's: on a cancelled context a checkpoint
// and a *StoppedError; on success the summary's metrics are also reported
// (train/train_runtime, ... in TensorBoard, as the Trainer logs them at the end).
func (t *trainer) finishRun(ctx context.Context, sum *Summary, err error) (*Summary, error) {
	if err != nil {
		if errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), ErrStopRequested) {
			return nil, t.stopped(context.Cause(ctx))
		}
		return nil, err
	}
	if err := t.finalEval(); err != nil {
		return nil, err
	}
	rerr := t.report(sum.GlobalStep, sum.Epoch, map[string]float64{
		"train_runtime": sum.Runtime, "train_samples_per_second": sum.Samples,
		"train_steps_per_second": sum.StepsPerS, "train_loss": sum.TrainLoss,
	})
	if cerr := t.closeReports(); rerr == nil {
		rerr = cerr
	}
	if rerr != nil {
		return nil, rerr
	}
	return sum, nil
}

// stopped writes the checkpoint of the steps done (unless the loop just wrote it) and
// returns the StoppedError.
func (t *trainer) stopped(cause error) error {
	st := &StoppedError{Step: t.step, Cause: cause}
	if t.step == 0 {
		return st
	}
	dir := checkpointDir(t.c.OutputDir, t.step)
	if checkCheckpoint(dir, false) != nil {
		if err := t.saveCheckpoint(); err != nil {
			return fmt.Errorf("stopping at step %d: %w", t.step, err)
		}
	}
	st.Checkpoint = dir
	fmt.Fprintf(t.log, "stopped: checkpoint %s written\n", dir)
	return st
}
