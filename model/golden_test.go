package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/kernels/check"
	"github.com/preftune/preftune/kernels/cpu"
)

// The goldens in testdata/ come from reference/model/gen_fixtures.py (PyTorch, float64).

// Tolerances (the task's contract): log-probs within 1e-5 relative, or 1e-5 absolute
// below |1|; gradients within 1e-4 of the tensor's largest golden magnitude
// (max|g−g_ref| / max|g_ref|), and element-wise within 1e-3 relative plus an absolute
// floor of 1e-5·max|g_ref|.
const (
	logpTol     = 1e-5
	gradTensor  = 1e-4
	gradElemRel = 1e-3
	gradElemAbs = 1e-5
)

var cases = []string{"llama_gqa", "llama_tied_rope3", "qwen2_bias", "qwen3_qknorm", "mistral_window", "llama_bf16"}

type goldenRun struct {
	Logps    [][]float64 `json:"logps"`
	SeqLogps []float64   `json:"seq_logps"`
	Loss     float64     `json:"loss"`
	Dlogps   [][]float64 `json:"dlogps"`
	// full fine-tuning only
	Entropy   [][]float64 `json:"entropy"`
	MeanLogit [][]float64 `json:"mean_logit"`
}

type golden struct {
	Case      string    `json:"case"`
	NPairs    int       `json:"n_pairs"`
	IDs       [][]int32 `json:"ids"`
	Labels    [][]int32 `json:"labels"`
	Positions [][]int32 `json:"positions"`
	Segments  [][]int32 `json:"segments"`
	Full      goldenRun `json:"full"`
	LoRA      struct {
		goldenRun
		R       int     `json:"r"`
		Alpha   float64 `json:"alpha"`
		RSLoRA  bool    `json:"rslora"`
		Targets string  `json:"targets"`
		Scale   float64 `json:"scale"`
	} `json:"lora"`
}

func loadGolden(t testing.TB, name string) *golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &g
}

func (g *golden) batch() *Batch {
	B, T := len(g.IDs), len(g.IDs[0])
	b := &Batch{B: B, T: T}
	for r := 0; r < B; r++ {
		b.IDs = append(b.IDs, g.IDs[r]...)
		b.Labels = append(b.Labels, g.Labels[r]...)
		b.Positions = append(b.Positions, g.Positions[r]...)
		b.Segments = append(b.Segments, g.Segments[r]...)
	}
	return b
}

func flat(rows [][]float64) []float32 {
	var out []float32
	for _, r := range rows {
		for _, v := range r {
			out = append(out, float32(v))
		}
	}
	return out
}

var (
	beOnce sync.Once
	beTest kernels.Backend
)

// kvBackend is the backend of the KV-cache generation tests: the checking backend,
// as for every model test (the cache and its scratch live in backend buffers).
func kvBackend() kernels.Backend { return testBackend() }

func testBackend() kernels.Backend {
	// the checking backend: any buffer the model did not get from Alloc fails the test
	beOnce.Do(func() { beTest = check.Wrap(cpu.New(2)) })
	return beTest
}

// checkLogps compares per-token values (log-probs, entropies, mean logits) within
// logpTol relative, or absolute below |1|; returns the worst error.
// errorer is the part of *testing.T the golden checks use, so a test can run a check
// against a recorder and see it fail (checks_test.go).
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

func checkLogps(t errorer, what string, got []float32, want [][]float64) float64 {
	t.Helper()
	T := len(want[0])
	worst := 0.0
	for r, row := range want {
		for c, w := range row {
			g := float64(got[r*T+c])
			e := math.Abs(g-w) / math.Max(math.Abs(w), 1)
			worst = math.Max(worst, e)
			if !(e <= logpTol) {
				t.Errorf("%s: logp[%d,%d] = %.8g, want %.8g (rel err %.3g)", what, r, c, g, w, e)
			}
		}
	}
	return worst
}

