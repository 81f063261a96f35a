package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/loss"
)

// Trainer selection: which of TRL's trainers (DPOTrainer, KTOTrainer, ORPOTrainer,
// CPOTrainer, RewardTrainer) or LLaMA-Factory's stages a config means. An explicit
// `stage`, `trainer` or `loss_type` decides; otherwise the keys only one trainer's
// config class has (KTOConfig, CPOConfig, RewardConfig) do; keys of two trainers are
// an error, not DPO.

// Trainers are the `trainer` values.
var Trainers = []string{"dpo", "kto", "orpo", "cpo", "reward"}

// trainerKeys are the keys only one TRL trainer's config class declares.
var trainerKeys = map[string]string{
	"desirable_weight":           "kto",
	"undesirable_weight":         "kto",
	"cpo_alpha":                  "cpo",
	"simpo_gamma":                "cpo",
	"center_rewards_coefficient": "reward",
}

// trainerOfLoss is the TRL trainer a loss_type belongs to (DPOTrainer for the rest).
func trainerOfLoss(name string) string {
	switch name {
	case "kto", "apo_zero_unpaired":
		return "kto"
	case "orpo":
		return "orpo"
	case "cpo", "simpo":
		return "cpo"
	case "bradley_terry":
		return "reward"
	}
	return "dpo"
}

// keyUsers says which losses read a key (nil: every loss); a key the file sets that
// no chosen loss reads is a warning.
var keyUsers = map[string]func(sp loss.Spec) bool{
	"desirable_weight":           isLoss("kto", "apo_zero_unpaired"),
	"undesirable_weight":         isLoss("kto", "apo_zero_unpaired"),
	"cpo_alpha":                  isLoss("cpo", "simpo"),
	"simpo_gamma":                isLoss("simpo"),
	"center_rewards_coefficient": isLoss("bradley_terry"),
	"discopop_tau":               isLoss("discopop"),
	"f_divergence_type":          isFamily(loss.FamilyPaired),
	"f_alpha_divergence_coef":    isFamily(loss.FamilyPaired),
	"ld_alpha":                   isFamily(loss.FamilyPaired),
	"rpo_alpha":                  isFamily(loss.FamilyPaired),
	"use_weighting":              isFamily(loss.FamilyPaired),
	"label_smoothing": func(sp loss.Spec) bool {
		return sp.Family == loss.FamilyPaired || sp.Name == "cpo" || sp.Name == "simpo"
	},
	"reference_free":           func(sp loss.Spec) bool { return sp.NeedsReference },
	"precompute_ref_log_probs": func(sp loss.Spec) bool { return sp.NeedsReference },
	"sync_ref_model":           func(sp loss.Spec) bool { return sp.NeedsReference },
	"ref_model":                func(sp loss.Spec) bool { return sp.NeedsReference },
	"beta":                     func(sp loss.Spec) bool { return sp.Name != "sft" && sp.Name != "bradley_terry" },
}

func isLoss(names ...string) func(loss.Spec) bool {
	return func(sp loss.Spec) bool { return slices.Contains(names, sp.Name) }
}

func isFamily(f loss.Family) func(loss.Spec) bool {
	return func(sp loss.Spec) bool { return sp.Family == f }
}

