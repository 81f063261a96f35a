package model

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/check"
	"github.com/preftune/preftune/kernels/cpu"
)

// plainBackend hides the optional interfaces of the backend it embeds, so the model
// takes its portable fallbacks (cached attention from core ops, host sampling).
type plainBackend struct{ kernels.Backend }

// loadOn loads a fixture model (with its adapter when adapter is true) on be.
func loadOn(t *testing.T, be kernels.Backend, name string, adapter bool, opts ...Options) *Model {
	t.Helper()
	dir := filepath.Join("testdata", name)
	var opt Options
	if len(opts) > 0 {
		opt = opts[0]
	}
	if adapter {
		lc, err := ReadAdapterConfig(filepath.Join(dir, "adapter"))
		if err != nil {
			t.Fatal(err)
		}
		opt.LoRA = lc
	}
	m, err := Load(dir, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	if adapter {
		if err := m.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(m.Close)
	return m
}

// mixedPrompts are prompts of different lengths (1 to 9 tokens) within every fixture's vocabulary.
var mixedPrompts = [][]int32{
	{3, 1, 4, 1, 5},
	{9},
	{2, 7, 1, 8, 2, 8, 1, 8, 2},
	{5, 17, 42},
	{11, 13},
	{6, 6, 6, 6, 6, 6, 6},
	{1, 2, 3, 4},
	{30, 20, 10, 0, 1, 2},
	{8, 1},
}

// logitsClose applies the cached-vs-recomputed tolerance: 1e-5 relative to the logits' scale
// (absolute near zero), the engine's log-prob tolerance; NaN fails.
func logitsClose(got, want []float32) (worst float64, ok bool) {
	scale := 1.0
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
		if math.IsNaN(float64(got[i])) || math.IsNaN(float64(want[i])) {
			return math.NaN(), false
		}
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return worst, worst <= 1e-5*scale
}

// TestGenerateBatchMatchesRecompute: every row of a batch of mixed prompt lengths
// (left-padded in one cache) gets, at every step, the logits Forward computes over
// that row's whole sequence alone, on every fixture, without and with an adapter
// (on, and off: the base model), with gate/up fused, through the cpu backend's cached
// attention and through the core-op fallback (both under the checking backend).
func TestGenerateBatchMatchesRecompute(t *testing.T) {
	backends := map[string]kernels.Backend{
		"cpu":      testBackend(),
		"fallback": plainBackend{check.Wrap(cpu.New(2))},
	}
	for _, bn := range []string{"cpu", "fallback"} {
		for _, name := range cases {
			for _, mode := range []string{"base", "adapter", "adapter-off", "fused", "fused+adapter"} {
				label := fmt.Sprintf("%s/%s/%s", bn, name, mode)
				t.Run(label, func(t *testing.T) {
					adapter := strings.Contains(mode, "adapter")
					m := loadOn(t, backends[bn], name, adapter, Options{FuseGateUp: strings.HasPrefix(mode, "fused")})
					opt := GenerateOptions{MaxNewTokens: 6, KeepLogits: true, NoAdapters: mode == "adapter-off"}
					gens, err := m.GenerateBatch(mixedPrompts, opt)
					if err != nil {
						t.Fatal(err)
					}
					want := make([]float32, m.Arch().Vocab)
					for r, g := range gens {
						seq := slices.Clone(mixedPrompts[r])
						for s, id := range g.IDs {
							if err := m.NextTokenLogits(seq, ForwardOptions{NoAdapters: opt.NoAdapters}, want); err != nil {
								t.Fatal(err)
							}
							if d, ok := logitsClose(g.Logits[s], want); !ok {
								t.Errorf("row %d step %d: max |cached − recomputed logit| = %.3g", r, s, d)
							}
							if a := Argmax(want); a != id {
								t.Fatalf("row %d step %d: batch picked %d, recomputation %d", r, s, id, a)
							}
							seq = append(seq, id)
						}
					}
				})
			}
		}
	}
}

// generateInBatches runs GenerateBatch over prompts in batches of size bs, each
// batch's FirstRow its offset, and returns the generations in order.
func generateInBatches(t *testing.T, m *Model, prompts [][]int32, opt GenerateOptions, bs int) []*Generation {
	t.Helper()
	var out []*Generation
	for i := 0; i < len(prompts); i += bs {
		o := opt
		o.FirstRow = i
		gs, err := m.GenerateBatch(prompts[i:min(i+bs, len(prompts))], o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gs...)
	}
	return out
}

// TestGenerateBatchIndependentOfBatch: greedy and sampled (temperature, top-p, one
// seed) generations of mixed-length prompts are the same tokens, stop flags and
// (within float tolerance) logits whether each row runs alone, in batches of 3, or in
// one batch of 9 — and each row alone equals Generate with that row's stream. A stop
// id ends its row only.
func TestGenerateBatchIndependentOfBatch(t *testing.T) {
	m := loadOn(t, testBackend(), "llama_gqa", true)
	greedy := generateInBatches(t, m, mixedPrompts, GenerateOptions{MaxNewTokens: 8}, 1)
	stop := greedy[0].IDs[2] // ends row 0 early, maybe others
	for _, o := range []GenerateOptions{
		{MaxNewTokens: 8},
		{MaxNewTokens: 8, Temperature: 1.3, Seed: 11},
		{MaxNewTokens: 8, Temperature: 0.8, TopP: 0.9, Seed: 5},
		{MaxNewTokens: 8, StopIDs: []int32{stop}},
	} {
		o.KeepLogits = true
		t.Run(fmt.Sprintf("T=%v,p=%v,stop=%v", o.Temperature, o.TopP, o.StopIDs), func(t *testing.T) {
			alone := generateInBatches(t, m, mixedPrompts, o, 1)
			for r := range mixedPrompts {
				oo := o
				oo.FirstRow = r
				g, err := m.Generate(mixedPrompts[r], oo, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(g.IDs, alone[r].IDs) {
					t.Fatalf("row %d: Generate %v, GenerateBatch of one %v", r, g.IDs, alone[r].IDs)
				}
			}
			for _, bs := range []int{3, 8, 9} {
				got := generateInBatches(t, m, mixedPrompts, o, bs)
				for r := range got {
					if !slices.Equal(got[r].IDs, alone[r].IDs) || got[r].Stopped != alone[r].Stopped {
						t.Errorf("batch size %d, row %d: %v stopped=%v; alone %v stopped=%v", bs, r, got[r].IDs, got[r].Stopped, alone[r].IDs, alone[r].Stopped)
						continue
					}
					for s := range got[r].Logits {
						if d, ok := logitsClose(got[r].Logits[s], alone[r].Logits[s]); !ok {
							t.Errorf("batch size %d, row %d, step %d: logits differ from the row alone by %.3g", bs, r, s, d)
						}
					}
				}
			}
			if o.StopIDs != nil {
				g := alone[0]
				k := slices.Index(greedy[0].IDs, stop)
				if !g.Stopped || !slices.Equal(g.IDs, greedy[0].IDs[:k+1]) {
					t.Errorf("row 0 with stop id %d: %v stopped=%v", stop, g.IDs, g.Stopped)
				}
			}
		})
	}
	// different rows of one seed draw from different streams
	o := GenerateOptions{MaxNewTokens: 8, Temperature: 1.5, Seed: 4}
	same := [][]int32{mixedPrompts[0], mixedPrompts[0], mixedPrompts[0], mixedPrompts[0]}
	gs, err := m.GenerateBatch(same, o)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for _, g := range gs[1:] {
		differs = differs || !slices.Equal(g.IDs, gs[0].IDs)
	}
	if !differs {
		t.Error("four rows with one prompt and one seed sampled the same tokens: rows share a stream")
	}
}

// TestGenerateBatchOnBackend: with the backend's kernels the decode loop samples on
// the backend (one SampleTokens per step) and runs cached attention (one call per
// layer and step), and the fallback backend gives the same tokens.
func TestGenerateBatchOnBackend(t *testing.T) {
	be := check.Wrap(cpu.New(2))
	m := loadOn(t, be, "qwen3_qknorm", false)
	fb := loadOn(t, plainBackend{check.Wrap(cpu.New(2))}, "qwen3_qknorm", false)
	o := GenerateOptions{MaxNewTokens: 5, Temperature: 0.9, TopP: 0.95, Seed: 3}
	chk := check.Of(be)
	chk.ResetCounts()
	gs, err := m.GenerateBatch(mixedPrompts[:4], o)
	if err != nil {
		t.Fatal(err)
	}
	c := chk.Counts()
	steps := 0
	for _, g := range gs {
		steps = max(steps, len(g.IDs))
	}
	if c["SampleTokens"] != steps {
		t.Errorf("SampleTokens called %d times for %d steps", c["SampleTokens"], steps)
	}
	// prefill + steps−1 decode steps, each through every layer
	if want := steps * m.Arch().Layers; c["AttentionForwardCached"] != want {
		t.Errorf("AttentionForwardCached called %d times, want %d", c["AttentionForwardCached"], want)
	}
	if c["AttentionForward"] != 0 {
		t.Errorf("the training attention ran %d times in cached decoding", c["AttentionForward"])
	}
	fgs, err := fb.GenerateBatch(mixedPrompts[:4], o)
	if err != nil {
		t.Fatal(err)
	}
	for r := range gs {
		if !slices.Equal(gs[r].IDs, fgs[r].IDs) {
			t.Errorf("row %d: backend kernels %v, fallbacks %v", r, gs[r].IDs, fgs[r].IDs)
		}
	}
}

// TestGenerateBatchErrors: a bad row is named; a cache is released.
func TestGenerateBatchErrors(t *testing.T) {
	be := check.Wrap(cpu.New(1))
	m := loadOn(t, be, "llama_gqa", false)
	live := check.Of(be).Live()
	V := int32(m.Arch().Vocab)
	for _, c := range []struct {
		prompts [][]int32
		want    string
	}{
		{[][]int32{{1}, {}}, "prompt 1: Generate needs a non-empty prompt"},
		{[][]int32{{1}, {2}, {3, V}}, "prompt 2: token 1 = "},
		{[][]int32{{1}, make([]int32, m.Arch().MaxPos)}, "prompt 1: prompt"},
	} {
		_, err := m.GenerateBatch(c.prompts, GenerateOptions{MaxNewTokens: 2})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.prompts, err, c.want)
		}
	}
	if _, err := m.GenerateBatch(mixedPrompts, GenerateOptions{MaxNewTokens: 3}); err != nil {
		t.Fatal(err)
	}
	if got := check.Of(be).Live(); got != live {
		t.Errorf("%d live buffers after GenerateBatch, %d before: the cache was not released", got, live)
	}
}
