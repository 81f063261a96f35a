package model

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/preftune/preftune/kernels/cpu"
)

// Benchmarks on the speed peer's inputs: ../shared/peer/make_bench_inputs.py --preset
// small (Llama, vocab 8192, hidden 256, 4 layers, ffn 704, prompt 96, completions
// 128-160), generated into a temp dir when /usr/bin/python3 with numpy is available
// (PREFTUNE_PEER_DIR overrides where the peer scripts are). Compare with
//
//	OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 ../shared/peer/torch_dpo_step.py \
//	    --model DIR/model --data DIR/pairs.jsonl --steps 3
//
// (whose step also includes the AdamW update).

func peerInputs(b *testing.B) string {
	b.Helper()
	peer := os.Getenv("PREFTUNE_PEER_DIR")
	if peer == "" {
		peer = filepath.Join("..", "..", "shared", "peer")
	}
	script := filepath.Join(peer, "make_bench_inputs.py")
	if _, err := os.Stat(script); err != nil {
		b.Skipf("peer script not found: %v", err)
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		b.Skipf("%s with numpy not available: %v", py, err)
	}
	dir := b.TempDir()
	if out, err := exec.Command(py, script, "--preset", "small", "--pairs", "8", "--out", dir).CombinedOutput(); err != nil {
		b.Fatalf("make_bench_inputs: %v\n%s", err, out)
	}
	return dir
}

// benchBatch reads the first `pairs` rows into TRL's concatenated layout.
func benchBatch(b *testing.B, path string, pairs int) *Batch {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var chosen, rejected []Sequence
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() && len(chosen) < pairs {
		var r struct{ Prompt, Chosen, Rejected []int32 }
		var raw struct {
			P []int32 `json:"prompt_input_ids"`
			C []int32 `json:"chosen_input_ids"`
			R []int32 `json:"rejected_input_ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			b.Fatal(err)
		}
		r.Prompt, r.Chosen, r.Rejected = raw.P, raw.C, raw.R
		chosen = append(chosen, Sequence{Prompt: r.Prompt, Completion: r.Chosen})
		rejected = append(rejected, Sequence{Prompt: r.Prompt, Completion: r.Rejected})
	}
	bt, err := paddedBatch(append(chosen, rejected...), 0)
	if err != nil {
		b.Fatal(err)
	}
	return bt
}

func benchStep(b *testing.B, lora *LoRAConfig) {
	dir := peerInputs(b)
	be := cpu.New(0)
	defer be.Close()
	m, err := Load(filepath.Join(dir, "model"), be, Options{LoRA: lora})
	if err != nil {
		b.Fatal(err)
	}
	if lora != nil {
		m.InitLoRA(1)
	}
	batch := benchBatch(b, filepath.Join(dir, "pairs.jsonl"), 2)
	d := make([]float32, batch.B*batch.T)
	for i, l := range batch.Labels {
		if l >= 0 {
			d[i] = 0.01
		}
	}
	step := func() {
		if _, err := m.Forward(batch, ForwardOptions{}); err != nil {
			b.Fatal(err)
		}
		m.ZeroGrad()
		if err := m.Backward(d); err != nil {
			b.Fatal(err)
		}
	}
	step() // plan activations
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds())/float64(b.N), "ms/step")
	b.ReportMetric(float64(batch.B*batch.T), "tokens/step")
}

// BenchmarkStepSmall: one forward+backward, 2 pairs (4 rows), full fine-tuning.
func BenchmarkStepSmall(b *testing.B) { benchStep(b, nil) }

// BenchmarkStepSmallLoRA: the same with LoRA r=16 on all linear layers.
func BenchmarkStepSmallLoRA(b *testing.B) {
	benchStep(b, &LoRAConfig{R: 16, Alpha: 32, Targets: []string{"all-linear"}})
}

// BenchmarkLayerSmall: one decoder layer's forward+backward on the same batch.
func BenchmarkLayerSmall(b *testing.B) {
	dir := peerInputs(b)
	be := cpu.New(0)
	defer be.Close()
	m, err := Load(filepath.Join(dir, "model"), be, Options{})
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(b, filepath.Join(dir, "pairs.jsonl"), 2)
	if _, err := m.Forward(batch, ForwardOptions{}); err != nil {
		b.Fatal(err)
	}
	st := stepShape{b: batch.B, t: batch.T, n: batch.B * batch.T}
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		m.layerForward(1, st)
		m.layerBackward(1, st)
	}
	be.Sync()
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/float64(b.N), "ms/layer")
}

// benchPairs reads the first n pairs of the peer's small preset.
func benchPairs(b *testing.B, path string, n int) []Pair {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var ps []Pair
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() && len(ps) < n {
		var raw struct {
			P []int32 `json:"prompt_input_ids"`
			C []int32 `json:"chosen_input_ids"`
			R []int32 `json:"rejected_input_ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			b.Fatal(err)
		}
		ps = append(ps, Pair{Prompt: raw.P, Chosen: raw.C, Rejected: raw.R})
	}
	return ps
}

// benchDPOStep: one DPO policy step (forward, BackwardSeq, AdamW) on 2 pairs of the
// small preset in the given layout; CPU time per step is reported too, as the
// machine may be shared.
func benchDPOStep(b *testing.B, lora *LoRAConfig, lay Layout) {
	dir := peerInputs(b)
	be := cpu.New(0)
	defer be.Close()
	m, err := Load(filepath.Join(dir, "model"), be, Options{LoRA: lora})
	if err != nil {
		b.Fatal(err)
	}
	if lora != nil {
		m.InitLoRA(1)
	}
	batch, err := pairBatch(benchPairs(b, filepath.Join(dir, "pairs.jsonl"), 2), lay)
	if err != nil {
		b.Fatal(err)
	}
	p, g := m.TrainableBuffers()
	m1, m2 := be.Alloc(len(p)), be.Alloc(len(p))
	dseq := []float32{-0.025, -0.025, 0.025, 0.025}
	step := func(i int) {
		if _, err := m.Forward(batch, ForwardOptions{Eval: true}); err != nil {
			b.Fatal(err)
		}
		m.ZeroGrad()
		if err := m.BackwardSeq(dseq); err != nil {
			b.Fatal(err)
		}
		be.AdamWStep(p, g, m1, m2, i+1, 1e-5, 0.9, 0.999, 1e-8, 0)
	}
	step(0)
	b.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		step(i + 1)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
	b.ReportMetric((cpuSeconds()-c0)*1000/float64(b.N), "cpu-ms/step")
	b.ReportMetric(m.FLOPs(batch, ForwardOptions{Eval: true}, true)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkDPOStepSmall: the plain layout (TRL's right-padded concatenated batch) and
// the shared-prompt packed layout, full fine-tuning and LoRA r=16.
func BenchmarkDPOStepSmall(b *testing.B) {
	lora := &LoRAConfig{R: 16, Alpha: 16, Targets: []string{"all-linear"}}
	for _, c := range []struct {
		name string
		lora *LoRAConfig
		lay  Layout
	}{
		{"full/padded", nil, Layout{}},
		{"full/shared+packed", nil, Layout{SharePrompt: true, Pack: true}},
		{"lora/padded", lora, Layout{}},
		{"lora/shared+packed", lora, Layout{SharePrompt: true, Pack: true}},
	} {
		b.Run(c.name, func(b *testing.B) { benchDPOStep(b, c.lora, c.lay) })
	}
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
