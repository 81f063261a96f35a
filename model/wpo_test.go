package model

import (
	"math"
	"path/filepath"
	"testing"
)

// TestLogSumP2 checks Output.LogSumP2 against log Σ_v p(v)² computed in float64 from
// FinalHidden and the LM-head weights, with the whole head and a chunked one.
func TestLogSumP2(t *testing.T) {
	for _, name := range []string{"qwen2_bias", "llama_gqa"} {
		g := loadGolden(t, name)
		for _, opt := range []Options{{}, {LogitsBudget: 3 * 300}} {
			m, err := Load(filepath.Join("testdata", name), testBackend(), opt)
			if err != nil {
				t.Fatal(err)
			}
			b := g.batch()
			out, err := m.Forward(b, ForwardOptions{Eval: true, LogSumP2: true})
			if err != nil {
				t.Fatal(err)
			}
			h, err := m.FinalHidden()
			if err != nil {
				t.Fatal(err)
			}
			C, V := m.arch.Hidden, m.arch.Vocab
			worst, k := 0.0, 0
			for i := range b.Labels {
				if b.Labels[i] < 0 {
					if out.LogSumP2[i] != 0 {
						t.Fatalf("%s: LogSumP2[%d] = %v at an ignored position", name, i, out.LogSumP2[i])
					}
					continue
				}
				logits := make([]float64, V)
				for v := 0; v < V; v++ {
					var s float64
					for c := 0; c < C; c++ {
						s += float64(h[k*C+c]) * float64(m.head[v*C+c])
					}
					logits[v] = s
				}
				k++
				mx := math.Inf(-1)
				for _, x := range logits {
					mx = math.Max(mx, x)
				}
				var z, z2 float64
				for _, x := range logits {
					z += math.Exp(x - mx)
					z2 += math.Exp(2 * (x - mx))
				}
				want := math.Log(z2) - 2*math.Log(z)
				worst = math.Max(worst, math.Abs(float64(out.LogSumP2[i])-want))
			}
			if worst > 1e-5 {
				t.Errorf("%s (budget %d): max |error| %.3g", name, opt.LogitsBudget, worst)
			}
			t.Logf("%s (budget %d): %d rows, max |error| %.3g", name, opt.LogitsBudget, k, worst)
		}
	}
}
