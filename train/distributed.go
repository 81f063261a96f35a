package train

// Data-parallel training over MPI (package dist), with the semantics of PyTorch DDP
// and its DistributedSampler:
//
//   - per_device_train_batch_size is per rank. Global micro-batch m is
//     order[m·B : (m+1)·B] of the one seeded epoch order, B = per-device × world, and
//     rank r takes its items r, r+N, r+2N, … (DistributedSampler's strided shard,
//     without padding). A step is gradient_accumulation_steps global micro-batches,
//     so N ranks train exactly as one process with an N-times larger per-device batch.
//   - Each rank weights its micro-batches by its units (pairs, or SFT completion
//     tokens) over the global units of the step (every rank holds the whole dataset,
//     so these counts need no communication), times N for the GradReducer's mean over
//     the ranks (dist.World.AllReduceMean, one all-reduce per optimizer step): the
//     step's loss is the mean over all pairs of the step, right for uneven shards.
//   - Before the gradient all-reduce, one small collective (gather) carries every
//     rank's status (ok, failed in setup, failed in training), its new metric names,
//     its loss and metric sums: all ranks stop at the same step, and only the lowest
//     failing rank prints its message (naming rank, step and tensor); the others
//     return a quiet error with the same exit status.
//   - Rank 0 alone takes the output_dir lock and writes logs, plots, progress,
//     checkpoints, the reference cache and the outputs; every collective in setup is a
//     gather, so a rank that fails anywhere in setup meets the others in the next one.
//   - LoRA dropout streams differ per rank (the stream's seed mixes in the rank;
//     rank 0's is the single-process one), and a checkpoint stores every rank's
//     position; a resume needs the same world size.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/preftune/preftune/dist"
	"github.com/preftune/preftune/report"
)

// agreedError is an error every rank of a data-parallel run has agreed on: the
// lowest failing rank carries the message, the others are quiet.
type agreedError struct {
	err   error // the reporting rank's error; nil on the quiet ranks
	rank  int   // the reporting rank
	setup bool  // a setup (input) error: exit 2 on every rank
}

func (e *agreedError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("stopped: rank %d reported the error", e.rank)
}

func (e *agreedError) Unwrap() error { return e.err }

// Quiet reports whether another rank prints this error (the CLI prints nothing).
func (e *agreedError) Quiet() bool { return e.err == nil }

// Agreed reports whether every rank of a data-parallel run returns err together (so
// each may finalize MPI and exit), as opposed to an error of this rank alone, after
// which the job must be aborted (MPI_Abort) lest the others wait for it.
func Agreed(err error) bool {
	var a *agreedError
	return errors.As(err, &a)
}

// status codes of the gather header
const (
	stOK       = 0
	stTraining = 1
	stSetup    = 2
)

// initDist reads the process group from the options.
func (t *trainer) initDist() {
	t.rank, t.world = 0, 1
	if w := t.opt.Dist; w != nil {
		t.w, t.rank, t.world = w, w.Rank, w.Size
		if t.opt.Reducer == nil {
			t.opt.Reducer = w // the mean over ranks: see distStep for the weights
		}
	}
}

