package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/preftune/preftune/data"
)

const base = "model_name_or_path: m\ndataset: d.jsonl\noutput_dir: o\n"

// TestTrainerSelection: TRL's trainer-specific config keys and LLaMA-Factory's stage
// choose the loss as those tools would run it; mixed signals are errors naming the keys.
func TestTrainerSelection(t *testing.T) {
	cases := []struct {
		name, yaml string
		args       []string
		loss       []string
		kind       string
		err        string // substring of the error; "" when it must parse
		warn       string // substring of a warning
	}{
		{name: "TRL DPOConfig default", yaml: "", loss: []string{"sigmoid"}, kind: "pair"},
		{name: "KTOConfig keys select KTO", yaml: "desirable_weight: 1.0\nundesirable_weight: 1.33\n", loss: []string{"kto"}, kind: "kto"},
		{name: "KTOConfig apo_zero_unpaired", yaml: "desirable_weight: 1\nloss_type: apo_zero_unpaired\n", loss: []string{"apo_zero_unpaired"}, kind: "kto"},
		{name: "CPOConfig cpo_alpha: CPO sigmoid", yaml: "cpo_alpha: 1.0\n", loss: []string{"cpo"}, kind: "pair"},
		{name: "CPOConfig loss_type sigmoid is CPO", yaml: "cpo_alpha: 0.5\nloss_type: sigmoid\n", loss: []string{"cpo"}, kind: "pair"},
		{name: "CPOConfig SimPO", yaml: "loss_type: simpo\ncpo_alpha: 0.0\nsimpo_gamma: 0.5\n", loss: []string{"simpo"}, kind: "pair"},
		{name: "CPOConfig AlphaPO refused", yaml: "loss_type: alphapo\ncpo_alpha: 0\n", err: "alphapo"},
		{name: "CPOConfig hinge refused", yaml: "loss_type: hinge\ncpo_alpha: 1\n", err: "CPO with loss_type hinge"},
		{name: "RewardConfig center_rewards_coefficient", yaml: "center_rewards_coefficient: 0.01\n", loss: []string{"bradley_terry"}, kind: "rm"},
		{name: "trainer: orpo (trl/scripts/orpo.py)", args: []string{"--trainer", "orpo"}, loss: []string{"orpo"}, kind: "pair"},
		{name: "trainer: reward", yaml: "trainer: reward\n", loss: []string{"bradley_terry"}, kind: "rm"},
		{name: "KTO and reward keys: ambiguous", yaml: "desirable_weight: 1\ncenter_rewards_coefficient: 0.01\n", err: "ambiguous"},
		{name: "KTO keys with a DPO loss_type", yaml: "desirable_weight: 1\nloss_type: sigmoid\n", err: "not a KTOConfig loss_type"},
		{name: "trainer dpo with a KTO loss", yaml: "trainer: dpo\nloss_type: kto\n", err: "kto is a kto loss"},
		{name: "unknown trainer", yaml: "trainer: ppo\n", err: `"ppo"`},
		{name: "LLaMA-Factory stage kto", yaml: "stage: kto\nkto_chosen_weight: 1\n", loss: []string{"kto"}, kind: "kto"},
		{name: "LLaMA-Factory stage rm", yaml: "stage: rm\n", loss: []string{"bradley_terry"}, kind: "rm"},
		{name: "LLaMA-Factory dpo + simpo", yaml: "stage: dpo\npref_loss: simpo\nsimpo_gamma: 0.5\n", loss: []string{"simpo"}, kind: "pair"},
		{name: "stage dpo with a KTO key: warning", yaml: "stage: dpo\nkto_chosen_weight: 1\n", loss: []string{"sigmoid"}, kind: "pair", warn: "kto_chosen_weight is set but sigmoid does not use it"},
		{name: "simpo_gamma with a sigmoid pref_loss: warning", yaml: "stage: dpo\npref_loss: sigmoid\nsimpo_gamma: 1\n", loss: []string{"sigmoid"}, kind: "pair", warn: "simpo_gamma is set but sigmoid does not use it"},
		{name: "stage and trainer together", yaml: "stage: dpo\ntrainer: kto\n", err: "stage"},
		{name: "sft alone", yaml: "loss_type: sft\n", loss: []string{"sft"}, kind: "pair"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(base+tc.yaml), tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error containing %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.LossType, tc.loss) || l.Kind() != tc.kind {
				t.Errorf("loss %v kind %s, want %v %s", l.LossType, l.Kind(), tc.loss, tc.kind)
			}
			joined := strings.Join(l.Warnings, "\n")
			if tc.warn != "" && !strings.Contains(joined, tc.warn) {
				t.Errorf("warnings %q, want %q", joined, tc.warn)
			}
			if tc.warn == "" && joined != "" {
				t.Errorf("unexpected warnings %q", joined)
			}
		})
	}
}