// selectTrainer maps `trainer` and the trainer-specific keys to loss_type.
func (l *Loaded) selectTrainer() error {
	c := &l.Config
	bad := func(key, format string, args ...any) error {
		return &Error{Key: l.spelling(key), Msg: fmt.Sprintf(format, args...)}
	}
	implied := map[string][]string{}
	for k, tr := range trainerKeys {
		if l.Set[k] != "" {
			implied[tr] = append(implied[tr], l.spelling(k))
		}
	}
	for _, ks := range implied {
		sort.Strings(ks)
	}
	if c.Trainer != "" && !slices.Contains(Trainers, c.Trainer) {
		return bad("trainer", "%q: want one of %s", c.Trainer, strings.Join(Trainers, ", "))
	}
	if c.Stage != "" {
		if c.Trainer != "" {
			return bad("trainer", "set together with LLaMA-Factory's stage: %s; keep one of them", c.Stage)
		}
		return nil // LLaMA-Factory: stage and pref_loss decide; other keys are warned about
	}
	tr := c.Trainer
	if tr == "" && len(implied) > 1 {
		var parts []string
		for _, t := range sortedKeys(implied) {
			parts = append(parts, fmt.Sprintf("%s (%s)", strings.Join(implied[t], ", "), t))
		}
		return &Error{Key: "trainer", Msg: fmt.Sprintf("ambiguous: the config sets keys of several TRL trainers: %s; set trainer: or loss_type:", strings.Join(parts, " and "))}
	}
	if tr == "" {
		for t := range implied {
			tr = t
		}
	}
	lossSet := l.Set["loss_type"] != ""
	if tr == "" || tr == "dpo" {
		if tr == "dpo" && lossSet {
			for _, lt := range c.LossType {
				if t := trainerOfLoss(lt); t != "dpo" {
					return bad("loss_type", "%s is a %s loss, but trainer is dpo", lt, t)
				}
			}
		}
		return nil
	}
	// A TRL trainer other than DPO: its loss_type vocabulary.
	if lossSet && len(c.LossType) != 1 {
		return bad("loss_type", "the %s trainer takes one loss_type, got %v", tr, c.LossType)
	}
	lt := ""
	if lossSet {
		lt = c.LossType[0]
	}
	why := func() string {
		if c.Trainer != "" {
			return "trainer: " + tr
		}
		return strings.Join(implied[tr], ", ") + " (" + trainerConfigName(tr) + " keys)"
	}
	switch tr {
	case "kto":
		switch lt {
		case "":
			lt = "kto"
		case "kto", "apo_zero_unpaired":
		default:
			return bad("loss_type", "%q is not a KTOConfig loss_type (kto or apo_zero_unpaired), but the config selects KTO: %s", lt, why())
		}
	case "orpo":
		if lt != "" && lt != "orpo" {
			return bad("loss_type", "%q: ORPOConfig has no loss_type (the config selects ORPO: %s)", lt, why())
		}
		lt = "orpo"
	case "cpo":
		switch lt {
		case "", "sigmoid", "cpo":
			lt = "cpo"
		case "simpo":
		case "hinge", "ipo":
			return bad("loss_type", "CPO with loss_type %s is not implemented (preftune's CPO trainer has sigmoid and simpo); selected by %s", lt, why())
		case "alphapo":
			return bad("loss_type", "alphapo (CPOConfig, AlphaPO's reward shaping) is not implemented; selected by %s", why())
		default:
			return bad("loss_type", "%q is not a CPOConfig loss_type (sigmoid, simpo), but the config selects CPO: %s", lt, why())
		}
	case "reward":
		if lt != "" && lt != "bradley_terry" {
			return bad("loss_type", "%q: RewardConfig has no loss_type (the config selects the reward trainer: %s)", lt, why())
		}
		lt = "bradley_terry"
	}
	c.LossType = []string{lt}
	return nil
}

func trainerConfigName(tr string) string {
	return map[string]string{"kto": "KTOConfig", "cpo": "CPOConfig", "reward": "RewardConfig", "orpo": "ORPOConfig", "dpo": "DPOConfig"}[tr]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unusedKeyWarnings lists the keys the file sets that no chosen loss reads.
func (l *Loaded) unusedKeyWarnings() []string {
	var specs []loss.Spec
	for _, lt := range l.LossType {
		if sp, ok := loss.Lookup(lt); ok {
			specs = append(specs, sp)
		}
	}
	if l.Kind() == "sft" {
		specs = nil
	}
	var out []string
	for _, k := range sortedKeys(keyUsers) {
		if l.Set[k] == "" {
			continue
		}
		used := false
		for _, sp := range specs {
			if keyUsers[k](sp) {
				used = true
			}
		}
		if !used {
			out = append(out, fmt.Sprintf("%s is set but %s does not use it", l.spelling(k), strings.Join(l.LossType, ", ")))
		}
	}
	return out
}

// TokenizeOptions are the tokenization settings of the config, shared by `train`
// and `data check --config` (one code path): LLaMA-Factory's rules (template,
// infer_seqlen, its EOS rules) for `stage:` configs, current TRL's otherwise.
func (c *Config) TokenizeOptions() data.TokenizeOptions {
	o := data.TokenizeOptions{
		MaxLength: c.MaxLength, MaxPromptLength: c.MaxPromptLength, MaxCompletionLength: c.MaxCompletionLength,
		TruncationMode: c.TruncationMode, BOS: data.BOSAuto, Rules: data.RulesTRL,
	}
	if c.Stage != "" {
		o.Rules, o.Template = data.RulesLlamaFactory, c.Template
		o.EnableThinking, o.DefaultSystem = c.EnableThinking, c.DefaultSystem
		if c.Packing && o.MaxLength > 0 {
			o.MaxLength-- // DataArguments.__post_init__: packing shortens cutoff_len by one
		}
	}
	return o
}

// validateConformance checks the keys this file adds: template names, refused
// values, and the LLaMA-Factory spellings that switch other keys.
func (l *Loaded) validateConformance() error {
	c := &l.Config
	bad := func(key, format string, args ...any) error {
		return &Error{Key: l.spelling(key), Msg: fmt.Sprintf(format, args...)}
	}
	if c.Template != "" {
		if c.Stage == "" {
			return bad("template", "%q is a LLaMA-Factory template, used with stage: (TRL configs use the model's chat template)", c.Template)
		}
		if _, err := data.LookupLFTemplate(c.Template); err != nil {
			return bad("template", "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("template %q: ", c.Template)))
		}
	}
	if len(c.LoRAModulesToSave) > 0 {
		return bad("lora_modules_to_save", "%v: training whole modules next to LoRA adapters is not supported", c.LoRAModulesToSave)
	}
	if c.PrefBCOWeight != 0 {
		return bad("pref_bco_weight", "%v: LLaMA-Factory's BCO term is not supported (only 0)", c.PrefBCOWeight)
	}
	if c.DisableGradientCheckpointing {
		c.GradientCheckpointing = false
	}
	return nil
}
