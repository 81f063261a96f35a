package cpu

import (
	"fmt"
	"math"

	"github.com/preftune/preftune/kernels"
)

// genState is the generation kernels' per-worker scratch and loop arguments.
type genState struct {
	scores [][]float64 // AttentionForwardCached: one query's scores [steps]
	probs  [][]float64 // SampleTokens: [V]
	order  [][]int32   // SampleTokens: [V]
	attn   attnCachedLoop
	sample sampleLoop
}

var (
	_ kernels.CachedAttention = (*Backend)(nil)
	_ kernels.TokenSampler    = (*Backend)(nil)
)

// AttentionForwardCached: out[T,B,NH,HD] = softmax(q·kᵀ/sqrt(HD))·v for the queries q[T,B,NH,HD] of cache steps t0…t0+T−1 against k,v[≥(t0+T)·B·NKV·HD] (step-major); query (i,b) sees steps j with start[b] ≤ j ≤ t0+i and, when window > 0, j > t0+i−window; a query that sees no step gets 0.
//
// One work item is one (query, head): its scores against the visible steps in float64
// (the dot products in float32), softmax, and the weighted sum of the values.
func (be *Backend) AttentionForwardCached(out, q, k, v []float32, start []int32, t0, t, b, nh, nkv, hd, window int) {
	const op = "AttentionForwardCached"
	if nkv <= 0 || nh%nkv != 0 {
		panic(fmt.Sprintf("cpu.%s: %d query heads not a multiple of %d kv heads", op, nh, nkv))
	}
	if t0 < 0 || t < 0 || window < 0 {
		panic(fmt.Sprintf("cpu.%s: negative t0 %d, t %d or window %d", op, t0, t, window))
	}
	need(op, "out", out, t*b*nh*hd)
	need(op, "q", q, t*b*nh*hd)
	need(op, "k", k, (t0+t)*b*nkv*hd)
	need(op, "v", v, (t0+t)*b*nkv*hd)
	needInt(op, "start", start, b)
	g := &be.gen
	if len(g.scores) != be.threads || len(g.scores[0]) < t0+t {
		g.scores = make([][]float64, be.threads)
		for w := range g.scores {
			g.scores[w] = make([]float64, 2*(t0+t))
		}
	}
	l := &g.attn
	*l = attnCachedLoop{out: out, q: q, k: k, v: v, start: start, scores: g.scores, t0: t0, b: b, nh: nh, nkv: nkv, hd: hd, window: window}
	be.pool.run(t*b*nh, 4, l)
}

type attnCachedLoop struct {
	out, q, k, v               []float32
	start                      []int32
	scores                     [][]float64
	t0, b, nh, nkv, hd, window int
}

func (l *attnCachedLoop) chunk(w, lo, hi int) {
	hd, nh, b := l.hd, l.nh, l.b
	kd := l.nkv * hd
	group := nh / l.nkv
	scale := 1 / math.Sqrt(float64(hd))
	for it := lo; it < hi; it++ {
		h := it % nh
		row := it / nh // = i·B + r
		r, i := row%b, row/b
		c := l.t0 + i // the query's own step
		j0 := int(l.start[r])
		if l.window > 0 {
			j0 = max(j0, c-l.window+1)
		}
		o := l.out[it*hd : it*hd+hd]
		clear(o)
		if j0 > c {
			continue
		}
		qv := l.q[it*hd : it*hd+hd]
		off := (h / group) * hd
		s := l.scores[w][:c+1]
		mx := math.Inf(-1)
		for j := j0; j <= c; j++ {
			kv := l.k[(j*b+r)*kd+off : (j*b+r)*kd+off+hd]
			var d float32
			for x, qx := range qv {
				d += qx * kv[x]
			}
			sc := float64(d) * scale
			s[j] = sc
			mx = max(mx, sc)
		}
		var sum float64
		for j := j0; j <= c; j++ {
			e := math.Exp(s[j] - mx)
			s[j] = e
			sum += e
		}
		inv := 1 / sum
		for j := j0; j <= c; j++ {
			p := float32(s[j] * inv)
			vv := l.v[(j*b+r)*kd+off : (j*b+r)*kd+off+hd]
			for x := range o {
				o[x] += p * vv[x]
			}
		}
	}
}

// SampleTokens: ids[B] WRITES SampleRow(logits[b·V:(b+1)·V], temperature, topP, u[b]) for every row b (u[b] ∈ [0,1) is row b's uniform draw; unread when temperature is 0).
func (be *Backend) SampleTokens(ids []int32, logits, u []float32, b, v int, temperature, topP float64) {
	const op = "SampleTokens"
	needInt(op, "ids", ids, b)
	need(op, "logits", logits, b*v)
	if temperature != 0 {
		need(op, "u", u, b)
	}
	g := &be.gen
	if temperature != 0 && (len(g.probs) != be.threads || len(g.probs[0]) < v) {
		g.probs, g.order = make([][]float64, be.threads), make([][]int32, be.threads)
		for w := range g.probs {
			g.probs[w], g.order[w] = make([]float64, v), make([]int32, v)
		}
	}
	l := &g.sample
	*l = sampleLoop{ids: ids, logits: logits, u: u, v: v, temp: temperature, topP: topP, probs: g.probs, order: g.order}
	be.pool.run(b, 1, l)
}

type sampleLoop struct {
	ids        []int32
	logits, u  []float32
	v          int
	temp, topP float64
	probs      [][]float64
	order      [][]int32
}

func (l *sampleLoop) chunk(w, lo, hi int) {
	for r := lo; r < hi; r++ {
		row := l.logits[r*l.v : (r+1)*l.v]
		if l.temp == 0 {
			l.ids[r] = kernels.Argmax(row)
			continue
		}
		l.ids[r] = kernels.SampleRow(row, l.temp, l.topP, float64(l.u[r]), l.probs[w], l.order[w])
	}
}
