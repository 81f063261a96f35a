package cpu

import (
	"encoding/json"
	"os"
	"testing"
)

// Goldens written by ../testdata/gen.py with PyTorch 1.13.

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func TestAttentionGolden(t *testing.T) {
	var g struct {
		B, T, NH, NKV, HD int
		Seg               []int32
		Q, K, V, Dout     []float64
		Cases             []struct {
			Window               int
			Out, Lse, Dq, Dk, Dv []float64
		}
	}
	readJSON(t, "attention.json", &g)
	q, k, v, dout := f32(g.Q), f32(g.K), f32(g.V), f32(g.Dout)
	for _, be := range testBackends(t) {
		for _, c := range g.Cases {
			t.Run(be.Name(), func(t *testing.T) {
				out, lse := make([]float32, len(q)), make([]float32, g.B*g.NH*g.T)
				be.AttentionForward(out, lse, q, k, v, g.Seg, g.B, g.T, g.NH, g.NKV, g.HD, c.Window)
				checkClose(t, "out", out, c.Out, fwdTol)
				checkClose(t, "lse", lse, c.Lse, fwdTol)
				dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
				be.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, g.Seg, g.B, g.T, g.NH, g.NKV, g.HD, c.Window)
				checkClose(t, "dq", dq, c.Dq, 1e-5)
				checkClose(t, "dk", dk, c.Dk, 1e-5)
				checkClose(t, "dv", dv, c.Dv, 1e-5)
			})
		}
	}
}

func TestOptimizerGolden(t *testing.T) {
	var g struct {
		P0    []float64
		Grads [][]float64
		Adamw struct {
			LR, Beta1, Beta2, Eps float64
			WeightDecay           float64 `json:"weight_decay"`
			Params                [][]float64
			ExpAvg                []float64 `json:"exp_avg"`
			ExpAvgSq              []float64 `json:"exp_avg_sq"`
		}
		SGD struct {
			LR, Momentum float64
			WeightDecay  float64 `json:"weight_decay"`
			Params       [][]float64
		}
	}
	readJSON(t, "optim.json", &g)
	be := newGo(2)
	defer be.Close()
	n := len(g.P0)

	a := g.Adamw
	p, m, v := f32(g.P0), make([]float32, n), make([]float32, n)
	for s, gr := range g.Grads {
		be.AdamWStep(p, f32(gr), m, v, s+1, float32(a.LR), float32(a.Beta1), float32(a.Beta2), float32(a.Eps), float32(a.WeightDecay))
		checkClose(t, "AdamW params", p, a.Params[s], 2e-7)
	}
	checkClose(t, "AdamW exp_avg", m, a.ExpAvg, 2e-7)
	checkClose(t, "AdamW exp_avg_sq", v, a.ExpAvgSq, 2e-7)

	sg := g.SGD
	p, buf := f32(g.P0), make([]float32, n)
	for s, gr := range g.Grads {
		be.SGDStep(p, f32(gr), buf, s+1, float32(sg.LR), float32(sg.Momentum), float32(sg.WeightDecay))
		checkClose(t, "SGD params", p, sg.Params[s], 2e-7)
	}
}
