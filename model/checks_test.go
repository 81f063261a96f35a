package model

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
)

// recorder is an errorer that counts failures.
type recorder struct{ fails []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.fails = append(r.fails, fmt.Sprintf(format, args...))
}

// The golden checks must fail on NaN: a NaN log-prob or gradient (where every
// comparison is false) is an error, not a pass.
func TestGoldenChecksFailOnNaN(t *testing.T) {
	g := loadGolden(t, "qwen2_bias")
	T := len(g.Full.Logps[0])
	good := make([]float32, len(g.Full.Logps)*T)
	for r, row := range g.Full.Logps {
		for c, w := range row {
			good[r*T+c] = float32(w)
		}
	}
	var ok recorder
	checkLogps(&ok, "exact", good, g.Full.Logps)
	if len(ok.fails) != 0 {
		t.Fatalf("exact log-probs fail the check: %v", ok.fails)
	}
	for _, at := range []int{0, len(good) / 2} {
		bad := append([]float32(nil), good...)
		bad[at] = float32(math.NaN())
		var r recorder
		checkLogps(&r, "nan", bad, g.Full.Logps)
		if len(r.fails) == 0 {
			t.Errorf("a NaN log-prob at %d passes checkLogps", at)
		}
	}
	// gradients: a model whose gradient buffers hold NaN
	dir := filepath.Join("testdata", "qwen2_bias")
	m, err := Load(dir, testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range m.Trainable() {
		for i := range ts.Grad {
			ts.Grad[i] = float32(math.NaN())
		}
	}
	var r recorder
	checkGrads(&r, "nan", filepath.Join(dir, "grads_full.safetensors"), m.Trainable())
	if len(r.fails) == 0 {
		t.Error("all-NaN gradients pass checkGrads")
	}
}
