package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a resolved training configuration. Field tags name the key (`key`), its
// aliases (`alias`, comma-separated; LLaMA-Factory's names and TRL's older ones) and a
// one-line description (`help`).
type Config struct {
	// model
	ModelNameOrPath   string   `key:"model_name_or_path" help:"Hugging Face model dir (config.json, safetensors, tokenizer), or a Hub id like org/name"`
	RefModel          string   `key:"ref_model" alias:"ref_model_name_or_path" help:"reference model dir (default: a frozen copy of the initial policy, or the base model under LoRA)"`
	RefModelAdapters  string   `key:"ref_model_adapters" help:"PEFT adapter dir applied to ref_model"`
	AdapterNameOrPath string   `key:"adapter_name_or_path" help:"PEFT adapter dir to start LoRA training from"`
	Stage             string   `key:"stage" help:"LLaMA-Factory stage: dpo, kto, orpo, simpo, rm, sft (empty: TRL DPOTrainer)"`
	Trainer           string   `key:"trainer" help:"TRL trainer: dpo, kto, orpo, cpo, reward (empty: from the trainer-specific keys, else dpo); the CLI form of python trl/scripts/<trainer>.py"`
	FinetuningType    string   `key:"finetuning_type" help:"full or lora"`
	UsePEFT           bool     `key:"use_peft" help:"TRL: train a LoRA adapter (same as finetuning_type: lora)"`
	LoRARank          int      `key:"lora_rank" alias:"lora_r" help:"LoRA rank r"`
	LoRAAlpha         float64  `key:"lora_alpha" help:"LoRA alpha (scale alpha/r); LLaMA-Factory default 2·rank"`
	LoRADropout       float64  `key:"lora_dropout" help:"LoRA dropout probability"`
	LoRATarget        []string `key:"lora_target" alias:"lora_target_modules" help:"modules with adapters: all, or names like q_proj,v_proj"`
	UseRSLoRA         bool     `key:"use_rslora" help:"rank-stabilised LoRA scale alpha/sqrt(r)"`

	GradientCheckpointing        bool `key:"gradient_checkpointing" help:"recompute layer activations in backward"`
	DisableGradientCheckpointing bool `key:"disable_gradient_checkpointing" help:"LLaMA-Factory: true turns gradient_checkpointing off"`

	// frozen-weight storage and 4-bit quantization (see quant.go)
	TorchDType          string `key:"torch_dtype" alias:"dtype,infer_dtype" help:"storage of frozen weights (the LoRA base, a reference model): auto (the checkpoint's), bfloat16, float16 or float32; trainable weights are float32"`
	LoadIn4bit          bool   `key:"load_in_4bit" help:"QLoRA: quantize the frozen base's linear weights to 4 bits on load (bitsandbytes' blockwise rule)"`
	LoadIn8bit          bool   `key:"load_in_8bit" help:"8-bit (LLM.int8) bases are not supported: refused"`
	Bnb4bitQuantType    string `key:"bnb_4bit_quant_type" alias:"quantization_type" help:"nf4 or fp4"`
	Bnb4bitDoubleQuant  *bool  `key:"bnb_4bit_use_double_quant" alias:"use_bnb_nested_quant,double_quantization" help:"quantize the 4-bit block scales again (8-bit, blocks of 256); default false (TRL), true with quantization_bit (LLaMA-Factory)"`
	Bnb4bitComputeDType string `key:"bnb_4bit_compute_dtype" help:"compute dtype of 4-bit layers: float32 (bfloat16/float16 accepted; compute is float32)"`
	Bnb4bitQuantStorage string `key:"bnb_4bit_quant_storage" help:"storage of the packed codes: uint8"`
	QuantizationBit     int    `key:"quantization_bit" help:"LLaMA-Factory: 4 = load_in_4bit (8 is refused)"`
	QuantizationMethod  string `key:"quantization_method" help:"LLaMA-Factory: bnb (the only method)"`

	// Hugging Face Hub (a model or dataset argument that is no local path but looks like org/name)
	ModelRevision     string `key:"model_revision" alias:"revision" help:"Hub branch, tag or commit of model_name_or_path, ref_model and the adapters (default main)"`
	DatasetTrainSplit string `key:"dataset_train_split" help:"split of a Hub dataset repo used for training (default train)"`
	DatasetTestSplit  string `key:"dataset_test_split" help:"split of a Hub dataset repo used for evaluation (default test)"`

	// data
	Dataset             string  `key:"dataset" alias:"dataset_name" help:"training data: files, dirs, LLaMA-Factory names or Hub dataset ids, comma-separated"`
	EvalDataset         string  `key:"eval_dataset" help:"evaluation data (same forms as dataset)"`
	DatasetDir          string  `key:"dataset_dir" help:"LLaMA-Factory dataset dir holding dataset_info.json"`
	Template            string  `key:"template" help:"LLaMA-Factory template (stage: configs): default, empty, chatml, qwen, qwen3, qwen3_nothink, llama3, llama2, mistral; unset: parsed from the model's chat template, as LLaMA-Factory does"`
	EnableThinking      *bool   `key:"enable_thinking" help:"LLaMA-Factory: reasoning templates (qwen3) put an empty thought in the response (true, default) or the prompt (false)"`
	DefaultSystem       *string `key:"default_system" help:"LLaMA-Factory: replace the template's default system message"`
	Packing             bool    `key:"packing" help:"LLaMA-Factory: accepted; as in LLaMA-Factory it shortens cutoff_len by 1 (preftune always packs its batches)"`
	MaxSamples          int     `key:"max_samples" help:"use at most this many examples of each dataset (0: all)"`
	ValSize             float64 `key:"val_size" help:"hold out this fraction (<1) or number of training examples for evaluation"`
	MaxLength           int     `key:"max_length" alias:"cutoff_len" help:"max prompt+completion tokens (0: no limit)"`
	MaxPromptLength     int     `key:"max_prompt_length" help:"max prompt tokens (0: no limit)"`
	MaxCompletionLength int     `key:"max_completion_length" help:"max completion tokens (0: no limit)"`
	TruncationMode      string  `key:"truncation_mode" help:"keep_start or keep_end"`

	// loss
	LossType          []string  `key:"loss_type" alias:"pref_loss" help:"preference loss (a list combines several with loss_weights)"`
	LossWeights       []float64 `key:"loss_weights" help:"weights of the loss_type list (default 1 each)"`
	Beta              float64   `key:"beta" alias:"pref_beta" help:"β: strength of the KL penalty to the reference"`
	LabelSmoothing    float64   `key:"label_smoothing" alias:"dpo_label_smoothing" help:"cDPO/robust label smoothing in [0,0.5)"`
	ReferenceFree     bool      `key:"reference_free" help:"use a uniform reference (reference log-probs 0)"`
	UseWeighting      bool      `key:"use_weighting" help:"WPO weighting of pairs"`
	LDAlpha           *float64  `key:"ld_alpha" help:"LD-DPO α in [0,1] for tokens beyond the shared length"`
	RPOAlpha          *float64  `key:"rpo_alpha" help:"RPO: weight of the NLL of the chosen completion"`
	PrefFTX           float64   `key:"pref_ftx" alias:"dpo_ftx" help:"LLaMA-Factory: weight of the SFT loss on chosen (per-sequence mean NLL); dpo_ftx is its v0.6–v0.7 name"`
	SimPOGamma        float64   `key:"simpo_gamma" help:"SimPO target margin γ"`
	DiscopopTau       float64   `key:"discopop_tau" help:"DiscoPOP temperature"`
	CPOAlpha          float64   `key:"cpo_alpha" help:"CPO/SimPO: weight of the NLL term (LLaMA-Factory: pref_ftx)"`
	FDivergence       string    `key:"f_divergence_type" help:"reverse_kl, forward_kl, js_divergence or alpha_divergence"`
	FAlphaCoef        float64   `key:"f_alpha_divergence_coef" help:"α of alpha_divergence"`
	DesirableWeight   float64   `key:"desirable_weight" alias:"kto_chosen_weight" help:"KTO: weight of desirable examples"`
	UndesirableWeight float64   `key:"undesirable_weight" alias:"kto_rejected_weight" help:"KTO: weight of undesirable examples"`
	CenterRewards     float64   `key:"center_rewards_coefficient" help:"reward model: weight of the mean squared sum of paired rewards (TRL RewardConfig)"`

	// reference strategies
	PrecomputeRefLogProbs bool    `key:"precompute_ref_log_probs" help:"compute reference log-probs once before training (cached on disk)"`
	SyncRefModel          bool    `key:"sync_ref_model" help:"TR-DPO: mix the policy into the reference every ref_model_sync_steps"`
	RefModelMixupAlpha    float64 `key:"ref_model_mixup_alpha" help:"TR-DPO α: ref = α·policy + (1-α)·ref"`
	RefModelSyncSteps     int     `key:"ref_model_sync_steps" help:"TR-DPO τ: optimizer steps between syncs"`

	// optimization
	Optim                     string  `key:"optim" help:"adamw (adamw_torch, adamw_torch_fused, adamw_hf), sgd, or rmsprop (torch.optim.RMSprop as transformers maps it: alpha 0.99, eps 1e-8, coupled weight decay)"`
	LearningRate              float64 `key:"learning_rate" help:"peak learning rate"`
	AdamBeta1                 float64 `key:"adam_beta1" help:"AdamW β1"`
	AdamBeta2                 float64 `key:"adam_beta2" help:"AdamW β2"`
	AdamEpsilon               float64 `key:"adam_epsilon" help:"AdamW ε"`
	WeightDecay               float64 `key:"weight_decay" help:"decoupled weight decay (not applied to biases and norm weights)"`
	Momentum                  float64 `key:"momentum" help:"SGD momentum"`
	LRSchedulerType           string  `key:"lr_scheduler_type" help:"constant, linear, cosine or constant_with_warmup"`
	WarmupSteps               int     `key:"warmup_steps" help:"linear warmup steps (overrides warmup_ratio); a value below 1 is a ratio of the total steps (transformers v5)"`
	WarmupRatio               float64 `key:"warmup_ratio" help:"warmup as a fraction of the total steps"`
	MaxGradNorm               float64 `key:"max_grad_norm" help:"global gradient-norm clip (0: off)"`
	StopOnLossSpike           float64 `key:"stop_on_loss_spike" help:"stop (non-zero exit, no final model) when a step's |loss| exceeds this many times the mean of the first 10 steps' (0: off)"`
	StopOnGradNorm            float64 `key:"stop_on_grad_norm" help:"stop (non-zero exit, no final model) when the gradient norm before clipping exceeds this (0: off)"`
	NumTrainEpochs            float64 `key:"num_train_epochs" help:"epochs (fractional allowed)"`
	MaxSteps                  int     `key:"max_steps" help:"optimizer steps; overrides num_train_epochs when > 0"`
	PerDeviceTrainBatchSize   int     `key:"per_device_train_batch_size" help:"pairs per micro-batch"`
	PerDeviceEvalBatchSize    int     `key:"per_device_eval_batch_size" help:"pairs per evaluation batch"`
	GradientAccumulationSteps int     `key:"gradient_accumulation_steps" help:"micro-batches per optimizer step"`
	Seed                      int     `key:"seed" help:"seed of data order, LoRA init and dropout"`
	Threads                   int     `key:"threads" help:"worker threads (0: all cores)"`

	// outputs
	OutputDir            string  `key:"output_dir" help:"where weights, logs, plots and checkpoints go"`
	OverwriteOutputDir   bool    `key:"overwrite_output_dir" help:"allow an output_dir that already holds a trained model"`
	LoggingSteps         float64 `key:"logging_steps" help:"log every N optimizer steps (<1: fraction of the total)"`
	LoggingFirstStep     bool    `key:"logging_first_step" help:"also log the first step"`
	EvalStrategy         string  `key:"eval_strategy" alias:"evaluation_strategy" help:"no, steps or epoch"`
	EvalSteps            float64 `key:"eval_steps" help:"evaluate every N steps (default logging_steps)"`
	SaveStrategy         string  `key:"save_strategy" help:"no, steps or epoch"`
	SaveSteps            float64 `key:"save_steps" help:"checkpoint every N steps"`
	SaveTotalLimit       int     `key:"save_total_limit" help:"keep at most N checkpoints (0: all)"`
	SaveOnlyModel        bool    `key:"save_only_model" help:"checkpoints without optimizer/scheduler/RNG state (cannot resume)"`
	ResumeFromCheckpoint string  `key:"resume_from_checkpoint" help:"true: newest checkpoint in output_dir; or a checkpoint dir"`
	PlotLoss             bool    `key:"plot_loss" help:"write training_loss.png and reward plots"`
	DoTrain              bool    `key:"do_train" help:"train (false with do_eval: true: evaluate only, as preftune eval)"`
	DisableDropout       bool    `key:"disable_dropout" help:"TRL: no dropout in training forwards (this includes LoRA dropout, as TRL's disable_dropout_in_model does)"`

	// evaluation-only runs and reporting (reportto.go)
	DoEval     bool     `key:"do_eval" help:"evaluate on the eval split into eval_results.json: after training, or alone with do_train: false"`
	ReportTo   []string `key:"report_to" help:"tensorboard or all: TensorBoard event files under logging_dir; none; other services are ignored with a warning"`
	LoggingDir string   `key:"logging_dir" help:"TensorBoard log dir (default output_dir/runs/<Mon DD_HH-MM-SS>_<host>, as transformers)"`

	// accepted without effect (see Ignored)
	TrustRemoteCode         bool   `key:"trust_remote_code" noeffect:"no remote code is ever run"`
	OverwriteCache          bool   `key:"overwrite_cache" noeffect:"no dataset cache"`
	PreprocessingNumWorkers int    `key:"preprocessing_num_workers" alias:"dataset_num_proc" noeffect:"tokenization runs in-process"`
	DataloaderNumWorkers    int    `key:"dataloader_num_workers" noeffect:"batches are built in-process"`
	BF16                    bool   `key:"bf16" help:"bf16 products for the frozen weights (LoRA base, reference model) where the CPU has AVX512-BF16 (oneDNN); trainable weights, gradients and optimizer state stay float32"`
	FP16                    bool   `key:"fp16" noeffect:"compute is float32 (or bf16 with bf16: true); weights are saved in the input dtype"`
	DDPTimeout              int    `key:"ddp_timeout" noeffect:"single process"`
	RunName                 string `key:"run_name" noeffect:"no tracking service"`

	// TRL documented configs and example scripts
	PushToHub            bool     `key:"push_to_hub" noeffect:"nothing is uploaded; the outputs stay in output_dir"`
	HubModelID           string   `key:"hub_model_id" noeffect:"nothing is uploaded"`
	HubStrategy          string   `key:"hub_strategy" noeffect:"nothing is uploaded"`
	UseLigerKernel       bool     `key:"use_liger_kernel" noeffect:"preftune's kernels already fuse the log-softmax and the loss"`
	ModelInitKwargs      any      `key:"model_init_kwargs" noeffect:"the model is built from config.json; frozen weights keep their dtype (torch_dtype), trainable ones are float32"`
	AttnImplementation   string   `key:"attn_implementation" noeffect:"one attention kernel (exact softmax attention: eager, sdpa and flash_attention_2 compute the same function)"`
	PadToMultipleOf      int      `key:"pad_to_multiple_of" noeffect:"batches are packed, never padded"`
	PaddingFree          bool     `key:"padding_free" noeffect:"batches are always packed without padding"`
	RemoveUnusedColumns  bool     `key:"remove_unused_columns" noeffect:"only the columns the format needs are read"`
	PadToken             string   `key:"pad_token" noeffect:"batches are packed, no padding token is used"`
	LoRATaskType         string   `key:"lora_task_type" noeffect:"LoRA adapters are always CAUSAL_LM"`
	LoRAModulesToSave    []string `key:"lora_modules_to_save" help:"PEFT modules_to_save: not supported (a non-empty list is refused)"`
	GradCheckpointKwargs any      `key:"gradient_checkpointing_kwargs" noeffect:"checkpointing has no options (use_reentrant is a PyTorch detail)"`
	LoggingStrategy      string   `key:"logging_strategy" noeffect:"logging follows logging_steps"`
	TF32                 bool     `key:"tf32" noeffect:"CPU compute is float32"`
	DDPFindUnused        bool     `key:"ddp_find_unused_parameters" noeffect:"single process"`
	DatasetTextField     string   `key:"dataset_text_field" noeffect:"preference data columns follow the dataset format"`
	EvalOnStart          bool     `key:"eval_on_start" noeffect:"evaluation runs at eval_steps"`
	SaveSafetensors      bool     `key:"save_safetensors" noeffect:"weights are always written as safetensors"`

	// LLaMA-Factory examples
	DeepSpeed         string  `key:"deepspeed" noeffect:"single process; for data parallelism run preftune under mpirun"`
	FlashAttn         string  `key:"flash_attn" noeffect:"one attention kernel (auto, disabled, sdpa and fa2 compute the same function)"`
	UseV1Kernels      bool    `key:"use_v1_kernels" noeffect:"preftune's kernels are its own"`
	PureBF16          bool    `key:"pure_bf16" noeffect:"trainable weights, gradients and optimizer state stay float32; bf16: true gives bf16 products of the frozen weights"`
	PrefBCOWeight     float64 `key:"pref_bco_weight" help:"LLaMA-Factory: BCO term weight; only 0 is supported (a positive value is refused)"`
	EnableLigerKernel bool    `key:"enable_liger_kernel" noeffect:"preftune's kernels already fuse the log-softmax and the loss"`
	ValSizeSeed       int     `key:"data_seed" noeffect:"the data order follows seed"`
	NumProcesses      int     `key:"num_processes" noeffect:"single process; for data parallelism run preftune under mpirun"`
}

