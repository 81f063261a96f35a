package config

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/preftune/preftune/loss"
)

// Losses are the loss_type names the config accepts: every loss the loss package
// registers, and the aliases it knows (aot_pair is TRL's older name of aot_unpaired).
var Losses = func() []string {
	names := loss.Names()
	for a := range loss.Aliases {
		names = append(names, a)
	}
	slices.Sort(names)
	return names
}()

// Stages are LLaMA-Factory's stage values preftune runs.
var Stages = []string{"dpo", "kto", "orpo", "simpo", "rm", "sft"}

// Schedulers are the lr_scheduler_type values (transformers' get_scheduler names).
var Schedulers = []string{"constant", "linear", "cosine", "constant_with_warmup"}

// Validate checks values and combinations and normalises spellings (optim names,
// resume_from_checkpoint booleans, aot_pair, the eval strategy).
func (l *Loaded) Validate() error {
	c := &l.Config
	bad := func(key, format string, args ...any) error {
		return &Error{Key: l.spelling(key), Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.ModelNameOrPath == "":
		return bad("model_name_or_path", "required")
	case c.Dataset == "" && (c.DoTrain || c.EvalDataset == ""):
		return bad("dataset", "required")
	case c.OutputDir == "":
		return bad("output_dir", "required")
	case !c.DoTrain && !c.DoEval:
		return bad("do_train", "false needs do_eval: true (an evaluation-only run); with both false there is nothing to do")
	case !c.DoTrain && c.EvalDataset == "" && c.ValSize <= 0:
		return bad("do_eval", "an evaluation-only run needs eval_dataset (or val_size, to evaluate on the part of dataset a training run holds out)")
	}
	if err := l.normalizeReportTo(); err != nil {
		return err
	}
	if err := c.validateQuant(bad); err != nil {
		return err
	}
	if c.Stage != "" && !slices.Contains(Stages, c.Stage) {
		if c.Stage == "pt" || c.Stage == "ppo" {
			return bad("stage", "%q is not supported (preftune runs %s)", c.Stage, strings.Join(Stages, ", "))
		}
		return bad("stage", "%q: want one of %s", c.Stage, strings.Join(Stages, ", "))
	}
	switch c.FinetuningType {
	case "full", "lora":
	case "freeze", "oft":
		return bad("finetuning_type", "%q is not supported (want full or lora)", c.FinetuningType)
	default:
		return bad("finetuning_type", "%q: want full or lora", c.FinetuningType)
	}
	if c.FinetuningType == "lora" {
		switch {
		case c.LoRARank <= 0:
			return bad("lora_rank", "%d must be positive", c.LoRARank)
		case !(c.LoRADropout >= 0 && c.LoRADropout < 1):
			return bad("lora_dropout", "%v must be in [0,1)", c.LoRADropout)
		case !finite(c.LoRAAlpha) || c.LoRAAlpha <= 0:
			return bad("lora_alpha", "%v must be a positive number", c.LoRAAlpha)
		case len(c.LoRATarget) == 0:
			return bad("lora_target", "needs at least one module (or all)")
		}
	}
	switch c.Optim {
	case "adamw", "adamw_torch", "adamw_torch_fused", "adamw_hf", "adamw_torch_xla":
		c.Optim = "adamw"
	case "sgd", "rmsprop":
	default:
		return bad("optim", "%q: want adamw, sgd or rmsprop", c.Optim)
	}
	if !slices.Contains(Schedulers, c.LRSchedulerType) {
		return bad("lr_scheduler_type", "%q: want one of %s", c.LRSchedulerType, strings.Join(Schedulers, ", "))
	}
	checks := []struct {
		key string
		ok  bool
		msg string
	}{
		{"learning_rate", finite(c.LearningRate) && c.LearningRate >= 0, "must be a finite number ≥ 0"},
		{"adam_beta1", c.AdamBeta1 >= 0 && c.AdamBeta1 < 1, "must be in [0,1)"},
		{"adam_beta2", c.AdamBeta2 >= 0 && c.AdamBeta2 < 1, "must be in [0,1)"},
		{"adam_epsilon", finite(c.AdamEpsilon) && c.AdamEpsilon > 0, "must be positive"},
		{"weight_decay", finite(c.WeightDecay) && c.WeightDecay >= 0, "must be ≥ 0"},
		{"center_rewards_coefficient", finite(c.CenterRewards) && c.CenterRewards >= 0, "must be ≥ 0"},
		{"momentum", c.Momentum >= 0 && c.Momentum < 1, "must be in [0,1)"},
		{"warmup_steps", c.WarmupSteps >= 0, "must be ≥ 0"},
		{"warmup_ratio", c.WarmupRatio >= 0 && c.WarmupRatio <= 1, "must be in [0,1]"},
		{"max_grad_norm", finite(c.MaxGradNorm) && c.MaxGradNorm >= 0, "must be ≥ 0 (0 turns clipping off)"},
		{"stop_on_loss_spike", finite(c.StopOnLossSpike) && (c.StopOnLossSpike == 0 || c.StopOnLossSpike > 1), "must be 0 (off) or above 1"},
		{"stop_on_grad_norm", finite(c.StopOnGradNorm) && c.StopOnGradNorm >= 0, "must be ≥ 0 (0: off)"},
		{"per_device_train_batch_size", c.PerDeviceTrainBatchSize >= 1, "must be at least 1"},
		{"per_device_eval_batch_size", c.PerDeviceEvalBatchSize >= 1, "must be at least 1"},
		{"gradient_accumulation_steps", c.GradientAccumulationSteps >= 1, "must be at least 1"},
		{"max_length", c.MaxLength >= 0, "must be ≥ 0 (0: no limit)"},
		{"max_prompt_length", c.MaxPromptLength >= 0, "must be ≥ 0 (0: no limit)"},
		{"max_completion_length", c.MaxCompletionLength >= 0, "must be ≥ 0 (0: no limit)"},
		{"max_samples", c.MaxSamples >= 0, "must be ≥ 0 (0: all)"},
		{"val_size", c.ValSize >= 0, "must be ≥ 0"},
		{"beta", finite(c.Beta) && c.Beta > 0, "must be positive"},
		{"label_smoothing", c.LabelSmoothing >= 0 && c.LabelSmoothing < 0.5, "must be in [0,0.5)"},
		{"simpo_gamma", finite(c.SimPOGamma), "must be finite"},
		{"discopop_tau", finite(c.DiscopopTau) && c.DiscopopTau > 0, "must be positive"},
		{"pref_ftx", finite(c.PrefFTX) && c.PrefFTX >= 0, "must be ≥ 0"},
		{"cpo_alpha", finite(c.CPOAlpha) && c.CPOAlpha >= 0, "must be ≥ 0"},
		{"f_alpha_divergence_coef", finite(c.FAlphaCoef), "must be finite"},
		{"desirable_weight", finite(c.DesirableWeight) && c.DesirableWeight >= 0, "must be ≥ 0"},
		{"undesirable_weight", finite(c.UndesirableWeight) && c.UndesirableWeight >= 0, "must be ≥ 0"},
		{"ref_model_mixup_alpha", c.RefModelMixupAlpha >= 0 && c.RefModelMixupAlpha <= 1, "must be in [0,1]"},
		{"ref_model_sync_steps", c.RefModelSyncSteps >= 1, "must be at least 1"},
		{"logging_steps", c.LoggingSteps > 0, "must be positive"},
		{"eval_steps", c.EvalSteps >= 0, "must be ≥ 0"},
		{"save_steps", c.SaveSteps > 0 || c.SaveStrategy != "steps", "must be positive"},
		{"save_total_limit", c.SaveTotalLimit >= 0, "must be ≥ 0 (0: keep all)"},
		{"threads", c.Threads >= 0, "must be ≥ 0 (0: all cores)"},
	}
	for _, ch := range checks {
		if !ch.ok {
			v := reflect.ValueOf(c).Elem().Field(byName[ch.key].index).Interface()
			return bad(ch.key, "%v %s", v, ch.msg)
		}
	}
	if c.MaxSteps <= 0 && !(c.NumTrainEpochs > 0 && finite(c.NumTrainEpochs)) {
		return bad("num_train_epochs", "%v must be positive (or set max_steps)", c.NumTrainEpochs)
	}
	if c.LDAlpha != nil && !(*c.LDAlpha >= 0 && *c.LDAlpha <= 1) {
		return bad("ld_alpha", "%v must be in [0,1]", *c.LDAlpha)
	}
	if c.RPOAlpha != nil && !(finite(*c.RPOAlpha) && *c.RPOAlpha >= 0) {
		return bad("rpo_alpha", "%v must be ≥ 0", *c.RPOAlpha)
	}
	switch c.FDivergence {
	case "reverse_kl", "forward_kl", "js_divergence", "alpha_divergence":
	default:
		return bad("f_divergence_type", "%q: want reverse_kl, forward_kl, js_divergence or alpha_divergence", c.FDivergence)
	}
	switch c.TruncationMode {
	case "keep_start", "keep_end":
	default:
		return bad("truncation_mode", "%q: want keep_start or keep_end", c.TruncationMode)
	}
	if len(c.LossType) == 0 {
		return bad("loss_type", "needs at least one loss")
	}
	for i, lt := range c.LossType {
		if a, ok := loss.Aliases[lt]; ok {
			c.LossType[i], lt = a, a
		}
		if _, ok := loss.Lookup(lt); !ok {
			msg := fmt.Sprintf("%q is not a known loss (want one of %s)", lt, strings.Join(Losses, ", "))
			if lt == "kto_pair" {
				msg = `"kto_pair" was removed from TRL's DPOTrainer; use stage: kto (KTO on unpaired data)`
			}
			return bad("loss_type", "%s", msg)
		}
	}
	if len(c.LossType) > 1 {
		for _, lt := range c.LossType {
			if sp, _ := loss.Lookup(lt); !sp.Combinable {
				return bad("loss_type", "%s (a %s loss) cannot be combined with other losses; only DPO-family losses can", lt, sp.Family)
			}
		}
	}
	if len(c.LossWeights) > 0 && len(c.LossWeights) != len(c.LossType) {
		return bad("loss_weights", "has %d weights for %d losses", len(c.LossWeights), len(c.LossType))
	}
	for i, w := range c.LossWeights {
		if !finite(w) {
			return bad("loss_weights", "weight %d (%v) must be finite", i+1, w)
		}
	}
	if c.SyncRefModel {
		switch {
		case c.PrecomputeRefLogProbs:
			return bad("sync_ref_model", "cannot be combined with precompute_ref_log_probs (precomputed log-probs would go stale)")
		case c.ReferenceFree:
			return bad("sync_ref_model", "has no reference to sync with reference_free: true")
		case c.FinetuningType == "lora":
			return bad("sync_ref_model", "is not supported with LoRA (as in TRL): the reference is the base model with adapters off")
		}
	}
	if c.RefModelAdapters != "" && c.RefModel == "" {
		return bad("ref_model_adapters", "needs ref_model")
	}
	if c.AdapterNameOrPath != "" && c.FinetuningType != "lora" {
		return bad("adapter_name_or_path", "needs finetuning_type: lora")
	}
	switch strings.ToLower(c.ResumeFromCheckpoint) {
	case "false", "no", "none":
		c.ResumeFromCheckpoint = ""
	case "true", "yes":
		c.ResumeFromCheckpoint = "true"
	}
	if (c.EvalStrategy == "steps" || c.EvalStrategy == "epoch") && evalOnTestSplit(c) {
		c.EvalDataset = c.Dataset // read at dataset_test_split, as TRL's scripts evaluate
	}
	hasEval := c.EvalDataset != "" || c.ValSize > 0
	switch c.EvalStrategy {
	case "":
		c.EvalStrategy = "no"
		if hasEval {
			c.EvalStrategy = "steps"
		}
	case "no", "steps", "epoch":
		if c.EvalStrategy != "no" && !hasEval {
			return bad("eval_strategy", "%q needs eval_dataset or val_size, or a dataset with a test split (TRL's scripts evaluate on dataset_test_split of a Hub dataset or a local directory; a single data file has none)", c.EvalStrategy)
		}
	default:
		return bad("eval_strategy", "%q: want no, steps or epoch", c.EvalStrategy)
	}
	switch c.SaveStrategy {
	case "no", "steps", "epoch":
	default:
		return bad("save_strategy", "%q: want no, steps or epoch", c.SaveStrategy)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// LoRA reports whether LoRA adapters are trained.
func (c *Config) LoRA() bool { return c.FinetuningType == "lora" }

// Kind is what the trainer optimises, from the first loss's spec (loss.Spec.Trainer):
// "pair" (DPO family, ORPO, SimPO, CPO), "kto", "list" (LiPO), "rm" (Bradley–Terry
// reward model), or "sft" for LLaMA-Factory's stage: sft.
func (c *Config) Kind() string {
	if len(c.LossType) > 0 {
		if sp, ok := loss.Lookup(c.LossType[0]); ok && sp.Trainer != "pair" {
			return sp.Trainer
		}
	}
	if c.Stage == "sft" {
		return "sft"
	}
	return "pair"
}

// NeedsReference reports whether some loss of the config reads reference log-probs
// (loss.Spec.NeedsReference), unless reference_free.
func (c *Config) NeedsReference() bool {
	if c.ReferenceFree || c.Kind() == "sft" {
		return false
	}
	for _, l := range c.LossType {
		if sp, ok := loss.Lookup(l); !ok || sp.NeedsReference {
			return true
		}
	}
	return false
}

// WriteResolved prints every key with its value and where it came from (file,
// override, or default), then the keys that were set but have no effect.
func (l *Loaded) WriteResolved(w io.Writer) {
	fmt.Fprintln(w, "resolved config:")
	rv := reflect.ValueOf(&l.Config).Elem()
	var noEffect []string
	for _, f := range fields {
		src := l.Set[f.name]
		if f.noEffect != "" {
			if src != "" {
				noEffect = append(noEffect, fmt.Sprintf("  %s (%s)", l.spelling(f.name), f.noEffect))
			}
			continue
		}
		from := ""
		switch src {
		case "file":
			if s, ok := l.Spelled[f.name]; ok {
				from = "  # as " + s
			}
		case "override":
			from = "  # override"
		default:
			if l.Stage != "" {
				if _, ok := llamaFactoryDefaults[f.name]; ok {
					from = "  # LLaMA-Factory default"
				}
			}
		}
		fmt.Fprintf(w, "  %s: %s%s\n", f.name, formatValue(rv.Field(f.index)), from)
	}
	if len(noEffect) > 0 {
		fmt.Fprintln(w, "accepted without effect:")
		for _, s := range noEffect {
			fmt.Fprintln(w, s)
		}
	}
	for _, s := range l.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
}

func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return "null"
		}
		return fmt.Sprint(v.Interface())
	case reflect.Pointer:
		if v.IsNil() {
			return "null"
		}
		return formatValue(v.Elem())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

// WriteKeys prints the key table (for --help-config).
func WriteKeys(w io.Writer) {
	for _, f := range fields {
		names := f.name
		if len(f.aliases) > 0 {
			names += " (" + strings.Join(f.aliases, ", ") + ")"
		}
		help := f.help
		if f.noEffect != "" {
			help = "accepted, no effect: " + f.noEffect
		}
		fmt.Fprintf(w, "  %-44s %s\n", names, help)
	}
	fmt.Fprintln(w, "known but refused (exit 2):")
	for _, k := range sortedKeys(refusedKeys) {
		fmt.Fprintf(w, "  %-44s %s\n", k, refusedKeys[k])
	}
}
