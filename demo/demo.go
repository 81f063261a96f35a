package demo

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/judge"
	"github.com/preftune/preftune/kernels"
	_ "github.com/preftune/preftune/kernels/cpu" // the default backend
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

// assets is the shipped SFT model: config.json, model.safetensors (BF16),
// tokenizer.json, tokenizer_config.json and sft_eval.json, made by
// demo/scripts/make_model.sh.
//
//go:embed assets/model
var assets embed.FS

// Options configure Run. The zero value of a field means its default.
type Options struct {
	Out  string // output dir (default "preftune-demo")
	Seed uint64 // split and training seed (default DefaultSeed)

	Steps      int     // DPO optimizer steps (default 150)
	BatchPairs int     // pairs per step (default 16)
	LR         float64 // peak learning rate (default 4e-4)
	Beta       float64 // DPO β (default 2)
	LoRARank   int     // LoRA r on every linear layer (default 8, alpha 2r)
	// RPOAlpha adds RPOAlpha × the NLL of the chosen completion to the DPO loss (TRL's
	// rpo_alpha); 0 (the default) is plain DPO.
	RPOAlpha float64
	// BF16 trains with the frozen base kept in bf16 and its products in bf16 (torch_dtype:
	// bfloat16, bf16: true): the CPU bf16 path.
	BF16 bool

	// HeldOut evaluates only the first HeldOut held-out prompts (default all 200); a
	// reduced setting for tests.
	HeldOut int
	// TrainPairs uses only the first TrainPairs training pairs (default all).
	TrainPairs int

	Log      io.Writer // progress and notes (default io.Discard)
	Terminal bool      // draw a progress bar on Log
}

