package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
)

const benchUsage = `usage: preftune bench --model DIR --data FILE [--batch-pairs N] [--steps N] [--lora-r R] [--ref precompute|live]

Times DPO training steps exactly as ../shared/peer/torch_dpo_step.py (PyTorch eager) does,
on the same model and pairs, and prints one JSON line with the peer's keys
(step_s_median, pairs_per_s, tokens_per_s, peak_rss_mb) plus gflops (matrix-multiply
work the engine did per second, see model.FLOPs) and mfu (gflops over an sgemm peak
measured at startup with a 1024³ GEMM on the same threads).

A step is: the reference log-probs (precomputed once before timing, or live: the
frozen base model, i.e. the adapters switched off under LoRA, a frozen copy under full
fine-tuning), the policy forward, the sigmoid DPO loss (beta), the backward, and an
AdamW update (lr, betas 0.9/0.999, eps 1e-8, no weight decay). Step i uses pairs
[i·N, (i+1)·N) of FILE in file order; step 0 is a warm-up and is not timed; tokens
count every prompt+completion token of the concatenated batch (the peer's
attention_mask sum). Batches are laid out before timing.

--plain turns every optimisation switch off (TRL's concatenated, right-padded batch, separate
gate/up projections); by default prompts are shared between chosen and rejected, sequences
are packed and gate_proj/up_proj run as one GEMM.

flags:
`

