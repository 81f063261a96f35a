package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

const benchUsage = `usage: preftune bench --model DIR --data FILE [--batch-pairs N] [--steps N] [--lora-r R] [--ref precompute|live]

Times optimizer steps of ` + "`preftune train`" + ` itself — the same setup and the same step
(train.Bench) — on the model and pre-tokenized pairs given, and prints one JSON line with
the PyTorch peer's keys (step_s_median, pairs_per_s, tokens_per_s, peak_rss_mb) plus
gflops (matrix-multiply work per second, see model.FLOPs) and mfu (gflops over an sgemm
peak measured at startup with a 1024³ GEMM on the same threads).

The config is DPO sigmoid (beta), AdamW (lr, betas 0.9/0.999, eps 1e-8, no weight decay,
constant schedule, no clipping), per_device_train_batch_size = --batch-pairs, no dropout;
the reference is precomputed before timing or live (the adapters switched off under LoRA,
a frozen copy under full fine-tuning). Step 0 is a warm-up and is not timed; tokens count
every prompt+completion token of the step's pairs (the peer's attention_mask sum).
--plain runs train's step with every layout optimisation off (TRL's right-padded
concatenated batch, separate gate/up projections), as the equality tests do.

flags:
`

func init() {
	register(&command{
		name:    "bench",
		summary: "time optimizer steps of train's own step on pre-tokenized pairs, JSON result",
		run:     runBench,
	})
}

