package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// Equality tolerance of every fast path against the plain path: log-probs within
// 1e-5 (relative above |1|), gradients within 1e-5 of the largest gradient magnitude.
const eqTol = 1e-5

// randPairs draws n pairs with prompt and completion lengths in the given ranges.
func randPairs(r *rand.Rand, n, vocab int) []Pair {
	ids := func(lo, hi int) []int32 {
		out := make([]int32, lo+r.IntN(hi-lo+1))
		for i := range out {
			out[i] = int32(r.IntN(vocab))
		}
		return out
	}
	ps := make([]Pair, n)
	for i := range ps {
		ps[i] = Pair{Prompt: ids(1, 9), Chosen: ids(1, 7), Rejected: ids(1, 8)}
	}
	return ps
}

// plainStep runs TRL's concatenated layout (BuildBatch, per-token Backward) and
// returns the per-sequence log-probs, per-token log-probs by sequence, and a copy of
// the trainable gradients for d(loss)/d(seq logp) = dseq.
func plainStep(t *testing.T, m *Model, pairs []Pair, dseq []float32, fo ForwardOptions) ([]float64, [][]float32, []float32) {
	t.Helper()
	var seqs []Sequence
	for _, p := range pairs {
		seqs = append(seqs, Sequence{Prompt: p.Prompt, Completion: p.Chosen})
	}
	for _, p := range pairs {
		seqs = append(seqs, Sequence{Prompt: p.Prompt, Completion: p.Rejected})
	}
	b, err := paddedBatch(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(b, fo)
	if err != nil {
		t.Fatal(err)
	}
	sums := make([]float64, b.B)
	toks := make([][]float32, b.B)
	d := make([]float32, b.B*b.T)
	for i, l := range b.Labels {
		if l >= 0 {
			sums[i/b.T] += float64(out.LogProbs[i])
			toks[i/b.T] = append(toks[i/b.T], out.LogProbs[i])
			d[i] = dseq[i/b.T]
		}
	}
	if fo.NoAdapters {
		return sums, toks, nil
	}
	m.ZeroGrad()
	if err := m.Backward(d); err != nil {
		t.Fatal(err)
	}
	_, g := m.TrainableBuffers()
	return sums, toks, slices.Clone(g)
}

func layoutStep(t *testing.T, m *Model, pairs []Pair, lay Layout, dseq []float32, fo ForwardOptions) ([]float64, [][]float32, []float32) {
	t.Helper()
	b, err := pairBatch(pairs, lay)
	if err != nil {
		t.Fatal(err)
	}
	if b.NumSeqs() != 2*len(pairs) {
		t.Fatalf("NumSeqs %d, want %d", b.NumSeqs(), 2*len(pairs))
	}
	out, err := m.Forward(b, fo)
	if err != nil {
		t.Fatal(err)
	}
	sums := make([]float64, len(out.SeqLogProbs))
	toks := make([][]float32, len(sums))
	for k, tg := range b.Targets {
		toks[tg.Seq] = append(toks[tg.Seq], out.TargetLogProbs[k])
	}
	for s, v := range out.SeqLogProbs {
		sums[s] = float64(v)
	}
	if fo.NoAdapters {
		return sums, toks, nil
	}
	m.ZeroGrad()
	if err := m.BackwardSeq(dseq); err != nil {
		t.Fatal(err)
	}
	_, g := m.TrainableBuffers()
	return sums, toks, slices.Clone(g)
}

func checkEqual(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > eqTol*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s[%d] = %.8g, plain path %.8g", what, i, got[i], want[i])
		}
	}
}

func checkGradsEqual(t *testing.T, got, want []float32) {
	t.Helper()
	var scale, worst float64
	for i := range want {
		scale = max(scale, math.Abs(float64(want[i])))
		worst = max(worst, math.Abs(float64(got[i]-want[i])))
	}
	if worst > eqTol*scale {
		t.Errorf("gradients: max |Δ| %.3g > %.0e · max|g| %.3g", worst, eqTol, scale)
	}
}

