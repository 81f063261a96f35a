package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/preftune/preftune/dist"
	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/loss"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/report"
	"github.com/preftune/preftune/report/tensorboard"
	"github.com/preftune/preftune/train/config"
)

// Options are the run's I/O settings (everything about training is in the config).
type Options struct {
	// Log receives the resolved config, the reference in use, data notes and progress.
	Log io.Writer
	// Terminal draws a progress bar on Log instead of plain lines.
	Terminal bool
	// CacheDir holds precomputed reference log-probs; "" means $PREFTUNE_CACHE or the
	// user cache dir (…/preftune/ref_logps).
	CacheDir string
	// AfterStep, when set, is called after every optimizer step (and its logging,
	// evaluation and checkpoint) with the number of steps done.
	AfterStep func(step int)
	// Reducer averages gradients across data-parallel workers; nil means one process.
	Reducer GradReducer
	// Backend names the compute backend (kernels.Open); "" is kernels.DefaultName().
	Backend string
	// Plain turns the step's layout optimisations off (TRL's right-padded concatenated
	// batch, separate gate/up projections), for equality tests against the fast default.
	Plain bool
	// Dist is the data-parallel process group (mpirun/srun; see distributed.go); nil
	// means one process.
	Dist *dist.World

	// poisonGrad, when set (tests), may alter a rank's local gradient of a step.
	poisonGrad func(rank, step int, grads []float32)
	// scoreInit, when set (tests), is the initial score.weight of a reward model.
	scoreInit []float32
}

// Summary is what a finished run reports (also written to train_results.json).
type Summary struct {
	GlobalStep int     `json:"global_step"`
	Epoch      float64 `json:"epoch"`
	TrainLoss  float64 `json:"train_loss"`
	Runtime    float64 `json:"train_runtime"`
	Samples    float64 `json:"train_samples_per_second"`
	StepsPerS  float64 `json:"train_steps_per_second"`
	Reference  string  `json:"reference"`
	// data-parallel runs: the number of ranks and the share of step time spent in
	// collectives
	WorldSize    int     `json:"world_size,omitempty"`
	CommFraction float64 `json:"comm_fraction,omitempty"`
}

// ErrNonFinite is wrapped by the error that stops a run on a NaN/Inf loss or gradient.
var ErrNonFinite = errors.New("non-finite value")

// trainer is one run.
type trainer struct {
	cfg   *config.Loaded
	c     *config.Config
	opt   Options
	log   io.Writer
	be    kernels.Backend
	st    stepper
	optim *optimizer
	sched schedule
	// reducer averages the accumulated gradients over data-parallel workers.
	reducer GradReducer

	train, eval   []item
	order         []int
	microPerEpoch int
	stepsPerEpoch int
	totalSteps    int
	step          int // optimizer steps done
	history       []report.Entry
	tlog          *report.Log
	refDesc       string
	tb            *tensorboard.Writer // report_to tensorboard (tensorboard.go)

	acc  accum            // logging interval
	prog *report.Progress // the training display, while the loop runs
	div  divergence       // the divergence guards' loss baseline (guards.go)

	// data parallelism (distributed.go): the process group (nil: one process), this
	// rank and the number of ranks, the metric names all ranks know, every rank's
	// dropout stream position at the last checkpoint, time in steps and collectives
	w                  *dist.World
	rank, world        int
	inSetup            bool
	metricKeys         []string
	dropStreams        []uint64
	stepTime, commTime time.Duration
	reduceTime         time.Duration // the gradient all-reduce alone
}

// accum averages metrics over the optimizer steps since the last log line.
type accum struct {
	steps   int
	loss    float64
	gnorm   float64
	metrics map[string]float64
	weight  map[string]float64
	lossSum float64 // whole run, for train_results.json
	nSum    int
}

func (a *accum) addMetrics(m map[string]float64, w float64) {
	for k, v := range m {
		a.metrics[k] += w * v
		a.weight[k] += w
	}
}

func (a *accum) reset() {
	a.steps, a.loss, a.gnorm = 0, 0, 0
	clear(a.metrics)
	clear(a.weight)
}

// Run trains per the config. The context stops a run between steps.
func Run(ctx context.Context, cfg *config.Loaded, opt Options) (*Summary, error) {
	cfg.WriteResolved(logOf(opt))
	t, done, err := start(cfg, opt)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := t.beginRun(); err != nil {
		return nil, err
	}
	defer t.closeReports()
	sum, err := t.loop(ctx)
	return t.finishRun(ctx, sum, err)
}

