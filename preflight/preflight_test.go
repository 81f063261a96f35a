package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
)

// TestForModelMatchesAllocation: the estimate of one model instance equals what
// model.New and its activation plan allocate (model.Footprint), over architectures and
// uses that change the plan (LoRA with and without dropout, Qwen3's q/k norms, tied
// heads, gradient checkpointing, a logits budget smaller than the vocabulary's rows).
func TestForModelMatchesAllocation(t *testing.T) {
	be := cpu.New(1)
	defer be.Close()
	llama := model.Arch{ModelType: "llama", Vocab: 97, Hidden: 24, Layers: 3, Heads: 4, KVHeads: 2, HeadDim: 6, FFN: 40,
		MaxPos: 128, Eps: 1e-6, RopeTheta: 10000}
	qwen3 := llama
	qwen3.ModelType, qwen3.QKNorm, qwen3.HeadDim, qwen3.Tied = "qwen3", true, 8, true
	bias := llama
	bias.QKVBias, bias.OBias, bias.MLPBias = true, true, true
	tests := []struct {
		name string
		arch model.Arch
		opt  model.Options
	}{
		{"full", llama, model.Options{MaxTokens: 37}},
		{"full fused", llama, model.Options{MaxTokens: 37, FuseGateUp: true}},
		{"frozen", llama, model.Options{MaxTokens: 11, Frozen: true}},
		{"checkpointing", llama, model.Options{MaxTokens: 50, Checkpoint: true}},
		{"small logits budget", llama, model.Options{MaxTokens: 50, LogitsBudget: 97 * 3}},
		{"lora", llama, model.Options{MaxTokens: 20, LoRA: &model.LoRAConfig{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}}}},
		{"lora all dropout", llama, model.Options{MaxTokens: 20, LoRA: &model.LoRAConfig{R: 3, Alpha: 8, Dropout: 0.1, Targets: []string{"all"}}}},
		{"lora frozen", llama, model.Options{MaxTokens: 20, Frozen: true, LoRA: &model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"all"}}}},
		{"qwen3 tied", qwen3, model.Options{MaxTokens: 33}},
		{"qwen3 lora checkpointing", qwen3, model.Options{MaxTokens: 33, Checkpoint: true, LoRA: &model.LoRAConfig{R: 4, Alpha: 8, Targets: []string{"all"}}}},
		{"biases", bias, model.Options{MaxTokens: 9}},
		{"no plan", llama, model.Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := model.New(tc.arch, be, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var pm Model
			pm.Arch = tc.arch
			for _, ts := range m.Tensors() {
				n := int64(1)
				for _, d := range ts.Shape {
					n *= int64(d)
				}
				pm.Weights = append(pm.Weights, Tensor{Name: ts.Name, Numel: n, DType: F32})
			}
			got, err := ForModel(pm, Use{Tokens: tc.opt.MaxTokens, LogitsBudget: tc.opt.LogitsBudget, Checkpoint: tc.opt.Checkpoint,
				LoRA: tc.opt.LoRA, Frozen: tc.opt.Frozen, FuseGateUp: tc.opt.FuseGateUp})
			if err != nil {
				t.Fatal(err)
			}
			f := m.Footprint()
			want := Footprint{Weights: f.Params, Adapters: f.LoRAParams, Gradients: f.Grads + f.LoRAGrads,
				Activations: f.Activations + f.ActivationInts + f.Host, Tables: f.Tables}
			if tc.opt.MaxTokens > 0 && !(got.Backward > 0 && got.Backward < got.Activations) {
				t.Errorf("backward scratch %d of activations %d", got.Backward, got.Activations)
			}
			got.Backward = 0
			if got != want {
				t.Errorf("estimate %+v, allocated %+v", got, want)
			}
		})
	}
}

