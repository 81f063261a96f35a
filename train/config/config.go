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
	ModelNameOrPath   string   `key:"model_name_or_path" help:"Hugging Face model dir (config.json, safetensors, tokenizer)"`
	RefModel          string   `key:"ref_model" alias:"ref_model_name_or_path" help:"reference model dir (default: a frozen copy of the initial policy, or the base model under LoRA)"`
	RefModelAdapters  string   `key:"ref_model_adapters" help:"PEFT adapter dir applied to ref_model"`
	AdapterNameOrPath string   `key:"adapter_name_or_path" help:"PEFT adapter dir to start LoRA training from"`
	Stage             string   `key:"stage" help:"LLaMA-Factory stage: dpo, kto, orpo, simpo, rm, sft (empty: TRL DPOTrainer)"`
	FinetuningType    string   `key:"finetuning_type" help:"full or lora"`
	UsePEFT           bool     `key:"use_peft" help:"TRL: train a LoRA adapter (same as finetuning_type: lora)"`
	LoRARank          int      `key:"lora_rank" alias:"lora_r" help:"LoRA rank r"`
	LoRAAlpha         float64  `key:"lora_alpha" help:"LoRA alpha (scale alpha/r); LLaMA-Factory default 2·rank"`
	LoRADropout       float64  `key:"lora_dropout" help:"LoRA dropout probability"`
	LoRATarget        []string `key:"lora_target" alias:"lora_target_modules" help:"modules with adapters: all, or names like q_proj,v_proj"`
	UseRSLoRA         bool     `key:"use_rslora" help:"rank-stabilised LoRA scale alpha/sqrt(r)"`

	GradientCheckpointing bool `key:"gradient_checkpointing" help:"recompute layer activations in backward"`

	// data
	Dataset             string  `key:"dataset" alias:"dataset_name" help:"training data: files, dirs or LLaMA-Factory names, comma-separated"`
	EvalDataset         string  `key:"eval_dataset" help:"evaluation data (same forms as dataset)"`
	DatasetDir          string  `key:"dataset_dir" help:"LLaMA-Factory dataset dir holding dataset_info.json"`
	Template            string  `key:"template" help:"LLaMA-Factory template name (the model's own chat template is used)"`
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
	PrefFTX           float64   `key:"pref_ftx" help:"LLaMA-Factory: weight of the SFT loss on chosen (per-sequence mean NLL)"`
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
	Optim                     string  `key:"optim" help:"adamw or sgd"`
	LearningRate              float64 `key:"learning_rate" help:"peak learning rate"`
	AdamBeta1                 float64 `key:"adam_beta1" help:"AdamW β1"`
	AdamBeta2                 float64 `key:"adam_beta2" help:"AdamW β2"`
	AdamEpsilon               float64 `key:"adam_epsilon" help:"AdamW ε"`
	WeightDecay               float64 `key:"weight_decay" help:"decoupled weight decay (not applied to biases and norm weights)"`
	Momentum                  float64 `key:"momentum" help:"SGD momentum"`
	LRSchedulerType           string  `key:"lr_scheduler_type" help:"constant, linear, cosine or constant_with_warmup"`
	WarmupSteps               int     `key:"warmup_steps" help:"linear warmup steps (overrides warmup_ratio)"`
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
	DoTrain              bool    `key:"do_train" help:"must be true (evaluation-only runs are not supported)"`
	DisableDropout       bool    `key:"disable_dropout" help:"TRL: no dropout in training forwards (this includes LoRA dropout, as TRL's disable_dropout_in_model does)"`

	// accepted without effect (see Ignored)
	TrustRemoteCode         bool   `key:"trust_remote_code" noeffect:"no remote code is ever run"`
	OverwriteCache          bool   `key:"overwrite_cache" noeffect:"no dataset cache"`
	PreprocessingNumWorkers int    `key:"preprocessing_num_workers" alias:"dataset_num_proc" noeffect:"tokenization runs in-process"`
	DataloaderNumWorkers    int    `key:"dataloader_num_workers" noeffect:"batches are built in-process"`
	BF16                    bool   `key:"bf16" noeffect:"compute is float32; weights are saved in the input dtype"`
	FP16                    bool   `key:"fp16" noeffect:"compute is float32; weights are saved in the input dtype"`
	DDPTimeout              int    `key:"ddp_timeout" noeffect:"single process"`
	ReportTo                string `key:"report_to" noeffect:"logs go to trainer_log.jsonl only"`
	RunName                 string `key:"run_name" noeffect:"no tracking service"`
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
}

func (e *Error) Error() string {
	switch {
	case e.Key == "":
		return e.Msg
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
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l.Path = path
	return l, nil
}

// Parse parses YAML (may be empty) and overrides into a validated configuration.
func Parse(raw []byte, overrides []string) (*Loaded, error) {
	l := &Loaded{Config: Default(), Set: map[string]string{}, Spelled: map[string]string{}}
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
			return nil, err
		}
	}
	l.applyStageDefaults()
	if err := l.Validate(); err != nil {
		return nil, err
	}
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
		if i+1 >= len(args) {
			return nil, &Error{Key: a, Msg: "override has no value"}
		}
		out = append(out, [2]string{a, args[i+1]})
		i++
	}
	return out, nil
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
		case "true", "yes", "on":
			rv.SetBool(true)
		case "false", "no", "off":
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
	if l.Set["max_prompt_length"] == "" {
		// LLaMA-Factory's infer_seqlen gives the prompt at most about half of cutoff_len
		// when both sides are long; the prompt keeps its end here, as TRL keeps it.
		c.MaxPromptLength = c.MaxLength / 2
	}
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
		d := editDistance(key, name)
		if d <= limit || (len(key) >= 4 && (strings.Contains(name, key) || strings.Contains(key, name))) {
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
