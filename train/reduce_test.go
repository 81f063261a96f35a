package train

import (
	"context"
	"testing"

	"github.com/preftune/preftune/train/config"
)

// halvingReducer stands in for a two-worker all-reduce whose other worker sent zero
// gradients: the mean halves every gradient.
type halvingReducer struct{ calls int }

func (h *halvingReducer) AllReduceMean(g []float32) error {
	h.calls++
	for i := range g {
		g[i] *= 0.5
	}
	return nil
}

// The reducer sits between accumulation and the update: with SGD at learning rate 1,
// a reducer that halves the gradients must make the saved update exactly half of the
// PyTorch reference's −∇W (reference/train/gen_contract.py, the contract golden).
func TestGradReducerFeedsTheUpdate(t *testing.T) {
	dir := "testdata/contract"
	out := t.TempDir()
	yaml := contractYAML(dir, out)
	l, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	red := &halvingReducer{}
	if _, err := Run(context.Background(), l, Options{Log: testLog{t}, CacheDir: t.TempDir(), Reducer: red}); err != nil {
		t.Fatal(err)
	}
	if red.calls != 1 {
		t.Fatalf("reducer called %d times for one optimizer step, want 1", red.calls)
	}
	got := readTensors(t, out)
	want := readTensors(t, dir+"/expected.safetensors")
	init := readTensors(t, dir+"/policy")
	for name, w := range want {
		half := make([]float32, len(w)) // W − ½∇W
		for i := range w {
			half[i] = init[name][i] + 0.5*(w[i]-init[name][i])
		}
		if e := relErr(got[name], half, init[name]); e > 2e-3 {
			t.Errorf("%s: update is not half the reference's (relative error %.3g)", name, e)
		}
	}
}