// checkGrads compares every tensor against the golden file; returns the worst
// per-tensor relative error.
func checkGrads(t errorer, what, path string, ts []Tensor) float64 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return math.NaN()
	}
	defer f.Close()
	if n := len(f.Tensors()); n != len(ts) {
		t.Errorf("%s: golden has %d gradient tensors, model has %d trainable", what, n, len(ts))
	}
	worst := 0.0
	for _, ten := range ts {
		want := make([]float32, len(ten.Grad))
		if err := f.ReadFloat32(ten.Name, want); err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		var maxRef, maxDiff float64
		for i := range want {
			maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
			maxDiff = math.Max(maxDiff, math.Abs(float64(ten.Grad[i]-want[i])))
		}
		if maxRef == 0 {
			t.Errorf("%s: %s: golden gradient is all zero (uninformative fixture)", what, ten.Name)
			continue
		}
		rel := maxDiff / maxRef
		worst = math.Max(worst, rel)
		if !(rel <= gradTensor) {
			t.Errorf("%s: %s: max|g-ref|/max|ref| = %.3g > %g", what, ten.Name, rel, gradTensor)
		}
		bad := 0
		for i := range want {
			w, g := float64(want[i]), float64(ten.Grad[i])
			if !(math.Abs(g-w) <= gradElemRel*math.Abs(w)+gradElemAbs*maxRef) {
				if bad < 3 {
					t.Errorf("%s: %s[%d] = %.8g, want %.8g", what, ten.Name, i, g, w)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %s: %d of %d elements outside tolerance", what, ten.Name, bad, len(want))
		}
	}
	return worst
}

func TestGoldenFullFineTune(t *testing.T) {
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			dir := filepath.Join("testdata", name)
			// the whole LM head at once, and in chunks of 3 rows recomputed in backward
			for _, v := range []struct {
				name string
				opt  Options
			}{
				{"whole head", Options{}},
				{"chunked head", Options{LogitsBudget: 3 * 300}}, // ≤ 3 rows for every fixture vocabulary
				{"checkpointed", Options{Checkpoint: true}},
			} {
				chunked, opt := v.opt.LogitsBudget > 0, v.opt
				m, err := Load(dir, testBackend(), opt)
				if err != nil {
					t.Fatal(err)
				}
				out, err := m.Forward(g.batch(), ForwardOptions{Eval: true, Entropy: true, MeanLogit: true})
				if err != nil {
					t.Fatal(err)
				}
				checkLogps(t, "entropy", out.Entropy, g.Full.Entropy)
				checkLogps(t, "mean logit", out.MeanLogit, g.Full.MeanLogit)
				if m.last.logitsKept == chunked {
					t.Errorf("chunked=%v but logitsKept=%v", chunked, m.last.logitsKept)
				}
				le := checkLogps(t, "full", out.LogProbs, g.Full.Logps)
				m.ZeroGrad()
				if err := m.Backward(flat(g.Full.Dlogps)); err != nil {
					t.Fatal(err)
				}
				ge := checkGrads(t, "full", filepath.Join(dir, "grads_full.safetensors"), m.Trainable())
				t.Logf("%s: max logp rel err %.3g, max grad rel err %.3g", v.name, le, ge)
			}
		})
	}
}

func loadLoRA(t testing.TB, dir string, opt Options) *Model {
	t.Helper()
	lc, err := ReadAdapterConfig(filepath.Join(dir, "adapter"))
	if err != nil {
		t.Fatal(err)
	}
	opt.LoRA = lc
	m, err := Load(dir, testBackend(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGoldenLoRA(t *testing.T) {
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			for _, ckpt := range []bool{false, true} {
				testGoldenLoRA(t, name, ckpt)
			}
		})
	}
}

func testGoldenLoRA(t *testing.T, name string, checkpoint bool) {
	g := loadGolden(t, name)
	dir := filepath.Join("testdata", name)
	m := loadLoRA(t, dir, Options{Checkpoint: checkpoint})
	if got := m.lora.Scale(); !(math.Abs(got-g.LoRA.Scale) <= 1e-6*g.LoRA.Scale) {
		t.Errorf("LoRA scale %v, want %v", got, g.LoRA.Scale)
	}
	b := g.batch()
	// adapters off first: the reference model for free
	out, err := m.Forward(b, ForwardOptions{NoAdapters: true, Eval: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLogps(t, "adapters off", out.LogProbs, g.Full.Logps)
	if err := m.Backward(flat(g.LoRA.Dlogps)); err == nil {
		t.Error("Backward after a NoAdapters forward: want an error")
	}
	out, err = m.Forward(b, ForwardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	le := checkLogps(t, "lora", out.LogProbs, g.LoRA.Logps)
	m.ZeroGrad()
	if err := m.Backward(flat(g.LoRA.Dlogps)); err != nil {
		t.Fatal(err)
	}
	ge := checkGrads(t, "lora", filepath.Join(dir, "grads_lora.safetensors"), m.Trainable())
	t.Logf("checkpoint=%v: max logp rel err %.3g, max grad rel err %.3g", checkpoint, le, ge)
}

func ExampleBuildBatch() {
	b, _ := BuildBatch([]Group{
		{Prompt: []int32{5, 6}, Completions: [][]int32{{7, 8}}, Seqs: []int32{0}},
		{Prompt: []int32{9}, Completions: [][]int32{{4}}, Seqs: []int32{1}},
	}, Layout{})
	for r := 0; r < b.B; r++ {
		fmt.Println(b.IDs[r*b.T:(r+1)*b.T], b.Labels[r*b.T:(r+1)*b.T], b.Segments[r*b.T:(r+1)*b.T])
	}
	// Output:
	// [5 6 7 8] [-100 7 8 -100] [0 0 0 0]
	// [9 4 0 0] [4 -100 -100 -100] [0 0 -1 -1]
}