// TestDTypeBytes: in-memory sizes per storage dtype, by hand from bitsandbytes' layout
// (blocksize 64, one float32 absmax per block; double quant: a uint8 absmax per block,
// one float32 per 256 blocks, a 256-entry float32 nested map and a float32 offset;
// the 16-entry float32 NF4 code table).
func TestDTypeBytes(t *testing.T) {
	const n = 4096 * 4096 // 262144 blocks, 1024 nested blocks
	tests := []struct {
		d    DType
		n    int64
		want int64
	}{
		{F32, n, 4 * n},
		{BF16, n, 2 * n},
		{F16, 3, 6},
		{NF4, n, n/2 + 262144*4 + 64},
		{NF4Double, n, n/2 + 262144 + 1024*4 + 1024 + 4 + 64},
		{NF4, 65, 33 + 2*4 + 64}, // a partial block and an odd count round up
	}
	for _, tc := range tests {
		if got := tc.d.Bytes(tc.n); got != tc.want {
			t.Errorf("%v.Bytes(%d) = %d, want %d", tc.d, tc.n, got, tc.want)
		}
	}
	// per parameter: NF4 ≈ 0.5 + 4/64, double quant ≈ 0.5 + 1/64 + 4/(64·256)
	for _, tc := range []struct {
		d    DType
		want float64
	}{{NF4, 0.5 + 4.0/64}, {NF4Double, 0.5 + 1.0/64 + 4.0/(64*256)}} {
		got := float64(tc.d.Bytes(1<<30)) / (1 << 30)
		if err := got/tc.want - 1; !(err < 1e-5 && err > -1e-5) {
			t.Errorf("%v: %.6f bytes a parameter, want %.6f", tc.d, got, tc.want)
		}
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, s := range files {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestAvailable reads crafted /proc and /sys trees: the least limit wins and is named.
func TestAvailable(t *testing.T) {
	const gib = 1 << 30
	meminfo := "MemTotal:       32000000 kB\nMemFree:  1000 kB\nMemAvailable:   20971520 kB\n" // 20 GiB
	noAS := func() (int64, int64, bool) { return 0, 0, false }
	tests := []struct {
		name    string
		files   map[string]string
		as      func() (int64, int64, bool)
		want    int64
		source  string
		missing bool
	}{
		{"meminfo only", map[string]string{"proc/meminfo": meminfo}, noAS, 20 * gib, "MemAvailable", false},
		{"cgroup v2 tighter", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/job\n",
			"sys/fs/cgroup/job/memory.max": fmt.Sprint(8 * gib), "sys/fs/cgroup/job/memory.current": fmt.Sprint(2 * gib)}, noAS, 6 * gib, "cgroup", false},
		{"cgroup v2 file cache is reclaimable", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/job\n",
			"sys/fs/cgroup/job/memory.max": fmt.Sprint(8 * gib), "sys/fs/cgroup/job/memory.current": fmt.Sprint(7 * gib),
			"sys/fs/cgroup/job/memory.stat": fmt.Sprintf("anon 1000\nactive_file 7\ninactive_file %d\n", 4*gib)}, noAS, 5 * gib, "cgroup", false},
		{"cgroup v1 file cache is reclaimable", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/p\n",
			"sys/fs/cgroup/memory/p/memory.limit_in_bytes": fmt.Sprint(4 * gib), "sys/fs/cgroup/memory/p/memory.usage_in_bytes": fmt.Sprint(4 * gib),
			"sys/fs/cgroup/memory/p/memory.stat": fmt.Sprintf("cache 5\ninactive_file 9\ntotal_inactive_file %d\n", 3*gib)}, noAS, 3 * gib, "cgroup", false},
		{"cgroup v2 max is no limit", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/\n",
			"sys/fs/cgroup/memory.max": "max\n", "sys/fs/cgroup/memory.current": "1000\n"}, noAS, 20 * gib, "MemAvailable", false},
		{"cgroup v1 by path", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/p/q\n0::/\n",
			"sys/fs/cgroup/memory/p/q/memory.limit_in_bytes": fmt.Sprint(3 * gib), "sys/fs/cgroup/memory/p/q/memory.usage_in_bytes": fmt.Sprint(1 * gib)}, noAS, 2 * gib, "cgroup", false},
		{"cgroup v1 unlimited", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712", "sys/fs/cgroup/memory/memory.usage_in_bytes": "5"}, noAS, 20 * gib, "MemAvailable", false},
		{"ulimit -v tightest", map[string]string{"proc/meminfo": meminfo}, func() (int64, int64, bool) { return 3 * gib, 1 * gib, true }, 2 * gib, "RLIMIT_AS", false},
		{"over the limit already", map[string]string{"proc/meminfo": meminfo, "sys/fs/cgroup/memory.max": "100", "sys/fs/cgroup/memory.current": "200"}, noAS, 0, "cgroup", false},
		{"nothing readable", map[string]string{}, noAS, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := System{Root: writeTree(t, tc.files), AddressSpace: tc.as}
			av, ok := s.Available()
			if ok == tc.missing {
				t.Fatalf("ok = %v", ok)
			}
			if tc.missing {
				return
			}
			if av.Bytes != tc.want || !strings.Contains(av.Source, tc.source) {
				t.Errorf("got %d (%s), want %d (%s)", av.Bytes, av.Source, tc.want, tc.source)
			}
		})
	}
}

// TestCheckRefuses: an estimate over the available memory is an *Error whose message
// gives the total, the parts, what is available and the advice; one under it passes.
func TestCheckRefuses(t *testing.T) {
	const gib = 1 << 30
	s := System{Root: writeTree(t, map[string]string{"proc/meminfo": "MemAvailable: 4194304 kB\n"}), // 4 GiB
		AddressSpace: func() (int64, int64, bool) { return 0, 0, false }}
	big := Estimate{Weights: 3 * gib, Optimizer: 2 * gib, Activations: gib / 2}
	_, err := s.Check(big, TrainHints)
	var pe *Error
	if err == nil || !asError(err, &pe) {
		t.Fatalf("want a refusal, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"needs ≈5.5 GiB", "weights 3.0 GiB", "optimizer 2.0 GiB", "activations 512 MiB", "4.0 GiB available",
		"LoRA", "load_in_4bit", "per_device_train_batch_size or max_length", "gradient_checkpointing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if _, err := s.Check(Estimate{Weights: gib}, TrainHints); err != nil {
		t.Errorf("1 GiB in 4 GiB refused: %v", err)
	}
	freed := Estimate{Weights: gib, Optimizer: 2 * gib, Reference: gib, Freed: gib}
	if got := freed.Total(); got != 3*gib {
		t.Errorf("total with a freed reference %d, want %d", got, 3*gib)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"123", 123, true}, {"8GiB", 8 << 30, true}, {"512M", 512 << 20, true}, {"2 GB", 2 << 30, true}, {"1t", 1 << 40, true},
		{"", 0, false}, {"1.5G", 0, false}, {"-1", 0, false}, {"9X", 0, false}, {"99999999999999999999", 0, false}} {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v", tc.in, got, err)
		}
	}
}
