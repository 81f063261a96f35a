package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// llamaFactoryDPO is LLaMA-Factory's examples/train_lora/llama3_lora_dpo.yaml
// (hiyouga/LLaMA-Factory), with local paths.
const llamaFactoryDPO = `### model
model_name_or_path: /models/qwen
trust_remote_code: true

### method
stage: dpo
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
pref_beta: 0.1
pref_loss: sigmoid  # choices: [sigmoid (dpo), orpo, simpo]

### dataset
dataset: dpo_en_demo
dataset_dir: data
template: qwen
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16

### output
output_dir: saves/qwen/lora/dpo
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 5.0e-6
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
resume_from_checkpoint: null
`

func TestParseLlamaFactory(t *testing.T) {
	l, err := Parse([]byte(llamaFactoryDPO), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"finetuning_type", c.FinetuningType, "lora"},
		{"lora_rank", c.LoRARank, 8},
		{"lora_alpha (LLaMA-Factory: 2·rank)", c.LoRAAlpha, 16.0},
		{"lora_dropout", c.LoRADropout, 0.0},
		{"lora_target", c.LoRATarget, []string{"all"}},
		{"beta via pref_beta", c.Beta, 0.1},
		{"loss_type via pref_loss", c.LossType, []string{"sigmoid"}},
		{"max_length via cutoff_len", c.MaxLength, 2048},
		{"learning_rate", c.LearningRate, 5e-6},
		{"num_train_epochs", c.NumTrainEpochs, 3.0},
		{"scheduler", c.LRSchedulerType, "cosine"},
		{"warmup_ratio", c.WarmupRatio, 0.1},
		{"gradient_accumulation_steps", c.GradientAccumulationSteps, 8},
		{"resume", c.ResumeFromCheckpoint, ""},
		{"eval", c.EvalStrategy, "no"},
		{"max_samples", c.MaxSamples, 1000},
		{"kind", c.Kind(), "pair"},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	var buf bytes.Buffer
	l.WriteResolved(&buf)
	for _, want := range []string{"beta: 0.1  # as pref_beta", "max_length: 2048  # as cutoff_len", "ddp_timeout (", "trust_remote_code ("} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("resolved config lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestDefaults(t *testing.T) {
	base := "model_name_or_path: m\ndataset: d\noutput_dir: o\n"
	cases := []struct {
		name  string
		yaml  string
		check func(c *Config) string
	}{
		{"TRL DPOConfig", base, func(c *Config) string {
			if c.Beta != 0.1 || c.LearningRate != 1e-6 || c.LoggingSteps != 10 || c.MaxLength != 1024 ||
				c.TruncationMode != "keep_start" || c.RefModelMixupAlpha != 0.6 || c.RefModelSyncSteps != 512 ||
				c.Optim != "adamw" || c.LRSchedulerType != "linear" || c.MaxGradNorm != 1 || c.NumTrainEpochs != 3 ||
				c.PerDeviceTrainBatchSize != 8 || c.Seed != 42 || c.FinetuningType != "full" || c.AdamEpsilon != 1e-8 {
				return "unexpected TRL defaults"
			}
			return ""
		}},
		{"LLaMA-Factory stage", base + "stage: dpo\n", func(c *Config) string {
			if c.LearningRate != 5e-5 || c.LoggingSteps != 500 || c.MaxLength != 2048 || c.FinetuningType != "lora" ||
				c.LoRARank != 8 || c.LoRAAlpha != 16 || c.LoRATarget[0] != "all" {
				return "unexpected LLaMA-Factory defaults"
			}
			return ""
		}},
		{"stage orpo selects the loss", base + "stage: orpo\n", func(c *Config) string {
			if c.LossType[0] != "orpo" {
				return "loss " + c.LossType[0]
			}
			return ""
		}},
		{"stage sft", base + "stage: sft\n", func(c *Config) string {
			if c.Kind() != "sft" {
				return c.Kind()
			}
			return ""
		}},
		{"use_peft", base + "use_peft: true\nlora_r: 4\n", func(c *Config) string {
			if !c.LoRA() || c.LoRARank != 4 || c.LoRAAlpha != 32 {
				return "use_peft/lora_r not applied"
			}
			return ""
		}},
		{"yaml 1.1 float string", base + "learning_rate: '1e-5'\n", func(c *Config) string {
			if c.LearningRate != 1e-5 {
				return "lr"
			}
			return ""
		}},
		{"loss list", base + "loss_type: [sigmoid, bco_pair, sft]\nloss_weights: [0.8, 0.2, 1.0]\n", func(c *Config) string {
			if len(c.LossType) != 3 || c.LossWeights[2] != 1 {
				return "list"
			}
			return ""
		}},
		{"eval data turns eval on", base + "eval_dataset: e\n", func(c *Config) string {
			if c.EvalStrategy != "steps" {
				return c.EvalStrategy
			}
			return ""
		}},
		{"TRL eval on a Hub dataset's test split", "model_name_or_path: m\ndataset_name: trl-lib/ultrafeedback_binarized\noutput_dir: o\neval_strategy: steps\n", func(c *Config) string {
			if c.EvalDataset != "trl-lib/ultrafeedback_binarized" || c.EvalStrategy != "steps" {
				return fmt.Sprintf("eval_dataset %q eval_strategy %q", c.EvalDataset, c.EvalStrategy)
			}
			return ""
		}},
		{"no eval: the dataset is not evaluated", "model_name_or_path: m\ndataset_name: trl-lib/ultrafeedback_binarized\noutput_dir: o\n", func(c *Config) string {
			if c.EvalDataset != "" || c.EvalStrategy != "no" {
				return fmt.Sprintf("eval_dataset %q eval_strategy %q", c.EvalDataset, c.EvalStrategy)
			}
			return ""
		}},
		{"resume true", base + "resume_from_checkpoint: true\n", func(c *Config) string {
			if c.ResumeFromCheckpoint != "true" {
				return c.ResumeFromCheckpoint
			}
			return ""
		}},
		{"aot_pair", base + "loss_type: aot_pair\n", func(c *Config) string {
			if c.LossType[0] != "aot_unpaired" {
				return c.LossType[0]
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(tc.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(&l.Config); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	l, err := Parse([]byte("model_name_or_path: m\ndataset: d\noutput_dir: o\nbeta: 0.3\n"),
		[]string{"--beta", "0.5", "--optim=sgd", "--loss_type", "ipo,hinge", "--lora_target", "[q_proj, v_proj]", "--max_steps", "7"})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Beta != 0.5 || c.Optim != "sgd" || !reflect.DeepEqual(c.LossType, []string{"ipo", "hinge"}) ||
		!reflect.DeepEqual(c.LoRATarget, []string{"q_proj", "v_proj"}) || c.MaxSteps != 7 {
		t.Errorf("overrides not applied: %+v", c)
	}
	if l.Set["beta"] != "override" {
		t.Errorf("beta source %q", l.Set["beta"])
	}
}

func TestErrors(t *testing.T) {
	base := "model_name_or_path: m\ndataset: d\noutput_dir: o\n"
	cases := []struct {
		name      string
		yaml      string
		overrides []string
		want      []string // substrings of the error
	}{
		{"unknown key suggests", base + "learning_rat: 1e-5\n", nil, []string{"line 4", "learning_rat: unknown key", "learning_rate"}},
		{"unknown LLaMA-Factory typo", base + "pref_betta: 0.1\n", nil, []string{"pref_beta"}},
		{"unknown override", base, []string{"--lora_rnk", "8"}, []string{"lora_rnk", "lora_rank"}},
		{"wrong type", base + "beta: high\n", nil, []string{"line 4", "beta", `"high" is not a number`}},
		{"int", base + "max_steps: 2.5\n", nil, []string{"max_steps", "not an integer"}},
		{"bool", base + "reference_free: maybe\n", nil, []string{"reference_free", "not true or false"}},
		{"not a mapping", "- a\n- b\n", nil, []string{"mapping"}},
		{"missing model", "dataset: d\noutput_dir: o\n", nil, []string{"model_name_or_path: required"}},
		{"bad loss", base + "loss_type: sigmod\n", nil, []string{"loss_type", "sigmod", "sigmoid"}},
		{"kto_pair", base + "pref_loss: kto_pair\n", nil, []string{"pref_loss", "stage: kto"}},
		{"bad optim", base + "optim: adafactor\n", nil, []string{"optim", "adamw, sgd or rmsprop"}},
		{"bad scheduler", base + "lr_scheduler_type: polynomial\n", nil, []string{"lr_scheduler_type", "cosine"}},
		{"negative lr", base + "learning_rate: -1\n", nil, []string{"learning_rate"}},
		{"label smoothing", base + "label_smoothing: 0.7\n", nil, []string{"label_smoothing", "[0,0.5)"}},
		{"weights length", base + "loss_type: [sigmoid, sft]\nloss_weights: [1]\n", nil, []string{"loss_weights", "2 losses"}},
		{"sync + precompute", base + "sync_ref_model: true\nprecompute_ref_log_probs: true\n", nil, []string{"sync_ref_model", "precompute"}},
		{"stage ppo", base + "stage: ppo\n", nil, []string{"stage", "not supported"}},
		{"lora rank", base + "finetuning_type: lora\nlora_rank: 0\n", nil, []string{"lora_rank", "positive"}},
		{"twice", base + "beta: 0.1\npref_beta: 0.2\n", nil, []string{"pref_beta", "set twice", "beta"}},
		{"override without value", base, []string{"--beta"}, []string{"beta", "no value"}},
		{"eval without data", "model_name_or_path: m\ndataset: d.jsonl\noutput_dir: o\neval_strategy: steps\n", nil, []string{"eval_strategy", "eval_dataset", "test split"}},
		{"list for scalar", base + "beta: [1, 2]\n", nil, []string{"beta", "single number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), tc.overrides)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestClosest(t *testing.T) {
	cases := []struct{ key, want string }{
		{"learning_rat", "learning_rate"},
		{"gradient_acumulation_steps", "gradient_accumulation_steps"},
		{"lora_targets", "lora_target"},
		{"warmup_ration", "warmup_ratio"},
	}
	for _, tc := range cases {
		got := Closest(tc.key, 3)
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("Closest(%q) = %v, want %s first", tc.key, got, tc.want)
		}
	}
}