func logOf(opt Options) io.Writer {
	if opt.Log == nil {
		return io.Discard
	}
	return opt.Log
}

// start is the setup Run and Bench share: the config checks, the output_dir lock
// (held until done is called: see rundir.go), the backend, and the trainer's setup
// (model, data, reference, optimizer, resume). done releases the backend and the lock.
func start(cfg *config.Loaded, opt Options) (t *trainer, done func(), err error) {
	opt.Log = logOf(opt)
	t = &trainer{cfg: cfg, c: &cfg.Config, opt: opt, log: opt.Log,
		acc: accum{metrics: map[string]float64{}, weight: map[string]float64{}}}
	t.initDist()
	t.inSetup = true
	defer func(t *trainer) { t.inSetup = false }(t)
	err = t.checkSupported()
	if err == nil {
		err = resolveHub(context.Background(), t.c, opt.Log, opt.Terminal)
	}
	existed := outputDirExists(t.c.OutputDir)
	unlock := func() {}
	if err == nil && t.rank == 0 { // data parallel: rank 0 alone owns output_dir
		var u func()
		if u, err = lockOutputDir(t.c.OutputDir); err == nil {
			unlock = u
		}
	}
	if err := t.agree(err, dist.IO); err != nil {
		return nil, nil, &SetupError{err}
	}
	be, err := openBackend(opt.Backend, t.c.Threads)
	if err == nil {
		t.be = be
		err = t.setup()
	}
	if err = t.agree(err, dist.IO); err != nil {
		if be != nil {
			be.Close()
		}
		unlock()
		if t.rank == 0 {
			removeCreatedOutputDir(t.c.OutputDir, existed)
		}
		var se *SetupError
		if !errors.As(err, &se) {
			err = &SetupError{err}
		}
		return nil, nil, err
	}
	done = func() {
		be.Close()
		unlock()
	}
	return t, done, nil
}

// openBackend opens the named compute backend ("" = kernels.DefaultName()).
func openBackend(name string, threads int) (kernels.Backend, error) {
	be, err := kernels.Open(name, kernels.OpenOptions{Threads: threads})
	if err != nil {
		return nil, &SetupError{err}
	}
	return be, nil
}

// SetupError wraps a problem found before training starts: the config, the model or
// the data (the user's input, as opposed to a failure during training).
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// checkSupported rejects configurations the engine cannot run yet, before any work.
func (t *trainer) checkSupported() error {
	c := t.c
	switch {
	case c.UseWeighting && c.Kind() != "pair":
		return &config.Error{Key: "use_weighting", Msg: fmt.Sprintf("WPO weights pairs of DPO-family losses, not %s training", c.Kind())}
	case c.Kind() == "list" && c.PrecomputeRefLogProbs:
		return &config.Error{Key: "precompute_ref_log_probs", Msg: "not supported for LiPO lists yet (the cache holds pairs)"}
	case c.Kind() == "kto" && c.PrecomputeRefLogProbs:
		return &config.Error{Key: "precompute_ref_log_probs", Msg: "not supported for KTO (its KL rows depend on the batch)"}
	}
	names := loss.Names()
	need := c.LossType
	if c.Kind() == "sft" {
		need = nil
	}
	for _, l := range need {
		if !slices.Contains(names, l) {
			return &config.Error{Key: "loss_type", Msg: fmt.Sprintf("%q is not implemented by the loss package (available: %v)", l, names)}
		}
	}
	return nil
}