func (o *Options) defaults() {
	if o.Out == "" {
		o.Out = "preftune-demo"
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Steps == 0 {
		o.Steps = 150
	}
	if o.BatchPairs == 0 {
		o.BatchPairs = 16
	}
	if o.LR == 0 {
		o.LR = 4e-4
	}
	if o.Beta == 0 {
		o.Beta = 2
	}
	if o.LoRARank == 0 {
		o.LoRARank = 8
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Result is what a demo run measured.
type Result struct {
	HeldOutPairs   int          `json:"heldout_pairs"`
	TrainPairs     int          `json:"train_pairs"`
	Rewards        RewardStats  `json:"heldout_rewards"`
	WinRate        judge.Result `json:"win_rate"` // policy vs reference, judged
	RefSuccess     float64      `json:"reference_success"`
	PolicySuccess  float64      `json:"policy_success"`
	RefCorrect     float64      `json:"reference_content_correct"`
	PolicyCorrect  float64      `json:"policy_content_correct"`
	ShippedSuccess float64      `json:"shipped_sft_success"` // sft_eval.json: what the reference must reproduce
	// RefUnchanged: the reference's success equals the shipped SFT model's (checked
	// only when the full held-out set is evaluated with the shipped sampling).
	RefUnchanged *bool         `json:"reference_unchanged,omitempty"`
	Examples     []Example     `json:"examples"`
	TrainSeconds float64       `json:"train_seconds"`
	TotalSeconds float64       `json:"total_seconds"`
	Options      resultOptions `json:"options"`
}

// Example is one held-out prompt with both generations and their scores.
type Example struct {
	Prompt    string  `json:"prompt"`
	Reference string  `json:"reference"`
	Policy    string  `json:"policy"`
	RefScore  float64 `json:"reference_score"`
	PolScore  float64 `json:"policy_score"`
}

type resultOptions struct {
	Seed       uint64   `json:"seed"`
	Steps      int      `json:"steps"`
	BatchPairs int      `json:"batch_pairs"`
	LR         float64  `json:"learning_rate"`
	Beta       float64  `json:"beta"`
	LoRARank   int      `json:"lora_rank"`
	Sampling   Sampling `json:"sampling"`
}

// Paths are the files a run writes under Options.Out.
type Paths struct {
	Out, SFTModel, Data, Train, HeldOut, DPO, Eval, Report, Results string
}

// PathsFor lays out the files of a run writing to out.
func PathsFor(out string) Paths {
	return Paths{
		Out: out, SFTModel: filepath.Join(out, "sft_model"), Data: filepath.Join(out, "data"),
		Train: filepath.Join(out, "data", "train.jsonl"), HeldOut: filepath.Join(out, "data", "heldout.jsonl"),
		DPO: filepath.Join(out, "dpo"), Eval: filepath.Join(out, "eval"),
		Report: filepath.Join(out, "report.md"), Results: filepath.Join(out, "results.json"),
	}
}

// WriteAssets copies the embedded SFT model into dir.
func WriteAssets(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return fs.WalkDir(assets, "assets/model", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return fmt.Errorf("demo: embedded %s: %w", p, err)
		}
		return writeFileAtomic(filepath.Join(dir, filepath.Base(p)), b)
	})
}

// ShippedEval is the shipped model's sft_eval.json.
func ShippedEval() (SFTEval, error) {
	raw, err := assets.ReadFile("assets/model/sft_eval.json")
	if err != nil {
		return SFTEval{}, fmt.Errorf("demo: %w", err)
	}
	return ReadSFTEval(raw, "sft_eval.json")
}

// Run is `preftune demo`: it writes the shipped SFT model and the task's data under
// o.Out, trains a LoRA adapter with DPO against the SFT model, evaluates the policy and
// the reference on the held-out prompts, and writes report.md and results.json.
func Run(o Options) (*Result, error) {
	o.defaults()
	t0 := time.Now()
	p := PathsFor(o.Out)
	for _, d := range []string{p.Out, p.Data, p.Eval} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	if err := WriteAssets(p.SFTModel); err != nil {
		return nil, err
	}
	shipped, err := ShippedEval()
	if err != nil {
		return nil, err
	}
	split := NewSplit(o.Seed)
	train := PreferencePairs(split.Train)
	if o.TrainPairs > 0 && o.TrainPairs < len(train) {
		train = train[:o.TrainPairs]
	}
	heldout := PreferencePairs(split.HeldOut)
	if o.HeldOut > 0 && o.HeldOut < len(heldout) {
		heldout = heldout[:o.HeldOut]
	}
	if err := WriteJSONL(p.Train, train); err != nil {
		return nil, err
	}
	if err := WriteJSONL(p.HeldOut, heldout); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "demo: task %q → American spelling preferred; %d training pairs, %d held-out prompts (seed %d)\n",
		Prompt(347), len(train), len(heldout), o.Seed)
	fmt.Fprintf(o.Log, "demo: SFT model %s (shipped held-out success %.3f)\n", p.SFTModel, shipped.HeldOutSuccess)

	tok, err := tokenizer.Load(p.SFTModel)
	if err != nil {
		return nil, err
	}
	heldPairs, err := tokenizePairs(p.HeldOut, tok)
	if err != nil {
		return nil, err
	}

	be, err := kernels.Open("", kernels.OpenOptions{})
	if err != nil {
		return nil, err
	}
	defer be.Close()
	tTrain := time.Now()
	m, err := trainDPO(p, be, o)
	if err != nil {
		return nil, err
	}
	res := &Result{HeldOutPairs: len(heldout), TrainPairs: len(train), TrainSeconds: time.Since(tTrain).Seconds(), ShippedSuccess: shipped.HeldOutSuccess,
		Options: resultOptions{Seed: o.Seed, Steps: o.Steps, BatchPairs: o.BatchPairs, LR: o.LR, Beta: o.Beta, LoRARank: o.LoRARank, Sampling: DefaultSampling}}

	fmt.Fprintf(o.Log, "demo: evaluating on %d held-out prompts\n", len(heldout))
	if res.Rewards, err = Rewards(m, heldPairs, o.Beta, 64); err != nil {
		return nil, err
	}
	prompts := make([]string, len(heldout))
	for i, r := range heldout {
		prompts[i] = r.Prompt
	}
	refGen, err := Complete(m, tok, prompts, DefaultSampling, true)
	if err != nil {
		return nil, err
	}
	polGen, err := Complete(m, tok, prompts, DefaultSampling, false)
	if err != nil {
		return nil, err
	}
	refFile, polFile := filepath.Join(p.Eval, "reference.jsonl"), filepath.Join(p.Eval, "policy.jsonl")
	if err := writeGenerations(refFile, prompts, refGen); err != nil {
		return nil, err
	}
	if err := writeGenerations(polFile, prompts, polGen); err != nil {
		return nil, err
	}
	if res.WinRate, err = judgeFiles(polFile, refFile, o.Seed); err != nil {
		return nil, err
	}
	res.RefSuccess, res.PolicySuccess = SuccessRate(prompts, refGen), SuccessRate(prompts, polGen)
	for i, pr := range prompts {
		if Correct(pr, refGen[i]) {
			res.RefCorrect++
		}
		if Correct(pr, polGen[i]) {
			res.PolicyCorrect++
		}
		if i < 8 {
			res.Examples = append(res.Examples, Example{Prompt: pr, Reference: refGen[i], Policy: polGen[i],
				RefScore: Score(pr, refGen[i], ""), PolScore: Score(pr, polGen[i], "")})
		}
	}
	res.RefCorrect /= float64(len(prompts))
	res.PolicyCorrect /= float64(len(prompts))
	if len(heldout) == len(split.HeldOut) && shipped.Sampling == DefaultSampling && shipped.Seed == o.Seed {
		same := res.RefSuccess == shipped.HeldOutSuccess
		res.RefUnchanged = &same
	}
	png, err := SuccessPlot(res)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(p.Out, "heldout_success.png"), png); err != nil {
		return nil, err
	}
	res.TotalSeconds = time.Since(t0).Seconds()
	if err := writeJSON(p.Results, res); err != nil {
		return nil, err
	}
	if err := WriteReport(p, res); err != nil {
		return nil, err
	}
	return res, nil
}

