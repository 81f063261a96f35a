package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/preflight"
	"github.com/preftune/preftune/train/config"
)

// preflight estimates the run's peak memory before the policy is loaded (mopt is the
// policy's options), prints the estimate and refuses a run that cannot fit.
func (t *trainer) preflight(mopt model.Options) error {
	est, err := t.memoryEstimate(mopt)
	if err != nil {
		return err
	}
	av, err := preflight.Host.Check(est, preflight.TrainHints)
	fmt.Fprintf(t.log, "memory: needs %s; %s\n", est, av)
	return err
}

// memoryEstimate is the run's peak by part: the policy (weights, adapters, gradients,
// activations of the largest micro-batch), the optimizer state, a separate reference
// model (freed before the optimizer state is allocated under precompute_ref_log_probs).
func (t *trainer) memoryEstimate(mopt model.Options) (preflight.Estimate, error) {
	c := t.c
	ck, err := model.Inspect(c.ModelNameOrPath)
	if err != nil {
		return preflight.Estimate{}, fmt.Errorf("model_name_or_path: %w", err)
	}
	pm, err := preflight.FromCheckpointAs(ck, mopt)
	if err != nil {
		return preflight.Estimate{}, fmt.Errorf("model_name_or_path: %w", err)
	}
	// the policy re-plans for evaluation batches when there are any; the reference is
	// planned for the larger of the two batch sizes (setupReference)
	refTokens := t.maxTokens(max(c.PerDeviceTrainBatchSize, c.PerDeviceEvalBatchSize))
	tokens := mopt.MaxTokens
	if len(t.eval) > 0 {
		tokens = max(tokens, refTokens)
	}
	// resident memory: the activations are touched only as far as the run's busiest
	// micro-batch reaches (the buffers are planned, and allocated, for the bound above)
	busy, busyRows := t.busiestMicroBatch()
	if busy > 0 {
		tokens, refTokens = min(tokens, busy), min(refTokens, busy)
	}
	use := preflight.Use{Tokens: tokens, LogitsBudget: mopt.LogitsBudget, Checkpoint: mopt.Checkpoint, LoRA: mopt.LoRA, LogitRows: busyRows}
	if c.DisableDropout && use.LoRA != nil && use.LoRA.Dropout > 0 {
		// the model plans LoRA dropout masks, but disable_dropout never writes them:
		// they are never resident
		l := *use.LoRA
		l.Dropout = 0
		use.LoRA = &l
	}
	pol, err := preflight.ForModel(pm, use)
	if err != nil {
		return preflight.Estimate{}, err
	}
	est := preflight.Estimate{Weights: pol.Weights, Adapters: pol.Adapters, Gradients: pol.Gradients,
		Activations: pol.Activations - pol.Unwritten, Other: pol.Tables + preflight.Runtime}
	trainable := pol.Trainable(pm, use)
	switch {
	case c.Optim == "sgd" && c.Momentum > 0, c.Optim == "rmsprop":
		est.Optimizer = 4 * trainable // SGD's momentum_buffer; RMSprop's square_avg
	case c.Optim != "sgd":
		est.Optimizer = 8 * trainable // AdamW: exp_avg, exp_avg_sq
	}
	if t.c.NeedsReference() && (c.RefModel != "" || !c.LoRA()) {
		dir, key := c.ModelNameOrPath, "model_name_or_path"
		if c.RefModel != "" {
			dir, key = c.RefModel, "ref_model"
		}
		rck := ck
		if dir != c.ModelNameOrPath {
			if rck, err = model.Inspect(dir); err != nil {
				return preflight.Estimate{}, fmt.Errorf("%s: %w", key, err)
			}
		}
		ruse := preflight.Use{Tokens: refTokens, LogitsBudget: mopt.LogitsBudget, Frozen: true, LogitRows: busyRows}
		if c.RefModel != "" && c.RefModelAdapters != "" {
			if ruse.LoRA, err = model.ReadAdapterConfig(c.RefModelAdapters); err != nil {
				return preflight.Estimate{}, fmt.Errorf("ref_model_adapters: %w", err)
			}
		}
		ropt := model.Options{Frozen: true, LoRA: ruse.LoRA}
		if !c.SyncRefModel {
			ropt.Storage, ropt.ComputeBF16 = frozenStorage(c), computeBF16(c)
		}
		rpm, err := preflight.FromCheckpointAs(rck, ropt)
		if err != nil {
			return preflight.Estimate{}, fmt.Errorf("%s: %w", key, err)
		}
		ref, err := preflight.ForModel(rpm, ruse)
		if err != nil {
			return preflight.Estimate{}, err
		}
		est.Reference = ref.Resident(true) // forward only: its backward scratch is never touched
		if c.PrecomputeRefLogProbs {
			est.Freed = min(est.Reference, est.Optimizer)
		}
	}
	return est, nil
}