func (t *trainer) setup() error {
	c := t.c
	var err error
	if t.rank == 0 {
		err = t.prepareOutputDir()
	}
	if err := t.agree(err, dist.IO); err != nil {
		return err
	}
	arch, err := model.ReadArch(c.ModelNameOrPath)
	if err != nil {
		return fmt.Errorf("model_name_or_path: %w", err)
	}
	tok, err := tokenizerFor(c)
	if err != nil {
		return err
	}
	if t.train, err = loadItems(c.Dataset, c, tok, arch, t.log); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if c.EvalDataset != "" {
		if t.eval, err = loadItems(c.EvalDataset, c, tok, arch, t.log); err != nil {
			return fmt.Errorf("eval_dataset: %w", err)
		}
	} else if c.ValSize > 0 {
		if len(t.train) < 2 {
			return &config.Error{Key: "val_size", Msg: "needs at least 2 training examples"}
		}
		t.train, t.eval = splitVal(t.train, c.ValSize, c.Seed)
	}
	fmt.Fprintf(t.log, "data: %d training examples, %d evaluation examples\n", len(t.train), len(t.eval))

	// policy
	if !t.opt.Plain {
		t.st.lay = defaultLayout(arch, t.be)
	}
	mopt := t.modelOptions(c.PerDeviceTrainBatchSize)
	if c.LoRA() {
		targets := slices.Clone(c.LoRATarget)
		mopt.Storage, mopt.ComputeBF16 = frozenStorage(c), computeBF16(c) // the LoRA base is frozen
		mopt.LoRA = &model.LoRAConfig{R: c.LoRARank, Alpha: c.LoRAAlpha, Dropout: c.LoRADropout, Targets: targets,
			RSLoRA: c.UseRSLoRA, Seed: t.dropoutSeed()}
		if c.AdapterNameOrPath != "" {
			lc, err := model.ReadAdapterConfig(c.AdapterNameOrPath)
			if err != nil {
				return fmt.Errorf("adapter_name_or_path: %w", err)
			}
			lc.Seed = t.dropoutSeed()
			mopt.LoRA = lc
		}
	}
	if err := t.preflight(mopt); err != nil {
		return err
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
			policy.InitLoRA(uint64(c.Seed))
		}
	}
	fmt.Fprintf(t.log, "policy: %s\n", describeWeights(policy))
	fmt.Fprintf(t.log, "backend: %s\n", t.be.Name()) // kernels, libraries, threads (and core-type advice)
	t.st.c, t.st.kind, t.st.policy, t.st.params, t.st.noDrop = c, c.Kind(), policy, lossParams(c), c.DisableDropout
	if t.st.kind == "pair" && slices.ContainsFunc(c.LossType, func(s string) bool { return s == "kto" }) {
		return &config.Error{Key: "loss_type", Msg: "kto needs stage: kto"}
	}
	if err := t.checkSameOnAllRanks(); err != nil {
		return err
	}
	if err := t.setupReference(arch); err != nil {
		return err
	}
	fmt.Fprintf(t.log, "reference: %s\n", t.refDesc)
	fmt.Fprintln(t.log, trainableParams(policy))

	if t.optim, err = newOptimizer(policy, c.Optim, c.AdamBeta1, c.AdamBeta2, c.AdamEpsilon, c.WeightDecay, c.Momentum); err != nil {
		return err
	}
	if t.st.kind == "rm" {
		if err := t.setupValueHead(arch.Hidden); err != nil {
			return err
		}
	}
	t.reducer = t.opt.Reducer
	if t.reducer == nil {
		t.reducer = singleProcess{}
	}
	bs, ga := c.PerDeviceTrainBatchSize, c.GradientAccumulationSteps
	t.microPerEpoch = (len(t.train) + bs*t.world - 1) / (bs * t.world)
	t.stepsPerEpoch = max(1, (t.microPerEpoch+ga-1)/ga)
	if c.MaxSteps > 0 {
		t.totalSteps = c.MaxSteps
	} else {
		t.totalSteps = max(1, int(math.Ceil(c.NumTrainEpochs*float64(t.stepsPerEpoch))))
	}
	t.sched = schedule{name: c.LRSchedulerType, total: t.totalSteps, warmup: warmupSteps(c.WarmupSteps, c.WarmupRatio, t.totalSteps)}
	t.order = make([]int, len(t.train))
	fmt.Fprintf(t.log, "steps: %d (%d per epoch: %s of %s, %d per step)\n",
		t.totalSteps, t.stepsPerEpoch, Plural(t.microPerEpoch, "micro-batch", "micro-batches"), Plural(bs*t.world, "pair", "pairs"), ga)
	if t.w != nil {
		fmt.Fprintf(t.log, "data parallel: %d ranks (%s), %d pairs per rank per micro-batch, %d threads per rank\n",
			t.world, t.w.Launcher, bs, t.c.Threads)
	}
	return t.resumeOrStart()
}

// maxTokens bounds a micro-batch of bs items in tokens in the step's layout, to plan
// the activations once: bs times the largest item (its prompt once per completion, or
// once when shared; a KTO item's KL completion as long as the longest, since it
// borrows a neighbour's), or with padded rows bs·K rows of the longest sequence.
func (t *trainer) maxTokens(bs int) int {
	lay := t.st.lay
	kto := t.c.Kind() == "kto"
	all := append(slices.Clip(t.train), t.eval...)
	longestCompl := 0
	for _, it := range all {
		for _, c := range it.compl {
			longestCompl = max(longestCompl, len(c))
		}
	}
	worst, longestRow, k := 0, 0, 1
	for _, it := range all {
		compls := it.list
		switch {
		case compls != nil:
		case t.c.Kind() == "sft":
			compls = it.compl[:1]
		default:
			compls = it.compl[:]
		}
		n := 0
		for _, c := range compls {
			l := len(c)
			if kto {
				l = longestCompl
			}
			n += l
			if !lay.SharePrompt {
				n += len(it.prompt)
			}
			longestRow = max(longestRow, len(it.prompt)+l)
		}
		if lay.SharePrompt {
			n += len(it.prompt)
		}
		worst, k = max(worst, n), max(k, len(compls))
	}
	if !lay.Pack && !lay.SharePrompt {
		return bs * k * longestRow
	}
	return bs * worst
}