// gather is the one collective that precedes every other: it sums (over ranks) fixed
// and the metric sums ms with their weights mw, after agreeing on err. Every rank
// learns whether any failed; then all return an agreedError (the lowest failing rank's
// message) and the payload is not exchanged. Metric names a rank has not seen before
// are broadcast first, so every rank sums the same vector. An already agreed err is
// returned as it is, without a collective (its rank met the others in the one that
// agreed on it). Without a process group, gather returns its input.
func (t *trainer) gather(err error, wait dist.Wait, fixed []float64, ms, mw map[string]float64) ([]float64, map[string]float64, map[string]float64, error) {
	if t.w == nil {
		return fixed, ms, mw, err
	}
	if Agreed(err) {
		return nil, nil, nil, err
	}
	N := t.world
	hdr := make([]int64, 2*N)
	if err != nil {
		hdr[t.rank] = stTraining
		var se *SetupError
		if t.inSetup || errors.As(err, &se) {
			hdr[t.rank] = stSetup
		}
	}
	var fresh []string
	for k := range ms {
		if !slices.Contains(t.metricKeys, k) {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) > 0 {
		hdr[N+t.rank] = 1
	}
	if e := t.w.SumI64(hdr, wait); e != nil {
		return nil, nil, nil, e
	}
	for q := 0; q < N; q++ {
		if hdr[q] != stOK {
			a := &agreedError{rank: q, setup: hdr[q] == stSetup}
			if q == t.rank {
				a.err = fmt.Errorf("rank %d of %d: %w", t.rank, N, err)
				if a.setup {
					a.err = &SetupError{a.err}
				}
			}
			return nil, nil, nil, a
		}
	}
	for q := 0; q < N; q++ {
		if hdr[N+q] == 0 {
			continue
		}
		var b []byte
		if q == t.rank {
			b = []byte(strings.Join(fresh, "\x00"))
		}
		got, e := t.w.Bcast(b, q, wait)
		if e != nil {
			return nil, nil, nil, e
		}
		for _, k := range strings.Split(string(got), "\x00") {
			if !slices.Contains(t.metricKeys, k) {
				t.metricKeys = append(t.metricKeys, k)
			}
		}
	}
	slices.Sort(t.metricKeys)
	keys := t.metricKeys
	body := make([]float64, len(fixed)+2*len(keys))
	copy(body, fixed)
	for i, k := range keys {
		body[len(fixed)+2*i] = ms[k]
		body[len(fixed)+2*i+1] = mw[k]
	}
	if e := t.w.SumF64(body, wait); e != nil {
		return nil, nil, nil, e
	}
	gms, gmw := map[string]float64{}, map[string]float64{}
	for i, k := range keys {
		if w := body[len(fixed)+2*i+1]; w > 0 {
			gms[k], gmw[k] = body[len(fixed)+2*i], w
		}
	}
	return body[:len(fixed)], gms, gmw, nil
}

// agree is gather without a payload: every rank learns whether any failed.
func (t *trainer) agree(err error, wait dist.Wait) error {
	_, _, _, err = t.gather(err, wait, nil, nil, nil)
	return err
}

// dropoutSeed is the seed of this rank's LoRA dropout stream: the run's seed on rank
// 0 (the single-process stream), mixed with the rank elsewhere.
func (t *trainer) dropoutSeed() uint64 {
	return uint64(t.c.Seed) + uint64(t.rank)*0x9E3779B97F4A7C15
}

// localUnits is the weight of a rank's share of a micro-batch: its pair (or example)
// count, or its completion-token count for SFT.
func (t *trainer) localUnits(its []item) float64 {
	if t.st.kind != "sft" {
		return float64(len(its))
	}
	n := 0
	for _, it := range its {
		n += len(it.compl[0])
	}
	return float64(n)
}

// distStep is optimizerStep of a data-parallel run (see the top of this file).
func (t *trainer) distStep(its []item) (stepLoss, gnorm float64, err error) {
	c := t.c
	bs, ga, N, r := c.PerDeviceTrainBatchSize, c.GradientAccumulationSteps, t.world, t.rank
	B := bs * N
	t0, comm0 := time.Now(), t.w.CommTime
	m0 := (t.step % t.stepsPerEpoch) * ga
	m1 := min(m0+ga, t.microPerEpoch)
	units := 0.0
	for m := m0; m < m1; m++ {
		units += t.units(m, B)
	}
	t.st.policy.ZeroGrad()
	if t.st.vh != nil {
		t.be.Zero(t.st.vh.Grad)
	}
	local := 0.0
	ms, mw := map[string]float64{}, map[string]float64{}
	var stepErr error
	for m := m0; m < m1; m++ {
		g := t.order[m*B : min((m+1)*B, len(t.order))]
		its = its[:0]
		for j := r; j < len(g); j += N {
			its = append(its, t.train[g[j]])
		}
		if len(its) == 0 {
			continue
		}
		w := t.localUnits(its) / units
		// ×N: the reducer takes the mean over the ranks, and the step's gradient is
		// the sum of the ranks' shares
		res, err := t.st.micro(its, w*float64(N), true)
		if err != nil {
			stepErr = fmt.Errorf("step %d: %w", t.step+1, err)
			break
		}
		if math.IsNaN(res.loss) || math.IsInf(res.loss, 0) {
			stepErr = fmt.Errorf("step %d: loss is %v (micro-batch %d, first example %s): %w", t.step+1, res.loss, m-m0+1, its[0].where, ErrNonFinite)
			break
		}
		local += w * res.loss
		for k, v := range res.metrics {
			ms[k] += w * v
			mw[k] += w
		}
	}
	if t.opt.poisonGrad != nil {
		t.opt.poisonGrad(t.rank, t.step+1, t.optim.grads)
	}
	if stepErr == nil {
		// this rank's own gradient, so that a NaN names its rank and tensor
		if _, err := t.optim.gradNorm(); err != nil {
			stepErr = fmt.Errorf("step %d: %w: %w", t.step+1, ErrNonFinite, err)
		}
	}
	scal, gms, gmw, err := t.gather(stepErr, dist.Step, []float64{local}, ms, mw)
	if err != nil {
		return 0, 0, err
	}
	stepLoss = scal[0]
	for k, v := range gms {
		t.acc.metrics[k] += v
		t.acc.weight[k] += gmw[k]
	}
	r0 := t.w.CommTime
	for o := t.optim; o != nil; o = o.next {
		if err := t.reducer.AllReduceMean(o.grads); err != nil {
			return 0, 0, fmt.Errorf("step %d: reducing gradients: %w", t.step+1, err)
		}
	}
	t.reduceTime += t.w.CommTime - r0
	// from here on every rank holds the same numbers: an error is the same everywhere
	gnorm, err = t.optim.gradNorm()
	if err != nil {
		return 0, 0, t.sameOnAll(fmt.Errorf("step %d: after the all-reduce: %w: %w", t.step+1, ErrNonFinite, err))
	}
	t.optim.clip(gnorm, c.MaxGradNorm)
	if err := t.optim.update(c.LearningRate * t.sched.factor(t.step)); err != nil {
		return 0, 0, t.sameOnAll(fmt.Errorf("step %d: %w", t.step+1, err))
	}
	t.commTime += t.w.CommTime - comm0
	t.stepTime += time.Since(t0)
	return stepLoss, gnorm, nil
}

// sameOnAll marks an error every rank meets identically (computed from the same
// reduced numbers): rank 0 reports it.
func (t *trainer) sameOnAll(err error) error {
	if t.rank == 0 {
		return &agreedError{err: err}
	}
	return &agreedError{rank: 0}
}

// distEvaluate is evaluate of a data-parallel run: eval batch b runs on rank b mod N,
// and the sums are gathered.
func (t *trainer) distEvaluate() error {
	bs := t.c.PerDeviceEvalBatchSize
	var lossSum, n float64
	ms, mw := map[string]float64{}, map[string]float64{}
	var evalErr error
	for s, b := 0, 0; s < len(t.eval); s, b = s+bs, b+1 {
		if b%t.world != t.rank {
			continue
		}
		its := t.eval[s:min(s+bs, len(t.eval))]
		res, err := t.st.micro(its, 0, false)
		if err != nil {
			evalErr = fmt.Errorf("evaluation at step %d: %w", t.step, err)
			break
		}
		w := float64(len(its))
		lossSum += w * res.loss
		n += w
		for k, v := range res.metrics {
			ms["eval_"+k] += w * v
			mw["eval_"+k] += w
		}
	}
	scal, gms, gmw, err := t.gather(evalErr, dist.Step, []float64{lossSum, n}, ms, mw)
	if err != nil {
		return err
	}
	vals := map[string]float64{"eval_loss": scal[0] / scal[1]}
	for k, v := range gms {
		vals[k] = v / gmw[k]
	}
	e := report.Entry{Step: t.step, Epoch: float64(t.step) / float64(t.stepsPerEpoch), Values: vals}
	t.history = append(t.history, e)
	if t.rank == 0 {
		t.println(report.EvalLine(e))
	}
	return t.record(e)
}

// appendLog appends a line to trainer_log.jsonl (rank 0 only).
func (t *trainer) appendLog(e report.Entry) error {
	if t.tlog == nil {
		return nil
	}
	return t.tlog.Append(e)
}

// createLog opens trainer_log.jsonl with history (rank 0 only).
func (t *trainer) createLog(path string, history []report.Entry) error {
	if t.rank != 0 {
		return nil
	}
	var err error
	t.tlog, err = report.CreateLog(path, history)
	return err
}

// checkpoint saves checkpoint-N: rank 0 writes it, with every rank's dropout stream
// position; every rank learns whether it succeeded.
func (t *trainer) checkpoint() error {
	if t.w == nil {
		return t.saveCheckpoint()
	}
	pos := make([]float64, t.world)
	pos[t.rank] = float64(t.st.policy.DropoutStream())
	scal, _, _, err := t.gather(nil, dist.Step, pos, nil, nil)
	if err != nil {
		return err
	}
	t.dropStreams = make([]uint64, t.world)
	for i, v := range scal {
		t.dropStreams[i] = uint64(v)
	}
	if t.rank == 0 {
		err = t.saveCheckpoint()
	}
	return t.agree(err, dist.IO)
}

// finish writes the final outputs (rank 0) and agrees on the result.
func (t *trainer) finish(sum *Summary) error {
	if t.w == nil {
		return t.writeOutputs(sum)
	}
	sum.WorldSize = t.world
	if t.stepTime > 0 {
		sum.CommFraction = t.commTime.Seconds() / t.stepTime.Seconds()
	}
	var err error
	if t.rank == 0 {
		var n int
		for o := t.optim; o != nil; o = o.next {
			n += len(o.grads)
		}
		fmt.Fprintf(t.log, "data parallel: %d ranks; gradient all-reduce of %d float32 (%.1f MB) per step; communication %.1f%% of step time (the all-reduce %.1f%%, the rest waiting for other ranks at the step's status exchange)\n",
			t.world, n, float64(4*n)/1e6, 100*sum.CommFraction, 100*t.reduceTime.Seconds()/max(1e-9, t.stepTime.Seconds()))
		err = t.writeOutputs(sum)
	}
	return t.agree(err, dist.IO)
}

// commFraction is the share of step time spent in collectives so far.
func (t *trainer) commFraction() float64 {
	if t.stepTime <= 0 {
		return 0
	}
	return t.commTime.Seconds() / t.stepTime.Seconds()
}

// worldIfParallel is the number of ranks of a data-parallel run, 0 for one process.
func (t *trainer) worldIfParallel() int {
	if t.w == nil {
		return 0
	}
	return t.world
}

// checkSameOnAllRanks compares a fingerprint of what each rank read — every token id
// of the training and evaluation data, the trainable parameter count, the config's
// seed and batch shape — across the ranks: a machine with another copy of the data
// or model would otherwise train a silently wrong model.
func (t *trainer) checkSameOnAllRanks() error {
	if t.w == nil {
		return nil
	}
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	ids := func(s []int32) {
		put(uint64(len(s)))
		for _, v := range s {
			put(uint64(uint32(v)))
		}
	}
	for _, set := range [][]item{t.train, t.eval} {
		put(uint64(len(set)))
		for _, it := range set {
			ids(it.prompt)
			ids(it.compl[0])
			ids(it.compl[1])
			for _, l := range it.list {
				ids(l)
			}
		}
	}
	params, _ := t.st.policy.TrainableBuffers()
	c := t.c
	for _, v := range []int{len(params), c.Seed, c.PerDeviceTrainBatchSize, c.GradientAccumulationSteps, c.MaxSteps} {
		put(uint64(v))
	}
	sum := h.Sum64()
	fp := make([]float64, 2*t.world) // two exact 32-bit halves per rank
	fp[2*t.rank], fp[2*t.rank+1] = float64(sum>>32), float64(sum&0xffffffff)
	got, _, _, err := t.gather(nil, dist.IO, fp, nil, nil)
	if err != nil {
		return err
	}
	for q := 0; q < t.world; q++ {
		if got[2*q] != got[0] || got[2*q+1] != got[1] {
			return fmt.Errorf("data parallel: rank %d read other data, model or settings than rank 0 (dataset, eval_dataset, model_name_or_path and the config must be the same files on every machine)", q)
		}
	}
	return nil
}

// FinishRank ends one rank of a data-parallel run after Run returned err and gives
// the rank's exit status: 0, 1 (internal) or 2 (bad input, a SetupError).
//
// An error of this rank alone is reported and the job aborted (MPI_Abort with that
// status; FinishRank does not return). An error every rank agreed on is reported by
// the rank that carries it (report is not called on the quiet ranks) before a
// barrier: no quiet rank can exit first, for mpirun, seeing a non-zero status, would
// kill the reporting rank before its message was out. Then every rank finalizes.
func FinishRank(w *dist.World, err error, report func(error)) (int, error) {
	if err == nil {
		return 0, w.Finalize()
	}
	code := 1
	var se *SetupError
	if errors.As(err, &se) {
		code = 2
	}
	var a *agreedError
	if !errors.As(err, &a) {
		report(fmt.Errorf("rank %d of %d: %w (aborting the job)", w.Rank, w.Size, err))
		w.Abort(code)
	}
	if !a.Quiet() {
		report(err)
	}
	w.Barrier(dist.Step)
	return code, w.Finalize()
}