// DryRun is `preftune train --dry-run`: the config, data and checkpoint headers are
// read and checked and the memory estimate is returned, without loading weights,
// locking or touching output_dir.
func DryRun(cfg *config.Loaded, opt Options) (preflight.Estimate, preflight.Available, error) {
	opt.Log = logOf(opt)
	t := &trainer{cfg: cfg, c: &cfg.Config, opt: opt, log: opt.Log}
	fail := func(err error) (preflight.Estimate, preflight.Available, error) {
		return preflight.Estimate{}, preflight.Available{}, &SetupError{err}
	}
	if err := t.checkSupported(); err != nil {
		return fail(err)
	}
	be, err := openBackend(opt.Backend, t.c.Threads)
	if err != nil {
		return preflight.Estimate{}, preflight.Available{}, err
	}
	defer be.Close()
	t.be = be
	c := t.c
	arch, err := model.ReadArch(c.ModelNameOrPath)
	if err != nil {
		return fail(fmt.Errorf("model_name_or_path: %w", err))
	}
	tok, err := tokenizerFor(c)
	if err != nil {
		return fail(err)
	}
	if t.train, err = loadItems(c.Dataset, c, tok, arch, t.log); err != nil {
		return fail(fmt.Errorf("dataset: %w", err))
	}
	if c.EvalDataset != "" {
		if t.eval, err = loadItems(c.EvalDataset, c, tok, arch, t.log); err != nil {
			return fail(fmt.Errorf("eval_dataset: %w", err))
		}
	}
	if c.EvalDataset == "" && c.ValSize > 0 && len(t.train) >= 2 {
		t.train, t.eval = splitVal(t.train, c.ValSize, c.Seed)
	}
	fmt.Fprintf(t.log, "data: %d training examples, %d evaluation examples\n", len(t.train), len(t.eval))
	if !t.opt.Plain {
		t.st.lay = defaultLayout(arch, t.be)
	}
	mopt := t.modelOptions(c.PerDeviceTrainBatchSize)
	if c.LoRA() {
		mopt.Storage, mopt.ComputeBF16 = frozenStorage(c), computeBF16(c) // as Run: the LoRA base is frozen
		mopt.LoRA = &model.LoRAConfig{R: c.LoRARank, Alpha: c.LoRAAlpha, Dropout: c.LoRADropout, Targets: c.LoRATarget}
		if c.AdapterNameOrPath != "" {
			if mopt.LoRA, err = model.ReadAdapterConfig(c.AdapterNameOrPath); err != nil {
				return fail(fmt.Errorf("adapter_name_or_path: %w", err))
			}
		}
	}
	est, err := t.memoryEstimate(mopt)
	if err != nil {
		return fail(err)
	}
	av, err := preflight.Host.Check(est, preflight.TrainHints)
	if err != nil {
		return est, av, &SetupError{err}
	}
	return est, av, nil
}

// exportPreflight refuses an export whose base model cannot be held in memory.
func exportPreflight(modelDir string, lc *model.LoRAConfig) error {
	ck, err := model.Inspect(modelDir)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	est, err := preflight.Inference(preflight.FromCheckpoint(ck, nil), preflight.Use{LoRA: lc}, 0)
	if err != nil {
		return fmt.Errorf("adapter: %w", err)
	}
	_, err = preflight.Host.Check(est, []string{"a machine with more memory"})
	return err
}

// maxEpochsScanned bounds the epochs busiestMicroBatch lays out (beyond, the plan's
// bound is used).
const maxEpochsScanned = 64

// busiestMicroBatch is the most tokens any micro-batch of the run will hold — the
// training micro-batches in each epoch's order and the evaluation batches — in the
// step's layout: what the activations actually touch (the model plans for bs times
// the largest item, an upper bound no batch may reach), and the most completion
// tokens (LM-head rows) one holds. 0 when it cannot be laid out cheaply (then the
// plan's bound is the estimate).
func (t *trainer) busiestMicroBatch() (tokens, rows int) {
	c := t.c
	lay := t.st.lay
	if !lay.Pack && !lay.SharePrompt {
		return 0, 0 // padded rows: the plan's bound is what a batch of the longest rows takes
	}
	bs := c.PerDeviceTrainBatchSize
	micro := (len(t.train) + bs - 1) / bs
	steps := max(1, (micro+c.GradientAccumulationSteps-1)/c.GradientAccumulationSteps)
	total := c.MaxSteps
	if total <= 0 {
		total = max(1, int(math.Ceil(c.NumTrainEpochs*float64(steps))))
	}
	epochs := (total + steps - 1) / steps
	if epochs > maxEpochsScanned {
		return 0, 0
	}
	kto := c.Kind() == "kto"
	longestCompl := 0
	for _, it := range append(slices.Clip(t.train), t.eval...) {
		for _, cp := range it.compl {
			longestCompl = max(longestCompl, len(cp))
		}
	}
	count := func(it item) (n, rows int) { // as maxTokens counts one item in a packed, shared-prompt layout
		compls := it.list
		switch {
		case compls != nil:
		case c.Kind() == "sft":
			compls = it.compl[:1]
		default:
			compls = it.compl[:]
		}
		for _, cp := range compls {
			l := len(cp)
			if kto {
				l = longestCompl
			}
			n += l
			rows += l
			if !lay.SharePrompt {
				n += len(it.prompt)
			}
		}
		if lay.SharePrompt {
			n += len(it.prompt)
		}
		return n, rows
	}
	saved := t.order
	defer func() { t.order = saved }()
	t.order = make([]int, len(t.train))
	batch := func(its func(yield func(item) bool)) {
		n, r := 0, 0
		for it := range its {
			a, b := count(it)
			n, r = n+a, r+b
		}
		tokens, rows = max(tokens, n), max(rows, r)
	}
	for e := 0; e < epochs; e++ {
		t.epochOrder(e)
		for m := 0; m < micro; m++ {
			batch(func(yield func(item) bool) {
				for _, k := range t.order[m*bs : min((m+1)*bs, len(t.order))] {
					if !yield(t.train[k]) {
						return
					}
				}
			})
		}
	}
	ebs := c.PerDeviceEvalBatchSize
	for s := 0; s < len(t.eval); s += ebs {
		batch(slices.Values(t.eval[s:min(s+ebs, len(t.eval))]))
	}
	return tokens, rows
}