// tokenizePairs loads a TRL JSONL file through package data and tokenizes it as TRL's
// DPOTrainer does (no BOS for this tokenizer, EOS appended to completions).
func tokenizePairs(path string, tok *tokenizer.Tokenizer) ([]data.Pair, error) {
	ds, err := data.Load(path, data.Options{})
	if err != nil {
		return nil, err
	}
	dt := &data.Tokenizer{Enc: tok, Opts: data.TokenizeOptions{Rules: data.RulesTRLLegacy, BOS: data.BOSNever}}
	pairs, _, err := dt.Pairs(ds.Examples, data.PolicyStrict)
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("demo: %s: no pairs", path)
	}
	return pairs, nil
}

// DPOConfig is the `preftune train` config the demo runs (written to dpo.yaml in the
// output dir, so `preftune train OUT/dpo.yaml` repeats the training): LLaMA-Factory's
// stage: dpo with a LoRA adapter on every linear layer of the SFT model, whose base
// weights (adapters off) are the reference, and the held-out pairs as eval set.
func DPOConfig(p Paths, o Options) string {
	return fmt.Sprintf(`# preftune demo: DPO (LoRA) from the shipped SFT model
stage: dpo
model_name_or_path: %q
finetuning_type: lora
lora_rank: %d
lora_alpha: %d
lora_dropout: 0.0
lora_target: all
dataset: %q
eval_dataset: %q
eval_strategy: steps
eval_steps: %d
per_device_eval_batch_size: 64
pref_loss: sigmoid
pref_beta: %g
%s%sprecompute_ref_log_probs: true
learning_rate: %g
lr_scheduler_type: linear
warmup_ratio: 0.1
weight_decay: 0.0
max_grad_norm: 1.0
max_steps: %d
per_device_train_batch_size: %d
gradient_accumulation_steps: 1
gradient_checkpointing: false
logging_steps: %d
save_strategy: "no"
plot_loss: true
seed: %d
output_dir: %q
overwrite_output_dir: true
`, p.SFTModel, o.LoRARank, 2*o.LoRARank, p.Train, p.HeldOut, max(1, o.Steps/5), o.Beta, rpoLine(o.RPOAlpha), bf16Lines(o.BF16), o.LR, o.Steps, o.BatchPairs,
		max(1, o.Steps/20), o.Seed, p.DPO)
}