func init() {
	register(&command{
		name:    "bench",
		summary: "time DPO steps on pre-tokenized pairs (same steps as the PyTorch peer), JSON result",
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
	dataPath := fs.String("data", "", "pre-tokenized preference pairs (JSON Lines)")
	batchPairs := fs.Int("batch-pairs", 2, "pairs per step")
	steps := fs.Int("steps", 5, "timed steps (one warm-up step runs first)")
	loraR := fs.Int("lora-r", 0, "LoRA rank on every linear layer (0 = full fine-tuning)")
	loraAlpha := fs.Float64("lora-alpha", 16, "LoRA alpha")
	ref := fs.String("ref", "precompute", "reference log-probs: precompute (once, before timing) or live (every step)")
	beta := fs.Float64("beta", 0.1, "DPO beta")
	lr := fs.Float64("lr", 1e-5, "AdamW learning rate")
	threads := fs.Int("threads", 0, "worker threads (0 = all cores)")
	plain := fs.Bool("plain", false, "no layout optimisations: TRL's right-padded concatenated batch")
	share := fs.Bool("share-prompt", true, "compute each prompt once for its chosen and rejected completion")
	pack := fs.Bool("pack", true, "padding-free packing of the step's sequences")
	rowTokens := fs.Int("row-tokens", 0, "with --pack: tokens per packed row (0 = one row per step)")
	group := fs.Bool("group-by-length", false, "order pairs by length in mega-batches (changes which pairs share a step)")
	fuse := fs.Bool("fuse-gate-up", true, "one GEMM for gate_proj and up_proj (model.Options.FuseGateUp)")
	checkpoint := fs.Bool("checkpoint", false, "gradient checkpointing")
	logitsMB := fs.Int("logits-mb", 512, "memory for LM-head logits in MiB: when a step's loss rows fit, the backward reuses the forward's logits instead of recomputing them chunk by chunk")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
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
	case *rowTokens < 0:
		return badInputf("--row-tokens: %d must not be negative", *rowTokens)
	}
	arch, err := model.ReadArch(*modelDir)
	if err != nil {
		return badInputf("--model: %w", err)
	}
	rows, err := readTokenPairs(*dataPath, &arch)
	if err != nil {
		return badInput(err)
	}
	need := (*steps + 1) * *batchPairs
	if len(rows) < need {
		return badInputf("%s: need %d rows for %d steps of %d pairs, have %d", *dataPath, need, *steps+1, *batchPairs, len(rows))
	}
	pairs := make([]model.Pair, len(rows))
	for i, r := range rows {
		pairs[i] = model.Pair{Prompt: r.Prompt, Chosen: r.Chosen, Rejected: r.Rejected}
	}
	if *group {
		order := model.GroupByLength(pairs, *batchPairs, 0)
		sorted := make([]model.Pair, len(pairs))
		for i, j := range order {
			sorted[i] = pairs[j]
		}
		pairs = sorted
	}
	lay := model.PairLayout{SharePrompt: *share, Pack: *pack, RowTokens: *rowTokens}
	if *plain {
		lay = model.PairLayout{}
		*fuse = false
	}
	if len(arch.Windows) > 0 {
		lay.SharePrompt = false // sliding windows count row indices
	}

	be := cpu.New(*threads)
	defer be.Close()
	peak := sgemmPeak(be)

	// batches, laid out before timing
	batches := make([]*model.Batch, *steps+1)
	tokens := make([]int, *steps+1)
	maxTok, maxRows := 0, 0
	for i := range batches {
		chunk := pairs[i**batchPairs : (i+1)**batchPairs]
		b, err := model.BuildPairBatch(chunk, lay)
		if err != nil {
			return badInput(err)
		}
		batches[i] = b
		for _, p := range chunk {
			tokens[i] += 2*len(p.Prompt) + len(p.Chosen) + len(p.Rejected)
		}
		maxTok, maxRows = max(maxTok, b.B*b.T), max(maxRows, len(b.Targets))
	}
	opt := model.Options{MaxTokens: maxTok, Checkpoint: *checkpoint, LogitsBudget: min(max(1, *logitsMB)<<20/4, maxRows*arch.Vocab), FuseGateUp: *fuse}
	if *loraR > 0 {
		opt.LoRA = &model.LoRAConfig{R: *loraR, Alpha: *loraAlpha, Targets: []string{"all-linear"}}
	}
	policy, err := model.Load(*modelDir, be, opt)
	if err != nil {
		return badInputf("--model: %w", err)
	}
	if opt.LoRA != nil {
		policy.InitLoRA(0)
	}
	var refModel *model.Model // live reference under full fine-tuning: a frozen copy
	if *ref == "live" && opt.LoRA == nil {
		if refModel, err = model.Load(*modelDir, be, model.Options{MaxTokens: maxTok, Frozen: true, LogitsBudget: opt.LogitsBudget, FuseGateUp: *fuse}); err != nil {
			return badInputf("--model: %w", err)
		}
	}
	nseq := 2 * *batchPairs
	refLogps := make([][]float32, len(batches))
	for i := range refLogps {
		refLogps[i] = make([]float32, nseq)
	}
	refFwd := model.ForwardOptions{Eval: true, NoAdapters: opt.LoRA != nil}
	reference := func(i int) error {
		m := policy
		if refModel != nil {
			m = refModel
		}
		out, err := m.Forward(batches[i], refFwd)
		if err != nil {
			return err
		}
		copy(refLogps[i], out.SeqLogProbs)
		return nil
	}
	if *ref == "precompute" {
		for i := range batches {
			if err := reference(i); err != nil {
				return err
			}
		}
	}
	params, grads := policy.TrainableBuffers()
	m1, m2 := be.Alloc(len(params)), be.Alloc(len(params))
	dseq := make([]float32, nseq)
	// matrix-multiply work per step: policy forward+backward, plus the live reference forward
	stepFLOPs := make([]float64, len(batches))
	for i, b := range batches {
		stepFLOPs[i] = policy.FLOPs(b, model.ForwardOptions{Eval: true}, true)
		if *ref == "live" {
			m := policy
			if refModel != nil {
				m = refModel
			}
			stepFLOPs[i] += m.FLOPs(b, refFwd, false)
		}
	}
	times := make([]float64, 0, *steps)
	var lastLoss float64
	var timedTokens int
	var timedFLOPs float64
	debug.FreeOSMemory()
	var cpu0 float64
	for i, b := range batches {
		if i == 1 {
			cpu0 = cpuSeconds()
		}
		if i == 1 && *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return badInputf("--cpuprofile: %w", err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		t0 := time.Now()
		if *ref == "live" {
			if err := reference(i); err != nil {
				return err
			}
		}
		out, err := policy.Forward(b, model.ForwardOptions{Eval: true})
		if err != nil {
			return err
		}
		lastLoss = dpoLoss(dseq, out.SeqLogProbs, refLogps[i], *batchPairs, *beta)
		policy.ZeroGrad()
		if err := policy.BackwardSeq(dseq); err != nil {
			return err
		}
		be.AdamWStep(params, grads, m1, m2, i+1, float32(*lr), 0.9, 0.999, 1e-8, 0)
		be.Sync()
		dt := time.Since(t0).Seconds()
		if i > 0 { // step 0 is the warm-up
			times = append(times, dt)
			timedTokens += tokens[i]
			timedFLOPs += stepFLOPs[i]
		}
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
		Impl: "preftune", Backend: be.Name(), Threads: be.Threads(), Ref: *ref, LoRAR: *loraR,
		BatchPairs: *batchPairs, Steps: len(times), Layout: layoutName(lay),
		StepMedian: round(med, 4), PairsPerS: round(float64(*batchPairs)/med, 3),
		TokensPerS: round(float64(timedTokens)/total, 1), PeakRSSMB: round(peakRSSMB(), 1),
		GFLOPs: round(timedFLOPs/total/1e9, 1), PeakGFLOPs: round(peak/1e9, 1),
		StepGFLOP: round(timedFLOPs/float64(len(times))/1e9, 2), LastLoss: round(lastLoss, 6),
		ActivationM: round(float64(policy.ActivationBytes())/(1<<20), 1),
		CPUPerStep:  round(cpuPerStep, 4),
	}
	if peak > 0 {
		res.MFU = round(timedFLOPs/total/peak, 3)
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))
	return nil
}

// dpoLoss writes d(loss)/d(policy seq log-prob) into dseq and returns the sigmoid DPO
// loss, mean over the n pairs: sequences [0,n) are chosen, [n,2n) rejected.
// loss_i = softplus(−β·δ_i), δ_i = (π_c − π_r) − (ref_c − ref_r).
func dpoLoss(dseq, pol, ref []float32, n int, beta float64) float64 {
	var loss float64
	for i := 0; i < n; i++ {
		delta := float64(pol[i]-pol[n+i]) - float64(ref[i]-ref[n+i])
		z := -beta * delta
		loss += softplus(z)
		// d softplus(z)/dδ = σ(z)·(−β)
		g := -beta * sigmoid(z) / float64(n)
		dseq[i] = float32(g)
		dseq[n+i] = float32(-g)
	}
	return loss / float64(n)
}

func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	return math.Log1p(math.Exp(z))
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func layoutName(l model.PairLayout) string {
	s := "padded"
	if l.Pack {
		s = "packed"
		if l.RowTokens > 0 {
			s += fmt.Sprintf("(%d)", l.RowTokens)
		}
	}
	if l.SharePrompt {
		s += "+shared-prompt"
	}
	return s
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