// modelOptions are the policy's: planned for micro-batches of bs items in the step's
// layout, gate/up fused unless Plain, logits kept for the backward within 512 MiB.
func (t *trainer) modelOptions(bs int) model.Options {
	return model.Options{Checkpoint: t.c.GradientCheckpointing, MaxTokens: t.maxTokens(bs), FuseGateUp: !t.opt.Plain,
		LogitsBudget: logitsBudget}
}

// logitsBudget caps the LM head's logits buffer (float32 elements): 512 MiB, enough to
// keep a micro-batch's logits for the backward on models with a large vocabulary
// instead of recomputing them chunk by chunk (bench/README.md).
const logitsBudget = 512 << 20 / 4

// epochOrder fills t.order with epoch e's shuffled item order: a function of (seed, e)
// only, so a resumed run sees the same order.
func (t *trainer) epochOrder(e int) {
	for i := range t.order {
		t.order[i] = i
	}
	r := rand.New(rand.NewPCG(uint64(t.c.Seed), 0x6f72646572+uint64(e)))
	r.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
}

func (t *trainer) loop(ctx context.Context) (*Summary, error) {
	c := t.c
	bs, ga := c.PerDeviceTrainBatchSize, c.GradientAccumulationSteps
	start := time.Now()
	startStep := t.step
	prog := report.NewProgress(t.log, t.totalSteps, t.step, t.opt.Terminal)
	t.prog = prog
	its := make([]item, 0, bs)
	curEpoch := -1
	for t.step < t.totalSteps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := t.step / t.stepsPerEpoch
		if e != curEpoch {
			t.epochOrder(e)
			curEpoch = e
		}
		stepLoss, gnorm, err := t.optimizerStep(its)
		if err != nil {
			return nil, err
		}
		if err := t.guard(stepLoss, gnorm); err != nil {
			return nil, err
		}
		t.step++
		t.acc.steps++
		t.acc.loss += stepLoss
		t.acc.gnorm += gnorm
		t.acc.lossSum += stepLoss
		t.acc.nSum++
		if c.SyncRefModel && t.step%c.RefModelSyncSteps == 0 {
			t.syncReference()
		}
		logged := t.step%t.every(c.LoggingSteps) == 0 || (c.LoggingFirstStep && t.step == 1) || t.step == t.totalSteps
		var logEntry *report.Entry
		if logged {
			if err := t.writeLog(); err != nil {
				return nil, err
			}
			logEntry = &t.history[len(t.history)-1]
		}
		prog.Step(t.step, stepLoss, logEntry)
		endOfEpoch := t.step%t.stepsPerEpoch == 0
		if len(t.eval) > 0 && ((c.EvalStrategy == "steps" && t.step%t.every(t.evalSteps()) == 0) || (c.EvalStrategy == "epoch" && endOfEpoch)) {
			if err := t.evaluate(); err != nil {
				return nil, err
			}
		}
		if (c.SaveStrategy == "steps" && t.step%t.every(c.SaveSteps) == 0 && t.step < t.totalSteps) ||
			(c.SaveStrategy == "epoch" && endOfEpoch && t.step < t.totalSteps) {
			if err := t.checkpoint(); err != nil {
				return nil, err
			}
		}
		if t.opt.AfterStep != nil {
			t.opt.AfterStep(t.step)
		}
	}
	prog.Finish()
	if t.tlog != nil {
		if err := t.tlog.Close(); err != nil {
			return nil, err
		}
	}
	el := time.Since(start).Seconds()
	sum := &Summary{GlobalStep: t.step, Epoch: float64(t.step) / float64(t.stepsPerEpoch), Runtime: el, Reference: t.refDesc}
	if t.acc.nSum > 0 {
		sum.TrainLoss = t.acc.lossSum / float64(t.acc.nSum)
	}
	if done := t.step - startStep; el > 0 && done > 0 {
		sum.StepsPerS = float64(done) / el
		sum.Samples = float64(done*bs*ga*t.world) / el
	}
	if err := t.finish(sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// optimizerStep runs optimizer step t.step+1 (its epoch order already drawn): its
// gradient_accumulation_steps micro-batches through the step, the gradient reduction,
// norm, clipping and update. It does not advance t.step. its is scratch.
func (t *trainer) optimizerStep(its []item) (stepLoss, gnorm float64, err error) {
	if t.w != nil {
		return t.distStep(its)
	}
	c := t.c
	bs, ga := c.PerDeviceTrainBatchSize, c.GradientAccumulationSteps
	m0 := (t.step % t.stepsPerEpoch) * ga
	m1 := min(m0+ga, t.microPerEpoch)
	// units of the step: pairs (or examples), or completion tokens for SFT
	units := 0.0
	for m := m0; m < m1; m++ {
		units += t.units(m, bs)
	}
	t.st.policy.ZeroGrad()
	if t.st.vh != nil {
		t.be.Zero(t.st.vh.Grad)
	}
	for m := m0; m < m1; m++ {
		its = its[:0]
		for _, k := range t.order[m*bs : min((m+1)*bs, len(t.order))] {
			its = append(its, t.train[k])
		}
		w := t.units(m, bs) / units
		res, err := t.st.micro(its, w, true)
		if err != nil {
			return 0, 0, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		if math.IsNaN(res.loss) || math.IsInf(res.loss, 0) {
			return 0, 0, fmt.Errorf("step %d: loss is %v (micro-batch %d, first example %s; %s): %w", t.step+1, res.loss, m-m0+1, its[0].where, t.nonFiniteSource(), ErrNonFinite)
		}
		stepLoss += w * res.loss
		t.acc.addMetrics(res.metrics, w)
	}
	for o := t.optim; o != nil; o = o.next {
		if err := t.reducer.AllReduceMean(o.grads); err != nil {
			return 0, 0, fmt.Errorf("step %d: reducing gradients: %w", t.step+1, err)
		}
	}
	gnorm, err = t.optim.gradNorm()
	if err != nil {
		return 0, 0, fmt.Errorf("step %d: %w: %w", t.step+1, ErrNonFinite, err)
	}
	t.optim.clip(gnorm, c.MaxGradNorm)
	if err := t.optim.update(c.LearningRate * t.sched.factor(t.step)); err != nil {
		return 0, 0, fmt.Errorf("step %d: %w", t.step+1, err)
	}
	return stepLoss, gnorm, nil
}

// units is the weight of micro-batch m in its optimizer step: its pair (or example)
// count, or its completion-token count for SFT.
func (t *trainer) units(m, bs int) float64 {
	idx := t.order[m*bs : min((m+1)*bs, len(t.order))]
	if t.st.kind != "sft" {
		return float64(len(idx))
	}
	n := 0
	for _, k := range idx {
		n += len(t.train[k].compl[0])
	}
	return float64(n)
}

// every resolves a logging/eval/save interval: a step count, or a fraction (< 1) of
// the total steps as transformers reads it.
func (t *trainer) every(x float64) int {
	if x < 1 {
		return max(1, int(math.Ceil(x*float64(t.totalSteps))))
	}
	return int(x)
}

func (t *trainer) evalSteps() float64 {
	if t.c.EvalSteps > 0 {
		return t.c.EvalSteps
	}
	return t.c.LoggingSteps
}

// writeLog appends the averaged interval to trainer_log.jsonl. learning_rate is the
// rate after the scheduler's step, as transformers logs it.
func (t *trainer) writeLog() error {
	a := &t.acc
	vals := map[string]float64{
		"loss":          a.loss / float64(a.steps),
		"grad_norm":     a.gnorm / float64(a.steps),
		"learning_rate": t.c.LearningRate * t.sched.factor(t.step),
	}
	for k, v := range a.metrics {
		vals[k] = v / a.weight[k]
	}
	if t.w != nil {
		vals["comm_fraction"] = t.commFraction()
	}
	e := report.Entry{Step: t.step, Epoch: float64(t.step) / float64(t.stepsPerEpoch), Values: vals}
	t.history = append(t.history, e)
	a.reset()
	return t.record(e)
}

// evaluate runs the eval set (no gradients, no dropout) and logs eval_ metrics,
// averaged over examples.
func (t *trainer) evaluate() error {
	if t.w != nil {
		return t.distEvaluate()
	}
	vals, err := t.evalMetrics()
	if err != nil {
		return err
	}
	e := report.Entry{Step: t.step, Epoch: float64(t.step) / float64(t.stepsPerEpoch), Values: vals}
	t.history = append(t.history, e)
	t.println(report.EvalLine(e))
	return t.record(e)
}
