package train

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/preftune/preftune/report"
	"path/filepath"
	"slices"
	"time"

	"github.com/preftune/preftune/atomicfile"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train/config"
)

// EvalResultsFile is what an evaluation writes in output_dir (Trainer.save_metrics("eval")).
const EvalResultsFile = "eval_results.json"

// Evaluate is an evaluation-only run (do_train: false, do_eval: true; `preftune eval`):
// the policy — model_name_or_path, with adapter_name_or_path on top under LoRA — and
// the reference the training run would use are run over the eval split (eval_dataset,
// or the val_size part of dataset a training run holds out) through the trainer's own
// evaluation, and the metrics are written to output_dir/eval_results.json under TRL's
// names: eval_loss, eval_rewards/{chosen,rejected,accuracies,margins},
// eval_logps/{chosen,rejected}, eval_logits/{chosen,rejected} (those the loss
// reports), plus eval_runtime, eval_samples_per_second and eval_steps_per_second as
// Trainer.evaluate adds them. Nothing else in output_dir is touched; report_to
// tensorboard logs them (eval/loss, ...) at step 0.
func Evaluate(ctx context.Context, cfg *config.Loaded, opt Options) (map[string]float64, error) {
	opt.Log = logOf(opt)
	cfg.WriteResolved(opt.Log)
	c := cfg.Config // a copy: the reference is computed on the fly, never from the cache
	c.PrecomputeRefLogProbs = false
	t := &trainer{cfg: cfg, c: &c, opt: opt, log: opt.Log,
		acc: accum{metrics: map[string]float64{}, weight: map[string]float64{}}}
	if err := t.checkSupported(); err != nil {
		return nil, &SetupError{err}
	}
	if c.Kind() == "rm" {
		return nil, &SetupError{&config.Error{Key: "do_train", Msg: "an evaluation-only run of a reward model (stage: rm) is not supported yet"}}
	}
	unlock, err := lockOutputDir(c.OutputDir)
	if err != nil {
		return nil, &SetupError{err}
	}
	defer unlock()
	be, err := openBackend(opt.Backend, c.Threads)
	if err != nil {
		return nil, err
	}
	defer be.Close()
	t.be = be
	if err := t.setupEval(); err != nil {
		return nil, &SetupError{err}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := t.openReports(); err != nil {
		return nil, err
	}
	defer t.closeReports()
	start := time.Now()
	vals, err := t.evalMetrics()
	if err != nil {
		return nil, err
	}
	el := time.Since(start).Seconds()
	bs := c.PerDeviceEvalBatchSize
	vals["eval_runtime"] = el
	if el > 0 {
		vals["eval_samples_per_second"] = float64(len(t.eval)) / el
		vals["eval_steps_per_second"] = float64((len(t.eval)+bs-1)/bs) / el
	}
	if t.tb != nil { // step 0 and no epoch, as Trainer.evaluate logs without training
		if err := t.tb.Log(0, vals); err != nil {
			return nil, err
		}
	}
	if err := t.closeReports(); err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(vals, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.OutputDir, EvalResultsFile)
	if err := atomicfile.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(t.log, "evaluated %d examples: eval_loss %.6g; wrote %s\n", len(t.eval), vals["eval_loss"], path)
	return vals, nil
}

// setupEval is setup's part for an evaluation: the eval split, the policy (frozen)
// with its adapter, and the reference.
func (t *trainer) setupEval() error {
	c := t.c
	arch, err := model.ReadArch(c.ModelNameOrPath)
	if err != nil {
		return fmt.Errorf("model_name_or_path: %w", err)
	}
	tok, err := tokenizerFor(c)
	if err != nil {
		return err
	}
	if c.EvalDataset != "" {
		if t.eval, err = loadItems(c.EvalDataset, c, tok, arch, t.log); err != nil {
			return fmt.Errorf("eval_dataset: %w", err)
		}
	} else {
		all, err := loadItems(c.Dataset, c, tok, arch, t.log)
		if err != nil {
			return fmt.Errorf("dataset: %w", err)
		}
		if len(all) < 2 {
			return &config.Error{Key: "val_size", Msg: "needs at least 2 examples in dataset"}
		}
		_, t.eval = splitVal(all, c.ValSize, c.Seed)
	}
	if len(t.eval) == 0 {
		return &config.Error{Key: "eval_dataset", Msg: "has no examples"}
	}
	fmt.Fprintf(t.log, "data: %d evaluation examples\n", len(t.eval))
	if !t.opt.Plain {
		t.st.lay = defaultLayout(arch, t.be)
	}
	mopt := t.modelOptions(c.PerDeviceEvalBatchSize)
	mopt.Checkpoint, mopt.Frozen = false, true
	if c.LoRA() {
		mopt.LoRA = &model.LoRAConfig{R: c.LoRARank, Alpha: c.LoRAAlpha, Targets: slices.Clone(c.LoRATarget), RSLoRA: c.UseRSLoRA, Seed: uint64(c.Seed)}
		if c.AdapterNameOrPath != "" {
			lc, err := model.ReadAdapterConfig(c.AdapterNameOrPath)
			if err != nil {
				return fmt.Errorf("adapter_name_or_path: %w", err)
			}
			mopt.LoRA = lc
		}
	}
	policy, err := model.Load(c.ModelNameOrPath, t.be, mopt)
	if err != nil {
		return fmt.Errorf("model_name_or_path: %w", err)
	}
	if c.LoRA() {
		if c.AdapterNameOrPath != "" {
			if err := policy.LoadAdapter(c.AdapterNameOrPath); err != nil {
				return fmt.Errorf("adapter_name_or_path: %w", err)
			}
		} else {
			fmt.Fprintf(t.log, "note: finetuning_type lora without adapter_name_or_path: the policy is the base model\n")
		}
	}
	t.st.c, t.st.kind, t.st.policy, t.st.params, t.st.noDrop = c, c.Kind(), policy, lossParams(c), true
	if err := t.setupReference(arch); err != nil {
		return err
	}
	if t.st.refMode == refModel && c.RefModel == "" {
		fmt.Fprintf(t.log, "warning: no ref_model: the reference is a copy of the evaluated model itself, so every reward is 0; set ref_model to the base model to evaluate a fully fine-tuned one\n")
	}
	fmt.Fprintf(t.log, "policy: %s%s\nreference: %s\n", c.ModelNameOrPath, map[bool]string{true: " + adapter " + c.AdapterNameOrPath}[c.AdapterNameOrPath != ""], t.refDesc)
	t.stepsPerEpoch = 1
	return nil
}

// evalMetrics runs the eval set (no gradients, no dropout): eval_loss and the loss's
// metrics with the eval_ prefix, averaged over examples.
func (t *trainer) evalMetrics() (map[string]float64, error) {
	bs := t.c.PerDeviceEvalBatchSize
	var lossSum, n float64
	metrics := map[string]float64{}
	act := report.NewActivity(t.log, t.opt.Terminal, "eval", len(t.eval), false)
	defer act.Done()
	for s := 0; s < len(t.eval); s += bs {
		its := t.eval[s:min(s+bs, len(t.eval))]
		res, err := t.st.micro(its, 0, false)
		act.Add(len(its))
		if err != nil {
			return nil, fmt.Errorf("evaluation at step %d: %w", t.step, err)
		}
		w := float64(len(its))
		lossSum += w * res.loss
		n += w
		for k, v := range res.metrics {
			metrics["eval_"+k] += w * v
		}
	}
	vals := map[string]float64{"eval_loss": lossSum / n}
	for k, v := range metrics {
		vals[k] = v / n
	}
	return vals, nil
}

// finalEval is LLaMA-Factory's (and TRL's example scripts') evaluation after training
// under do_eval: true: the trained policy on the eval split, written to
// output_dir/eval_results.json (with epoch, as Trainer.save_metrics writes it) and
// reported to TensorBoard at the last step. Without do_eval or an eval split it does
// nothing.
func (t *trainer) finalEval() error {
	if !t.c.DoEval || len(t.eval) == 0 {
		return nil
	}
	start := time.Now()
	vals, err := t.evalMetrics()
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	bs := t.c.PerDeviceEvalBatchSize
	vals["eval_runtime"] = el
	if el > 0 {
		vals["eval_samples_per_second"] = float64(len(t.eval)) / el
		vals["eval_steps_per_second"] = float64((len(t.eval)+bs-1)/bs) / el
	}
	epoch := float64(t.step) / float64(t.stepsPerEpoch)
	if err := t.report(t.step, epoch, vals); err != nil {
		return err
	}
	vals["epoch"] = epoch
	if t.rank != 0 || !IsRankZero() {
		return nil
	}
	raw, err := json.MarshalIndent(vals, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(t.c.OutputDir, EvalResultsFile)
	if err := atomicfile.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(t.log, "do_eval: eval_loss %.6g on %d examples; wrote %s\n", vals["eval_loss"], len(t.eval), path)
	return nil
}
