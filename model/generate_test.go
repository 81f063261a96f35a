package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadForGenerate loads a fixture model, with its PEFT adapter when adapter is true.
func loadForGenerate(t *testing.T, name string, adapter bool) *Model {
	t.Helper()
	dir := filepath.Join("testdata", name)
	var opt Options
	if adapter {
		lc, err := ReadAdapterConfig(filepath.Join(dir, "adapter"))
		if err != nil {
			t.Fatal(err)
		}
		opt.LoRA = lc
	}
	m, err := Load(dir, kvBackend(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if adapter {
		if err := m.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// maxAbsDiff is max_i |a_i − b_i|.
func maxAbsDiff(a []float32, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

// TestGenerateGolden: greedy continuations equal PyTorch's (reference/demo/
// gen_generate_golden.py recomputes the whole sequence in float64 at every step), and
// so do the logits each token was picked from.
func TestGenerateGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "generate_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Steps int
		Cases []struct {
			Case      string
			Adapter   bool
			Prompt    []int32
			Generated []int32
			Logits    [][]float64
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		name := c.Case
		if c.Adapter {
			name += "+adapter"
		}
		t.Run(name, func(t *testing.T) {
			m := loadForGenerate(t, c.Case, c.Adapter)
			gen, err := m.Generate(c.Prompt, GenerateOptions{MaxNewTokens: g.Steps, KeepLogits: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gen.IDs, c.Generated) {
				t.Fatalf("greedy tokens %v, PyTorch %v", gen.IDs, c.Generated)
			}
			for s, want := range c.Logits {
				if d := maxAbsDiff(gen.Logits[s], want); d > 1e-4 {
					t.Errorf("step %d: max |logit − PyTorch| = %.3g", s, d)
				}
			}
		})
	}
}

// TestKVCacheMatchesRecompute: at every step of a generation, the logits from the KV
// cache equal those of Forward over the whole sequence (no cache) within 1e-5, so the
// argmax sequences are the same; with the adapters on and off, for every fixture
// (GQA, tied, biases, q/k norm, a sliding window shorter than the sequence, BF16).
func TestKVCacheMatchesRecompute(t *testing.T) {
	for _, name := range cases {
		for _, adapter := range []bool{false, true} {
			for _, noAdapters := range []bool{false, true} {
				if noAdapters && !adapter {
					continue
				}
				label := name
				if adapter {
					label += "+adapter"
				}
				if noAdapters {
					label += "(off)"
				}
				t.Run(label, func(t *testing.T) {
					m := loadForGenerate(t, name, adapter)
					prompt := []int32{3, 1, 4, 1, 5}
					opt := GenerateOptions{MaxNewTokens: 14, KeepLogits: true, NoAdapters: noAdapters}
					gen, err := m.Generate(prompt, opt, nil)
					if err != nil {
						t.Fatal(err)
					}
					want := make([]float32, m.Arch().Vocab)
					seq := slices.Clone(prompt)
					for s, id := range gen.IDs {
						if err := m.NextTokenLogits(seq, ForwardOptions{NoAdapters: noAdapters}, want); err != nil {
							t.Fatal(err)
						}
						// 1e-5 relative to the logits' scale (absolute near zero), the engine's
						// log-prob tolerance: the cached and recomputed paths sum in different orders.
						worst, scale := 0.0, 1.0
						for i := range want {
							worst = math.Max(worst, math.Abs(float64(gen.Logits[s][i]-want[i])))
							scale = math.Max(scale, math.Abs(float64(want[i])))
						}
						if worst > 1e-5*scale {
							t.Errorf("step %d: max |cached − recomputed logit| = %.3g (logit scale %.3g)", s, worst, scale)
						}
						if a := Argmax(want); a != id {
							t.Fatalf("step %d: cache picked %d, recomputation %d", s, id, a)
						}
						seq = append(seq, id)
					}
				})
			}
		}
	}
}

// TestKVCacheChunks: a prompt fed in pieces (prefill in chunks) gives the same cache
// and logits as one prefill.
func TestKVCacheChunks(t *testing.T) {
	m := loadForGenerate(t, "mistral_window", true)
	ids := []int32{9, 8, 7, 6, 5, 4, 3, 2, 1}
	V := m.Arch().Vocab
	one, pieces := make([]float32, V), make([]float32, V)
	c1 := m.NewKVCache(0)
	if err := m.Extend(c1, ids, ForwardOptions{}, one); err != nil {
		t.Fatal(err)
	}
	c2 := m.NewKVCache(0)
	for _, part := range [][]int32{ids[:2], ids[2:3], ids[3:7], ids[7:]} {
		if err := m.Extend(c2, part, ForwardOptions{}, pieces); err != nil {
			t.Fatal(err)
		}
	}
	if c1.Len() != len(ids) || c2.Len() != len(ids) {
		t.Fatalf("cache lengths %d, %d; want %d", c1.Len(), c2.Len(), len(ids))
	}
	for i := range one {
		if math.Abs(float64(one[i]-pieces[i])) > 1e-5 {
			t.Fatalf("logit %d: %g in one prefill, %g in pieces", i, one[i], pieces[i])
		}
	}
}

// TestGenerateSampling: a seed gives the same sample; temperature → 0 limits and
// top-p → 0 both give the greedy sequence; stop ids end generation.
func TestGenerateSampling(t *testing.T) {
	m := loadForGenerate(t, "llama_gqa", true)
	prompt := []int32{5, 17, 42, 9}
	greedy, err := m.Generate(prompt, GenerateOptions{MaxNewTokens: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sample := func(o GenerateOptions) []int32 {
		t.Helper()
		o.MaxNewTokens = 10
		g, err := m.Generate(prompt, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		return g.IDs
	}
	a := sample(GenerateOptions{Temperature: 1, Seed: 7})
	b := sample(GenerateOptions{Temperature: 1, Seed: 7})
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different samples: %v vs %v", a, b)
	}
	differs := false
	for s := uint64(0); s < 8 && !differs; s++ {
		differs = !slices.Equal(sample(GenerateOptions{Temperature: 1.5, Seed: s}), greedy.IDs)
	}
	if !differs {
		t.Error("temperature 1.5 sampling always reproduced the greedy sequence")
	}
	if got := sample(GenerateOptions{Temperature: 1, TopP: 1e-9, Seed: 3}); !slices.Equal(got, greedy.IDs) {
		t.Errorf("top-p ~0 gave %v, greedy %v", got, greedy.IDs)
	}
	if got := sample(GenerateOptions{Temperature: 1e-4, Seed: 3}); !slices.Equal(got, greedy.IDs) {
		t.Errorf("temperature 1e-4 gave %v, greedy %v", got, greedy.IDs)
	}
	stop := greedy.IDs[3]
	g, err := m.Generate(prompt, GenerateOptions{MaxNewTokens: 10, StopIDs: []int32{stop}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := slices.Index(greedy.IDs, stop)
	if !g.Stopped || !slices.Equal(g.IDs, greedy.IDs[:k+1]) {
		t.Errorf("stop id %d: got %v stopped=%v, want %v", stop, g.IDs, g.Stopped, greedy.IDs[:k+1])
	}
}

// TestSamplerTopP: the nucleus keeps the most likely tokens up to the mass; over many
// draws the frequencies follow the renormalized probabilities.
func TestSamplerTopP(t *testing.T) {
	// probabilities 0.5, 0.3, 0.15, 0.05
	p := []float64{0.05, 0.5, 0.15, 0.3}
	logits := make([]float32, len(p))
	for i, v := range p {
		logits[i] = float32(math.Log(v))
	}
	s := newSampler(GenerateOptions{Temperature: 1, TopP: 0.7, Seed: 1}, len(p))
	counts := make([]int, len(p))
	const n = 20000
	for i := 0; i < n; i++ {
		counts[s.pick(logits)]++
	}
	// nucleus {1, 3} (0.5 + 0.3 ≥ 0.7): 0.625 / 0.375
	if counts[0] != 0 || counts[2] != 0 {
		t.Errorf("tokens outside the nucleus drawn: %v", counts)
	}
	if f := float64(counts[1]) / n; math.Abs(f-0.625) > 0.015 {
		t.Errorf("token 1 frequency %.3f, want 0.625", f)
	}
	s = newSampler(GenerateOptions{Temperature: 2, Seed: 1}, len(p))
	clear(counts)
	for i := 0; i < n; i++ {
		counts[s.pick(logits)]++
	}
	// temperature 2: p_i ∝ sqrt(p_i)
	var z float64
	for _, v := range p {
		z += math.Sqrt(v)
	}
	for i, v := range p {
		if f := float64(counts[i]) / n; math.Abs(f-math.Sqrt(v)/z) > 0.015 {
			t.Errorf("T=2: token %d frequency %.3f, want %.3f", i, f, math.Sqrt(v)/z)
		}
	}
}

// TestGenerateErrors: bad options and ids are errors, not panics.
func TestGenerateErrors(t *testing.T) {
	m := loadForGenerate(t, "llama_gqa", false)
	V := int32(m.Arch().Vocab)
	for _, c := range []struct {
		name   string
		prompt []int32
		opt    GenerateOptions
		want   string
	}{
		{"empty prompt", nil, GenerateOptions{MaxNewTokens: 1}, "non-empty prompt"},
		{"no tokens", []int32{1}, GenerateOptions{}, "max new tokens"},
		{"negative temperature", []int32{1}, GenerateOptions{MaxNewTokens: 1, Temperature: -1}, "temperature"},
		{"NaN top-p", []int32{1}, GenerateOptions{MaxNewTokens: 1, TopP: math.NaN()}, "top-p"},
		{"id too large", []int32{1, V}, GenerateOptions{MaxNewTokens: 1}, "outside the vocabulary"},
		{"negative id", []int32{-1}, GenerateOptions{MaxNewTokens: 1}, "outside the vocabulary"},
		{"too long", []int32{1, 2}, GenerateOptions{MaxNewTokens: m.Arch().MaxPos}, "max_position_embeddings"},
	} {
		_, err := m.Generate(c.prompt, c.opt, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
	small := m.NewKVCache(3)
	if _, err := m.Generate([]int32{1, 2}, GenerateOptions{MaxNewTokens: 5}, small); err == nil {
		t.Error("a cache too small for the generation was accepted")
	}
	other := loadForGenerate(t, "qwen2_bias", false)
	if err := m.Extend(other.NewKVCache(0), []int32{1}, ForwardOptions{}, make([]float32, V)); err == nil {
		t.Error("a cache from another model was accepted")
	}
}