func bf16Lines(on bool) string {
	if !on {
		return ""
	}
	return "torch_dtype: bfloat16\nbf16: true\n"
}

func rpoLine(a float64) string {
	if a <= 0 {
		return ""
	}
	return fmt.Sprintf("rpo_alpha: %g\n", a)
}

// trainDPO runs `preftune train` on DPOConfig and loads the SFT model with the trained
// adapter (its reference is the same model with the adapter off).
func trainDPO(p Paths, be kernels.Backend, o Options) (*model.Model, error) {
	cfgPath := filepath.Join(p.Out, "dpo.yaml")
	if err := writeFileAtomic(cfgPath, []byte(DPOConfig(p, o))); err != nil {
		return nil, err
	}
	cfg, err := config.LoadFile(cfgPath, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(o.Log, "demo: DPO: preftune train %s\n", cfgPath)
	// the trainer's own output (data notes, progress bar, plots), without the resolved
	// config it prints first: dpo.yaml holds it
	if _, err := train.Run(context.Background(), cfg, train.Options{Log: &skipResolved{w: o.Log}, Terminal: o.Terminal,
		CacheDir: filepath.Join(p.Out, "cache")}); err != nil {
		return nil, err
	}
	lc, err := model.ReadAdapterConfig(p.DPO)
	if err != nil {
		return nil, err
	}
	m, err := model.Load(p.SFTModel, be, model.Options{LoRA: lc, Frozen: true}) // evaluation only
	if err != nil {
		return nil, err
	}
	if err := m.LoadAdapter(p.DPO); err != nil {
		return nil, err
	}
	return m, nil
}

// skipResolved passes a trainer log through, less the resolved-config block
// ("resolved config:", "accepted without effect:" and their indented lines) it starts with.
type skipResolved struct {
	w    io.Writer
	pass bool
	buf  []byte
}

func (s *skipResolved) Write(p []byte) (int, error) {
	if s.pass {
		return s.w.Write(p)
	}
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(s.buf[:i])
		if line == "resolved config:" || line == "accepted without effect:" || strings.HasPrefix(line, "  ") {
			s.buf = s.buf[i+1:]
			continue
		}
		s.pass = true
		rest := s.buf
		s.buf = nil
		if _, err := s.w.Write(rest); err != nil {
			return 0, err
		}
		return len(p), nil
	}
}

// writeGenerations writes {"prompt","completion"} JSONL for package judge.
func writeGenerations(path string, prompts, completions []string) error {
	var b []byte
	for i, p := range prompts {
		line, err := jsonLine(map[string]string{"prompt": p, "completion": completions[i]})
		if err != nil {
			return err
		}
		b = append(b, line...)
	}
	return writeFileAtomic(path, b)
}

// judgeFiles computes the win rate of a's generations against b's with the demo judge,
// through package judge (files aligned by prompt, percentile-bootstrap 95% CI).
func judgeFiles(a, b string, seed uint64) (judge.Result, error) {
	ga, err := judge.ReadGenerationsFile(a)
	if err != nil {
		return judge.Result{}, err
	}
	gb, err := judge.ReadGenerationsFile(b)
	if err != nil {
		return judge.Result{}, err
	}
	pairs, err := judge.Align(ga, gb, nil)
	if err != nil {
		return judge.Result{}, err
	}
	j, err := judge.New(JudgeName, judge.Options{})
	if err != nil {
		return judge.Result{}, err
	}
	vs, err := j.Compare(pairs)
	if err != nil {
		return judge.Result{}, err
	}
	outcomes := make([]float64, len(vs))
	for i, v := range vs {
		outcomes[i] = v.Outcome
	}
	if len(outcomes) == 0 {
		return judge.Result{}, errors.New("demo: nothing to judge")
	}
	return judge.Summarize(outcomes, 1000, 0.95, seed)
}