// refusedKeys are keys of TRL's and LLaMA-Factory's configs that ask for something
// preftune does not do; they are refused with the reason instead of "unknown key".
var refusedKeys = map[string]string{
	"image_max_pixels":    "vision-language models are not supported (preftune trains text-only Llama, Qwen2, Qwen3 and Mistral models)",
	"image_min_pixels":    "vision-language models are not supported (preftune trains text-only Llama, Qwen2, Qwen3 and Mistral models)",
	"video_max_pixels":    "vision-language models are not supported (preftune trains text-only Llama, Qwen2, Qwen3 and Mistral models)",
	"video_min_pixels":    "vision-language models are not supported (preftune trains text-only Llama, Qwen2, Qwen3 and Mistral models)",
	"freeze_vision_tower": "vision-language models are not supported (preftune trains text-only Llama, Qwen2, Qwen3 and Mistral models)",
}

// field is one key of the table.
type field struct {
	name     string
	aliases  []string
	help     string
	noEffect string
	index    int
}

var fields, byName = buildTable()

func buildTable() ([]field, map[string]*field) {
	t := reflect.TypeFor[Config]()
	fs := make([]field, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		f := field{name: sf.Tag.Get("key"), help: sf.Tag.Get("help"), noEffect: sf.Tag.Get("noeffect"), index: i}
		if a := sf.Tag.Get("alias"); a != "" {
			f.aliases = strings.Split(a, ",")
		}
		fs = append(fs, f)
	}
	m := map[string]*field{}
	for i := range fs {
		m[fs[i].name] = &fs[i]
		for _, a := range fs[i].aliases {
			m[a] = &fs[i]
		}
	}
	return fs, m
}