// Every Layout (shared prompt, packing, both, packing into short rows) gives the
// plain path's log-probs (per token and per sequence) and gradients, for full
// fine-tuning, LoRA, the LoRA reference (adapters off) and gradient checkpointing.
func TestPairLayoutsEqualPlain(t *testing.T) {
	layouts := []Layout{
		{},
		{SharePrompt: true},
		{Pack: true},
		{SharePrompt: true, Pack: true},
		{Pack: true, RowTokens: 24},
		{SharePrompt: true, Pack: true, RowTokens: 30},
	}
	for _, name := range []string{"llama_gqa", "qwen2_bias", "qwen3_qknorm", "llama_tied_rope3", "mistral_window"} {
		dir := filepath.Join("testdata", name)
		arch, err := ReadArch(dir)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(5, uint64(len(name))))
		pairs := randPairs(r, 5, arch.Vocab)
		dseq := make([]float32, 2*len(pairs))
		for i := range dseq {
			dseq[i] = float32(r.NormFloat64())
		}
		type mode struct {
			name string
			opt  Options
			lora bool
			fo   ForwardOptions
		}
		modes := []mode{
			{"full", Options{}, false, ForwardOptions{Eval: true}},
			{"full+checkpoint", Options{Checkpoint: true}, false, ForwardOptions{Eval: true}},
			{"full+chunked-head", Options{LogitsBudget: 3 * arch.Vocab, FuseGateUp: true}, false, ForwardOptions{Eval: true}},
			{"lora+fused", Options{FuseGateUp: true}, true, ForwardOptions{Eval: true}},
			{"lora", Options{}, true, ForwardOptions{Eval: true}},
			{"lora-reference", Options{}, true, ForwardOptions{Eval: true, NoAdapters: true}},
		}
		for _, md := range modes {
			var m *Model
			if md.lora {
				m = loadLoRA(t, dir, md.opt)
			} else if m, err = Load(dir, testBackend(), md.opt); err != nil {
				t.Fatal(err)
			}
			wantSum, wantTok, wantG := plainStep(t, m, pairs, dseq, md.fo)
			for _, lay := range layouts {
				t.Run(fmt.Sprintf("%s/%s/%+v", name, md.name, lay), func(t *testing.T) {
					if lay.SharePrompt && len(arch.Windows) > 0 {
						if _, err := m.Forward(mustPairBatch(t, pairs, lay), md.fo); err == nil {
							t.Fatal("shared prompt with sliding windows: want an error")
						}
						return
					}
					sum, tok, g := layoutStep(t, m, pairs, lay, dseq, md.fo)
					checkEqual(t, "seq logp", sum, wantSum)
					for s := range wantTok {
						if len(tok[s]) != len(wantTok[s]) {
							t.Fatalf("sequence %d: %d target log-probs, plain path %d", s, len(tok[s]), len(wantTok[s]))
						}
						checkEqual(t, fmt.Sprintf("seq %d token logp", s), to64(tok[s]), to64(wantTok[s]))
					}
					if g != nil {
						checkGradsEqual(t, g, wantG)
					}
				})
			}
		}
	}
}

func mustPairBatch(t *testing.T, pairs []Pair, lay Layout) *Batch {
	b, err := pairBatch(pairs, lay)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// The shared layout stores each prompt once and has no padding when packed.
func TestBuildPairBatchLayout(t *testing.T) {
	pairs := []Pair{
		{Prompt: []int32{1, 2, 3}, Chosen: []int32{4, 5}, Rejected: []int32{6}},
		{Prompt: []int32{7}, Chosen: []int32{8}, Rejected: []int32{9, 10, 11}},
	}
	b, err := pairBatch(pairs, Layout{SharePrompt: true, Pack: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.B != 1 || b.T != 11 {
		t.Fatalf("shape %d×%d, want 1×11", b.B, b.T)
	}
	wantIDs := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	wantPos := []int32{0, 1, 2, 3, 4, 3, 0, 1, 1, 2, 3}
	wantSeg := []int32{0, 0, 0, 1, 1, 2, 3, 4, 5, 5, 5}
	wantPar := []int32{-1, -1, -1, 0, 0, 0, -1, 3, 3, 3, 3}
	if !slices.Equal(b.IDs, wantIDs) || !slices.Equal(b.Positions, wantPos) || !slices.Equal(b.Segments, wantSeg) || !slices.Equal(b.Parents, wantPar) {
		t.Errorf("got ids %v pos %v seg %v par %v", b.IDs, b.Positions, b.Segments, b.Parents)
	}
	// chosen 0: 4 from pos 2, 5 from pos 3; rejected 0: 6 from pos 2 (the prompt's last
	// token twice); chosen 1: 8 from 6; rejected 1: 9 from 6, 10 from 8, 11 from 9
	want := []Target{{2, 4, 0}, {3, 5, 0}, {2, 6, 2}, {6, 8, 1}, {6, 9, 3}, {8, 10, 3}, {9, 11, 3}}
	if !slices.Equal(b.Targets, want) {
		t.Errorf("targets %v, want %v", b.Targets, want)
	}
}

// GroupByLength is a permutation whose mega-batches are sorted by decreasing length.
func TestGroupByLength(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pairs := randPairs(r, 37, 50)
	order := GroupByLength(pairs, 2, 3)
	seen := slices.Clone(order)
	slices.Sort(seen)
	for i, v := range seen {
		if v != i {
			t.Fatalf("not a permutation: %v", order)
		}
	}
	length := func(i int) int { return len(pairs[i].Prompt) + max(len(pairs[i].Chosen), len(pairs[i].Rejected)) }
	for s := 0; s < len(order); s += 6 {
		chunk := order[s:min(s+6, len(order))]
		for i := 1; i < len(chunk); i++ {
			if length(chunk[i]) > length(chunk[i-1]) {
				t.Errorf("mega-batch at %d not sorted: %v", s, chunk)
			}
		}
	}
}