type benchResult struct {
	Impl        string  `json:"impl"`
	Backend     string  `json:"backend"`
	Threads     int     `json:"threads"`
	Ref         string  `json:"ref"`
	LoRAR       int     `json:"lora_r"`
	BatchPairs  int     `json:"batch_pairs"`
	Steps       int     `json:"steps"`
	Layout      string  `json:"layout"`
	StepMedian  float64 `json:"step_s_median"`
	PairsPerS   float64 `json:"pairs_per_s"`
	TokensPerS  float64 `json:"tokens_per_s"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	GFLOPs      float64 `json:"gflops"`
	MFU         float64 `json:"mfu"`
	PeakGFLOPs  float64 `json:"sgemm_peak_gflops"`
	BF16Peak    float64 `json:"bf16_gemm_peak_gflops,omitempty"` // the backend's bf16 GEMM (kernels.BF16Matmul), same product
	BF16Ratio   float64 `json:"bf16_over_sgemm,omitempty"`
	StepGFLOP   float64 `json:"step_gflop"`
	LastLoss    float64 `json:"last_loss"`
	ActivationM float64 `json:"activation_mb"`
	// CPUPerStep is the process's user+system CPU time per timed step (getrusage):
	// on a shared machine, the work done regardless of the time spent waiting for a core.
	CPUPerStep float64 `json:"cpu_s_per_step"`
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	modelDir := fs.String("model", "", "Hugging Face model dir (config.json + model.safetensors)")
	dataPath := fs.String("data", "", "pre-tokenized preference pairs (JSON Lines: prompt_input_ids, chosen_input_ids, rejected_input_ids)")
	batchPairs := fs.Int("batch-pairs", 2, "pairs per step")
	steps := fs.Int("steps", 5, "timed steps (one warm-up step runs first)")
	loraR := fs.Int("lora-r", 0, "LoRA rank on every linear layer (0 = full fine-tuning)")
	loraAlpha := fs.Float64("lora-alpha", 16, "LoRA alpha")
	ref := fs.String("ref", "precompute", "reference log-probs: precompute (once, before timing) or live (every step)")
	beta := fs.Float64("beta", 0.1, "DPO beta")
	lr := fs.Float64("lr", 1e-5, "AdamW learning rate")
	threads := fs.Int("threads", 0, "worker threads (0 = all cores)")
	plain := fs.Bool("plain", false, "train's step without layout optimisations: TRL's right-padded concatenated batch")
	checkpoint := fs.Bool("checkpoint", false, "gradient checkpointing")
	backend := fs.String("backend", "", "compute backend (kernels.Open name; default $PREFTUNE_BACKEND or cpu)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	computeDType := fs.String("compute-dtype", "float32", "frozen weights' products: float32, or bfloat16 (train's bf16: true)")
	loadIn4bit := fs.Bool("load-in-4bit", false, "QLoRA: the LoRA base quantized to NF4 on load (train's load_in_4bit: true)")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return badInputf("unexpected argument %q", fs.Arg(0))
	case *modelDir == "":
		return badInputf("--model is required")
	case *dataPath == "":
		return badInputf("--data is required")
	case *batchPairs <= 0:
		return badInputf("--batch-pairs: %d must be positive", *batchPairs)
	case *steps <= 0:
		return badInputf("--steps: %d must be positive", *steps)
	case *loraR < 0:
		return badInputf("--lora-r: %d must not be negative", *loraR)
	case *ref != "precompute" && *ref != "live":
		return badInputf("--ref: %q is not precompute or live", *ref)
	}
	scratch, err := os.MkdirTemp("", "preftune-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	yaml := fmt.Sprintf(`model_name_or_path: %q
dataset: %q
output_dir: %q
loss_type: sigmoid
beta: %g
learning_rate: %g
lr_scheduler_type: constant
weight_decay: 0
max_grad_norm: 0
per_device_train_batch_size: %d
gradient_accumulation_steps: 1
max_steps: %d
save_strategy: "no"
logging_steps: 1000000
gradient_checkpointing: %t
precompute_ref_log_probs: %t
threads: %d
`, *modelDir, *dataPath, filepath.Join(scratch, "run"), *beta, *lr, *batchPairs, *steps+1, *checkpoint, *ref == "precompute", *threads)
	switch *computeDType {
	case "float32":
	case "bfloat16":
		yaml += "bf16: true\n"
	default:
		return badInputf("--compute-dtype: %q: want float32 or bfloat16", *computeDType)
	}
	if *loadIn4bit {
		yaml += "load_in_4bit: true\nbnb_4bit_use_double_quant: true\n"
	}
	if *loraR > 0 {
		yaml += fmt.Sprintf("finetuning_type: lora\nlora_rank: %d\nlora_alpha: %g\nlora_dropout: 0\nlora_target: all\n", *loraR, *loraAlpha)
	}
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		return err
	}
	be, err := kernels.Open(*backend, kernels.OpenOptions{Threads: *threads})
	if err != nil {
		return badInput(err)
	}
	peak := sgemmPeak(be)
	bf16Peak := bf16GemmPeak(be)
	be.Close()
	opt := train.Options{Plain: *plain, Backend: *backend, CacheDir: filepath.Join(scratch, "cache")}
	var times []float64
	var lastLoss, timedFLOPs float64
	var timedTokens int
	var cpu0 float64
	debug.FreeOSMemory()
	info, err := train.Bench(context.Background(), cfg, opt, *steps, func(i int, st train.BenchStep) {
		if i == 0 { // the warm-up step: start the clocks for the timed ones
			cpu0 = cpuSeconds()
			if *cpuProfile != "" {
				if f, err := os.Create(*cpuProfile); err == nil {
					pprof.StartCPUProfile(f)
				}
			}
			return
		}
		times = append(times, st.Seconds)
		timedTokens += st.Tokens
		timedFLOPs += st.FLOPs
		lastLoss = st.Loss
	})
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return trainError(err)
	}
	cpuPerStep := (cpuSeconds() - cpu0) / float64(len(times))
	total := 0.0
	for _, t := range times {
		total += t
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	res := benchResult{
		Impl: "preftune", Backend: info.Backend, Threads: info.Threads, Ref: *ref, LoRAR: *loraR,
		BatchPairs: *batchPairs, Steps: len(times), Layout: info.Layout,
		StepMedian: round(med, 4), PairsPerS: round(float64(*batchPairs)/med, 3),
		TokensPerS: round(float64(timedTokens)/total, 1), PeakRSSMB: round(peakRSSMB(), 1),
		GFLOPs: round(timedFLOPs/total/1e9, 1), PeakGFLOPs: round(peak/1e9, 1),
		StepGFLOP: round(timedFLOPs/float64(len(times))/1e9, 2), LastLoss: round(lastLoss, 6),
		ActivationM: round(float64(info.ActivationBytes)/(1<<20), 1),
		CPUPerStep:  round(cpuPerStep, 4),
	}
	if peak > 0 {
		res.MFU = round(timedFLOPs/total/peak, 3)
	}
	if bf16Peak > 0 {
		res.BF16Peak = round(bf16Peak/1e9, 1)
		if peak > 0 {
			res.BF16Ratio = round(bf16Peak/peak, 2)
		}
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))
	return nil
}

// sgemmPeak measures the backend's sgemm rate on a 1024³ product (best of 10, after a
// warm-up call), in FLOP/s.
func sgemmPeak(be kernels.Backend) float64 {
	const n = 1024
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
		b[i] = float32(i%5) * 0.1
	}
	a2, b2, c2 := be.Alloc(n*n), be.Alloc(n*n), be.Alloc(n*n)
	be.Upload(a2, a)
	be.Upload(b2, b)
	a, b, c = a2, b2, c2
	be.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	best := math.Inf(1)
	for range 10 {
		t0 := time.Now()
		be.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		be.Sync()
		best = min(best, time.Since(t0).Seconds())
	}
	return 2 * n * n * n / best
}

// peakRSSMB is getrusage(RUSAGE_SELF).ru_maxrss in MiB (Linux reports KiB), as the
// peer reads it.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// cpuSeconds is the process's user+system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// bf16GemmPeak is sgemmPeak for the backend's bf16 GEMM (0 when it has none here).
func bf16GemmPeak(be kernels.Backend) float64 {
	bf, ok := be.(kernels.BF16Matmul)
	if !ok || bf.BF16Ready() != nil {
		return 0
	}
	const n = 1024
	host := make([]float32, n*n)
	for i := range host {
		host[i] = float32(i%7) * 0.1
	}
	x := be.Alloc(n * n)
	be.Upload(x, host)
	a, b := bf.AllocBF16(n*n), bf.AllocBF16(n*n)
	bf.ToBF16(a, x)
	bf.ToBF16(b, x)
	c := be.Alloc(n * n)
	bf.GemmBF16(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	best := math.Inf(1)
	for range 10 {
		t0 := time.Now()
		bf.GemmBF16(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		be.Sync()
		best = min(best, time.Since(t0).Seconds())
	}
	return 2 * n * n * n / best
}