// Keys returns every accepted key and alias, sorted.
func Keys() []string {
	out := make([]string, 0, len(byName))
	for k := range byName {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Default returns TRL's DPOConfig defaults (over TrainingArguments').
func Default() Config {
	return Config{
		FinetuningType: "full",
		LoRARank:       16, LoRAAlpha: 32, LoRADropout: 0.05, LoRATarget: []string{"q_proj", "v_proj"},
		GradientCheckpointing: true,
		MaxLength:             1024, TruncationMode: "keep_start",
		LossType: []string{"sigmoid"}, Beta: 0.1, SimPOGamma: 0.5, DiscopopTau: 0.05,
		CPOAlpha: 1, FDivergence: "reverse_kl", FAlphaCoef: 0.5, DesirableWeight: 1, UndesirableWeight: 1,
		RefModelMixupAlpha: 0.6, RefModelSyncSteps: 512,
		Optim: "adamw", LearningRate: 1e-6, AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEpsilon: 1e-8,
		LRSchedulerType: "linear", MaxGradNorm: 1, StopOnLossSpike: 1000, NumTrainEpochs: 3, MaxSteps: -1,
		PerDeviceTrainBatchSize: 8, PerDeviceEvalBatchSize: 8, GradientAccumulationSteps: 1, Seed: 42,
		LoggingSteps: 10, EvalStrategy: "", SaveStrategy: "steps", SaveSteps: 500,
		PlotLoss: true, DoTrain: true, DisableDropout: true,
		OutputDir: "trainer_output", // TrainingArguments' default since transformers 4.50
	}
}

// llamaFactoryDefaults are applied, when `stage` is set, to the keys the file does not set.
var llamaFactoryDefaults = map[string]any{
	"finetuning_type": "lora", "lora_rank": 8, "lora_dropout": 0.0, "lora_target": []string{"all"},
	"max_length": 2048, "learning_rate": 5e-5, "logging_steps": 500.0, "gradient_checkpointing": true,
	"truncation_mode": "keep_start",
}

// Error is a configuration problem: the key (canonical name) and, for file values, the line.
type Error struct {
	Key  string
	Line int // 0: not from the file
	Msg  string
	// Override: the value came from the command line (--key value), not the file.
	Override bool
}

func (e *Error) Error() string {
	switch {
	case e.Key == "":
		return e.Msg
	case e.Override:
		return fmt.Sprintf("--%s (command line): %s", e.Key, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Key, e.Msg)
	}
}

// Loaded is a parsed configuration with where each value came from.
type Loaded struct {
	Config
	Path string
	Set  map[string]string // canonical key → "file" or "override"
	// Spelled maps a canonical key to the alias the user wrote, when it was an alias.
	Spelled map[string]string
	// Warnings name keys that are set but have no effect on the chosen loss.
	Warnings []string
}

// LoadFile reads a YAML config file and applies overrides (`--key value` pairs or
// `--key=value`), then defaults and validation.
func LoadFile(path string, overrides []string) (*Loaded, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l, err := Parse(raw, overrides)
	if err != nil {
		if ce := (*Error)(nil); errors.As(err, &ce) && ce.Override {
			return nil, err // not the file's fault
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l.Path = path
	return l, nil
}

// Parse parses YAML (may be empty) and overrides into a validated configuration.
func Parse(raw []byte, overrides []string) (*Loaded, error) {
	l := &Loaded{Config: Default(), Set: map[string]string{}, Spelled: map[string]string{}}
	if err := checkNesting(raw); err != nil {
		return nil, err
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if len(doc.Content) > 0 {
		top := doc.Content[0]
		if top.Kind != yaml.MappingNode {
			if !(top.Kind == yaml.ScalarNode && top.Tag == "!!null") {
				return nil, &Error{Line: top.Line, Msg: fmt.Sprintf("line %d: the config must be a mapping of key: value", top.Line)}
			}
		} else {
			for i := 0; i+1 < len(top.Content); i += 2 {
				k, v := top.Content[i], top.Content[i+1]
				if err := l.set(k.Value, v, "file", k.Line); err != nil {
					return nil, err
				}
			}
		}
	}
	kv, err := splitOverrides(overrides)
	if err != nil {
		return nil, err
	}
	for _, p := range kv {
		if err := l.set(p[0], overrideNode(p[1]), "override", 0); err != nil {
			return nil, markOverride(err)
		}
	}
	l.applyStageDefaults()
	if err := l.selectTrainer(); err != nil {
		return nil, err
	}
	if err := l.validateConformance(); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		if ce := (*Error)(nil); errors.As(err, &ce) && l.Set[ce.Key] == "override" {
			ce.Override = true
		}
		return nil, err
	}
	l.Warnings = l.unusedKeyWarnings()
	return l, nil
}

// splitOverrides turns ["--beta", "0.2", "--optim=sgd"] into key/value pairs.
func splitOverrides(args []string) ([][2]string, error) {
	var out [][2]string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || len(a) == 2 {
			return nil, &Error{Msg: fmt.Sprintf("override %q: want --key value", a)}
		}
		a = a[2:]
		if k, v, ok := strings.Cut(a, "="); ok {
			out = append(out, [2]string{k, v})
			continue
		}
		// HfArgumentParser's boolean flags: a bare --flag is true, --no_flag false.
		bare := i+1 >= len(args) || strings.HasPrefix(args[i+1], "--")
		if isBoolKey(a) && (bare || !isBoolText(args[i+1])) {
			out = append(out, [2]string{a, "true"})
			continue
		}
		if k, ok := strings.CutPrefix(a, "no_"); ok && isBoolKey(k) && byName[a] == nil {
			out = append(out, [2]string{k, "false"})
			continue
		}
		if i+1 >= len(args) {
			return nil, &Error{Key: a, Msg: "override has no value"}
		}
		out = append(out, [2]string{a, args[i+1]})
		i++
	}
	return out, nil
}

func isBoolKey(k string) bool {
	f, ok := byName[k]
	return ok && reflect.TypeFor[Config]().Field(f.index).Type.Kind() == reflect.Bool
}

func isBoolText(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "1", "0", "t", "f", "y", "n":
		return true
	}
	return false
}

// overrideNode reads a command-line value as YAML ("[a, b]", "null", "1e-5"), or as a
// plain string when it is not valid YAML.
func overrideNode(s string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err == nil && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func (l *Loaded) set(key string, v *yaml.Node, source string, line int) error {
	f, ok := byName[key]
	if why, refused := refusedKeys[key]; !ok && refused {
		return &Error{Key: key, Line: line, Msg: why}
	}
	if !ok {
		msg := "unknown key"
		if near := Closest(key, 3); len(near) > 0 {
			msg += " (did you mean " + strings.Join(near, ", ") + "?)"
		} else {
			msg += " (run `preftune train --help-config` for the list)"
		}
		return &Error{Key: key, Line: line, Msg: msg}
	}
	if prev, dup := l.Set[f.name]; dup && prev == source && source == "file" {
		return &Error{Key: key, Line: line, Msg: fmt.Sprintf("set twice (also as %s)", l.spelling(f.name))}
	}
	rv := reflect.ValueOf(&l.Config).Elem().Field(f.index)
	if f.name == "warmup_steps" && v.Kind == yaml.ScalarNode {
		// transformers v5: a warmup_steps below 1 is a ratio of the total steps.
		if r, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64); err == nil && r > 0 && r < 1 {
			l.Config.WarmupSteps, l.Config.WarmupRatio = 0, r
			l.Set[f.name] = source
			return nil
		}
	}
	if err := decodeInto(rv, v); err != nil {
		return &Error{Key: key, Line: line, Msg: err.Error()}
	}
	l.Set[f.name] = source
	if key != f.name {
		l.Spelled[f.name] = key
	} else {
		delete(l.Spelled, f.name)
	}
	return nil
}

func (l *Loaded) spelling(name string) string {
	if s, ok := l.Spelled[name]; ok {
		return s
	}
	return name
}

// decodeInto parses a YAML value into a Config field. Scalars are parsed from their
// text, so "1e-6" (a string to YAML 1.1 readers such as PyYAML) is a number here too,
// as transformers' argument parser makes it.
func decodeInto(rv reflect.Value, v *yaml.Node) error {
	isNull := v.Kind == yaml.ScalarNode && (v.Tag == "!!null")
	switch rv.Kind() {
	case reflect.Interface: // any YAML value (mappings such as model_init_kwargs)
		var x any
		if err := v.Decode(&x); err != nil {
			return err
		}
		if x == nil {
			rv.Set(reflect.Zero(rv.Type()))
		} else {
			rv.Set(reflect.ValueOf(x))
		}
		return nil
	case reflect.Pointer:
		if isNull {
			rv.Set(reflect.Zero(rv.Type()))
			return nil
		}
		p := reflect.New(rv.Type().Elem())
		if err := decodeInto(p.Elem(), v); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	case reflect.Slice:
		if isNull {
			rv.Set(reflect.Zero(rv.Type()))
			return nil
		}
		var items []*yaml.Node
		switch v.Kind {
		case yaml.SequenceNode:
			items = v.Content
		case yaml.ScalarNode:
			for _, s := range strings.Split(v.Value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
				}
			}
		default:
			return errors.New("want a list or a comma-separated string")
		}
		out := reflect.MakeSlice(rv.Type(), len(items), len(items))
		for i, it := range items {
			if err := decodeInto(out.Index(i), it); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		rv.Set(out)
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single %s value", kindName(rv.Kind()))
	}
	s := strings.TrimSpace(v.Value)
	switch rv.Kind() {
	case reflect.String:
		if isNull {
			s = ""
		}
		rv.SetString(s)
	case reflect.Bool:
		if isNull {
			rv.SetBool(false)
			return nil
		}
		switch strings.ToLower(s) {
		case "true", "yes", "on", "1", "t", "y": // also HfArgumentParser's string_to_bool
			rv.SetBool(true)
		case "false", "no", "off", "0", "f", "n":
			rv.SetBool(false)
		default:
			return fmt.Errorf("%q is not true or false", s)
		}
	case reflect.Int:
		if isNull {
			rv.SetInt(0)
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != float64(int64(f)) {
				return fmt.Errorf("%q is not an integer", s)
			}
			n = int64(f)
		}
		rv.SetInt(n)
	case reflect.Float64:
		if isNull {
			rv.SetFloat(0)
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		rv.SetFloat(f)
	default:
		return fmt.Errorf("unsupported field kind %s", rv.Kind())
	}
	return nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return "string"
}

// applyStageDefaults switches to LLaMA-Factory's defaults for the keys the user did not
// set when the file names a stage, and maps the stage to its loss.
func (l *Loaded) applyStageDefaults() {
	c := &l.Config
	if c.UsePEFT && l.Set["finetuning_type"] == "" {
		c.FinetuningType = "lora"
	}
	if c.Stage == "" {
		return
	}
	for k, v := range llamaFactoryDefaults {
		if l.Set[k] != "" {
			continue
		}
		rv := reflect.ValueOf(c).Elem().Field(byName[k].index)
		rv.Set(reflect.ValueOf(v))
	}
	if l.Set["lora_alpha"] == "" {
		c.LoRAAlpha = float64(2 * c.LoRARank)
	}
	// cutoff_len is applied as LLaMA-Factory's infer_seqlen (see TokenizeOptions).
	if l.Set["loss_type"] == "" {
		switch c.Stage {
		case "orpo", "simpo", "kto", "sft":
			c.LossType = []string{c.Stage}
		case "rm":
			c.LossType = []string{"bradley_terry"}
		}
	}
}

// Closest returns up to n known keys nearest to key (edit distance, then shared
// substrings), nearest first.
func Closest(key string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	limit := max(2, len(key)/3)
	for name := range byName {
		contains := len(key) >= 4 && (strings.Contains(name, key) || strings.Contains(key, name))
		// The distance is at least the length difference, and exactly that when one
		// contains the other: a long key (YAML allows 1024 bytes, overrides any
		// length) costs no quadratic comparison with every name.
		d := max(len(key)-len(name), len(name)-len(key))
		if d > limit && !contains {
			continue
		}
		if !contains {
			d = editDistance(key, name)
		}
		if d <= limit || contains {
			cs = append(cs, cand{name, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// markOverride flags a config error as the command line's.
func markOverride(err error) error {
	if ce := (*Error)(nil); errors.As(err, &ce) {
		ce.Override = true
	}
	return err
}
