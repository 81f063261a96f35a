package train

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/model"
)

// TestDivergenceGuards: the divergent run (AdamW at learning rate 1e3, every
// value finite) stops with ErrDiverged under the default stop_on_loss_spike and writes
// no final model; stop_on_grad_norm stops at its step; with both off the same run
// finishes (the guard is what stopped it).
func TestDivergenceGuards(t *testing.T) {
	dir := t.TempDir()
	modelDir, dataPath := fixture(t, dir, 24)
	base := func(out string) string {
		return fmt.Sprintf("model_name_or_path: %s\ndataset: %s\noutput_dir: %s\nlearning_rate: 1e3\nlr_scheduler_type: constant\nper_device_train_batch_size: 2\nmax_steps: 12\nsave_steps: 4\nbeta: 1\n",
			modelDir, dataPath, out)
	}
	tests := []struct {
		name      string
		overrides []string
		want      error
		contains  []string
	}{
		{"loss spike (default)", nil, ErrDiverged, []string{"stop_on_loss_spike 1000", "mean |loss|", "lower learning_rate"}},
		{"grad norm", []string{"--stop_on_grad_norm", "1e-9", "--stop_on_loss_spike", "0"}, ErrDiverged, []string{"step 1:", "stop_on_grad_norm 1e-09"}},
		{"guards off", []string{"--stop_on_loss_spike", "0"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			_, err := runConfig(t, base(out), tc.overrides...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("run with the guards off: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			for _, f := range []string{"model.safetensors", "train_results.json"} {
				if _, err := os.Stat(filepath.Join(out, f)); err == nil {
					t.Errorf("the diverged run wrote its final %s", f)
				}
			}
		})
	}
}

// TestFirstNonFinite names the first tensor and index holding a NaN or ±Inf, in
// parameters or gradients; finite tensors give nil.
func TestFirstNonFinite(t *testing.T) {
	mk := func() []model.Tensor {
		return []model.Tensor{
			{Name: "a", Data: []float32{1, 2, 3}, Grad: []float32{0, 0, 0}},
			{Name: "b", Data: []float32{4, 5, 6, 7}, Grad: []float32{1, 1, 1, 1}},
		}
	}
	for _, tc := range []struct {
		name string
		edit func(ts []model.Tensor)
		grad bool
		want string
	}{
		{"finite", func([]model.Tensor) {}, false, ""},
		{"NaN parameter", func(ts []model.Tensor) { ts[1].Data[2] = float32(math.NaN()) }, false, "parameter b holds NaN at index 2"},
		{"Inf before NaN", func(ts []model.Tensor) { ts[0].Data[1] = float32(math.Inf(-1)); ts[1].Data[0] = float32(math.NaN()) }, false, "parameter a holds -Inf at index 1"},
		{"gradient", func(ts []model.Tensor) { ts[1].Grad[3] = float32(math.Inf(1)) }, true, "gradient of b holds +Inf at index 3"},
		{"a bad parameter is not a bad gradient", func(ts []model.Tensor) { ts[1].Data[3] = float32(math.NaN()) }, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := mk()
			tc.edit(ts)
			err := firstNonFinite(ts, tc.grad)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