// TestSFTAloneHasReference: loss_type sft alone still computes reference log-probs
// (its rewards/* metrics need them, as in TRL), so it cannot fail for lack of them.
func TestSFTAloneHasReference(t *testing.T) {
	l, err := Parse([]byte(base+"loss_type: sft\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.NeedsReference() {
		t.Error("loss_type sft: no reference")
	}
}

// TestTRLKeysAndFlags: keys from TRL's and LLaMA-Factory's documented configs parse,
// bare boolean flags and --no_X work as HfArgumentParser's, warmup_steps < 1 is a ratio.
func TestTRLKeysAndFlags(t *testing.T) {
	yaml := base + `push_to_hub: true
use_liger_kernel: true
model_init_kwargs: {torch_dtype: bfloat16, attn_implementation: sdpa}
attn_implementation: flash_attention_2
pad_to_multiple_of: 8
remove_unused_columns: false
pad_token: "<|endoftext|>"
dtype: bfloat16
lora_task_type: CAUSAL_LM
deepspeed: examples/deepspeed/ds_z3_config.json
flash_attn: auto
use_v1_kernels: true
pure_bf16: true
pref_bco_weight: 0.0
warmup_steps: 0.1
`
	l, err := Parse([]byte(yaml), []string{"--gradient_checkpointing", "--no_disable_dropout", "--bf16", "--logging_steps", "5", "--use_peft"})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if !c.GradientCheckpointing || c.DisableDropout || !c.BF16 || c.LoggingSteps != 5 || !c.UsePEFT || c.FinetuningType != "lora" {
		t.Errorf("flags: gc %v disable_dropout %v bf16 %v logging %v peft %v %s", c.GradientCheckpointing, c.DisableDropout, c.BF16, c.LoggingSteps, c.UsePEFT, c.FinetuningType)
	}
	if !(c.WarmupRatio == 0.1 && c.WarmupSteps == 0) {
		t.Errorf("warmup_steps 0.1: ratio %v steps %d, want ratio 0.1 (transformers v5)", c.WarmupRatio, c.WarmupSteps)
	}
	var b strings.Builder
	l.WriteResolved(&b)
	for _, k := range []string{"push_to_hub", "use_liger_kernel", "model_init_kwargs", "deepspeed", "flash_attn", "pad_to_multiple_of"} {
		if !strings.Contains(b.String(), "  "+k+" (") {
			t.Errorf("%s not listed as accepted without effect:\n%s", k, b.String())
		}
	}
	var keys strings.Builder
	WriteKeys(&keys)
	if !strings.Contains(keys.String(), "use_liger_kernel") || !strings.Contains(keys.String(), "accepted, no effect: preftune's kernels") {
		t.Error("--help-config lacks use_liger_kernel's reason")
	}

	for _, tc := range []struct {
		name string
		yaml string
		args []string
		err  string
	}{
		{"lora_modules_to_save refused", "lora_modules_to_save: [lm_head]\n", nil, "lora_modules_to_save"},
		{"pref_bco_weight refused", "stage: dpo\npref_bco_weight: 0.5\n", nil, "pref_bco_weight"},
		{"unknown template", "stage: dpo\ntemplate: qwen9\n", nil, `"qwen9" does not exist`},
		{"template without a built-in", "stage: dpo\ntemplate: gemma\n", nil, "gemma template has no built-in"},
		{"template without stage", "template: qwen\n", nil, "template"},
		{"bare flag before a value flag", "", []string{"--gradient_checkpointing", "--beta"}, "beta: override has no value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base+tc.yaml), tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("want an error containing %q, got %v", tc.err, err)
			}
		})
	}

	l, err = Parse([]byte(base+"stage: dpo\ndisable_gradient_checkpointing: true\n"), nil)
	if err != nil || l.GradientCheckpointing {
		t.Errorf("disable_gradient_checkpointing: %v %v", err, l.GradientCheckpointing)
	}
}

// TestTokenizeOptions: stage: configs tokenize with LLaMA-Factory's rules (template,
// infer_seqlen on cutoff_len, packing's cutoff_len − 1), TRL configs with TRL's.
func TestTokenizeOptions(t *testing.T) {
	l, err := Parse([]byte(base+"stage: dpo\ntemplate: qwen3_nothink\ncutoff_len: 1024\npacking: true\nenable_thinking: false\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := l.TokenizeOptions()
	if o.Rules != data.RulesLlamaFactory || o.Template != "qwen3_nothink" || o.MaxLength != 1023 || o.MaxPromptLength != 0 || o.EnableThinking == nil || *o.EnableThinking {
		t.Errorf("LLaMA-Factory options %+v", o)
	}
	l, err = Parse([]byte(base+"max_length: 512\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	o = l.TokenizeOptions()
	if o.Rules != data.RulesTRL || o.MaxLength != 512 || o.TruncationMode != "keep_start" || o.BOS != data.BOSAuto {
		t.Errorf("TRL options %+v", o)
	}
}
