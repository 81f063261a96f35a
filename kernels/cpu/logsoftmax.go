package cpu

import (
	"fmt"
	"math"

	"github.com/preftune/preftune/kernels"

	"github.com/preftune/preftune/kernels/cpu/vec"
)

func checkLabels(op string, labels []int32, n, v int) {
	needInt(op, "labels", labels, n)
	for i, l := range labels[:n] {
		if int(l) >= v {
			panic(fmt.Sprintf("cpu.%s: labels[%d] = %d ≥ vocab %d", op, i, l, v))
		}
	}
}

// LogSoftmaxGatherForward: logp[N] = log_softmax(logits[N,V])[labels[N]] (0 where label < 0), lse[N] saved; the non-nil fields of st [N] filled.
//
// Per row: m = max, s = Σ e^(x−m) (float64 sum), lse = m + log s,
// logp = x[label] − lse, entropy = lse − Σ softmax·x. lse is computed for
// ignored rows too.
func (be *Backend) LogSoftmaxGatherForward(logp, lse []float32, st kernels.LogitStats, logits []float32, labels []int32, n, v int) {
	entropy := st.Entropy
	const op = "LogSoftmaxGatherForward"
	need(op, "logp", logp, n)
	need(op, "lse", lse, n)
	need(op, "logits", logits, n*v)
	if entropy != nil {
		need(op, "entropy", entropy, n)
	}
	if st.MeanLogit != nil {
		need(op, "mean logit", st.MeanLogit, n)
	}
	if st.LogSumP2 != nil {
		need(op, "log sum p²", st.LogSumP2, n)
	}
	checkLabels(op, labels, n, v)
	l := &be.lp.lsmFwd
	*l = lsmFwd{logp: logp, lse: lse, entropy: entropy, meanLogit: st.MeanLogit, logSumP2: st.LogSumP2, logits: logits, labels: labels, v: v, vec: be.vec}
	be.pool.run(n, 1, l)
}

type lsmFwd struct {
	logp, lse, entropy, logits []float32
	meanLogit, logSumP2        []float32
	labels                     []int32
	v                          int
	vec                        bool
}

func (l *lsmFwd) chunk(_, lo, hi int) {
	v, entropy := l.v, l.entropy
	for i := lo; i < hi; i++ {
		x := l.logits[i*v : i*v+v]
		if l.vec {
			var ent, mean, lsp2 *float32
			if entropy != nil {
				ent = &entropy[i]
			}
			if l.meanLogit != nil {
				mean = &l.meanLogit[i]
			}
			if l.logSumP2 != nil {
				lsp2 = &l.logSumP2[i]
			}
			vec.LSMForward(x, l.labels[i], &l.lse[i], &l.logp[i], ent, mean, lsp2)
			continue
		}
		if l.meanLogit != nil || l.logSumP2 != nil {
			l.stats(i, x)
		}
		m := float32(math.Inf(-1))
		for _, z := range x {
			m = max(m, z)
		}
		var s, sx float64
		if entropy != nil {
			for _, z := range x {
				e := float64(expf(z - m))
				s += e
				sx += e * float64(z-m)
			}
		} else {
			for _, z := range x {
				s += float64(expf(z - m))
			}
		}
		lg := float64(m) + math.Log(s)
		l.lse[i] = float32(lg)
		if entropy != nil {
			// H = lse − E[x] = log s − E[x − m]
			entropy[i] = float32(math.Log(s) - sx/s)
		}
		if lab := l.labels[i]; lab >= 0 {
			l.logp[i] = float32(float64(x[lab]) - lg)
		} else {
			l.logp[i] = 0
		}
	}
}

// stats fills row i's mean logit and log Σ p² (float64): logsumexp(2x) − 2·lse with
// lse recomputed here, since the row's lse is written later in the same pass.
func (l *lsmFwd) stats(i int, x []float32) {
	m := math.Inf(-1)
	var sum float64
	for _, z := range x {
		m = math.Max(m, float64(z))
		sum += float64(z)
	}
	if l.meanLogit != nil {
		l.meanLogit[i] = float32(sum / float64(len(x)))
	}
	if l.logSumP2 != nil {
		var s1, s2 float64
		for _, z := range x {
			e := math.Exp(float64(z) - m)
			s1 += e
			s2 += e * e
		}
		// log Σ p² = log Σ e^{2(x−m)} − 2·log Σ e^{x−m}
		l.logSumP2[i] = float32(math.Log(s2) - 2*math.Log(s1))
	}
}

// LogSoftmaxGatherBackward: dlogits[N,V] WRITES dlogp[N]·(onehot(label) − softmax(logits)) (rows with label < 0 get 0); dlogits may alias logits.
func (be *Backend) LogSoftmaxGatherBackward(dlogits, dlogp, logits, lse []float32, labels []int32, n, v int) {
	const op = "LogSoftmaxGatherBackward"
	need(op, "dlogits", dlogits, n*v)
	need(op, "dlogp", dlogp, n)
	need(op, "logits", logits, n*v)
	need(op, "lse", lse, n)
	checkLabels(op, labels, n, v)
	l := &be.lp.lsmBwd
	*l = lsmBwd{dlogits: dlogits, dlogp: dlogp, logits: logits, lse: lse, labels: labels, v: v, vec: be.vec}
	be.pool.run(n, 1, l)
}

type lsmBwd struct {
	dlogits, dlogp, logits, lse []float32
	labels                      []int32
	v                           int
	vec                         bool
}

func (l *lsmBwd) chunk(_, lo, hi int) {
	v := l.v
	for i := lo; i < hi; i++ {
		x := l.logits[i*v : i*v+v]
		d := l.dlogits[i*v : i*v+v]
		lab := l.labels[i]
		if lab < 0 {
			clear(d)
			continue
		}
		g, lg := l.dlogp[i], l.lse[i]
		if l.vec {
			vec.LSMBackward(d, x, lab, g, lg)
			continue
		}
		for j, z := range x { // element j is read before it is written: aliasing is safe
			d[j] = -g * expf(z-lg)
		}
		d[lab] += g
	}
}
