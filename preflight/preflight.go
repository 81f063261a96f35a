package preflight

import (
	"fmt"
	"strings"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/model"
)

// DType is how a tensor is held in memory (not necessarily as the checkpoint stores it).
type DType int

const (
	F32 DType = iota
	BF16
	F16
	NF4       // 4-bit NF4/FP4, blocks of 64 with a float32 absmax each
	NF4Double // NF4 with double quant: a byte absmax per 64, a float32 per 256 blocks
)

func (d DType) String() string {
	return [...]string{"float32", "bfloat16", "float16", "nf4", "nf4 (double quant)"}[d]
}

// Bytes is the memory numel values take at dtype d (bitsandbytes' blockwise layout
// for the 4-bit types: blocksize 64, nested blocksize 256).
func (d DType) Bytes(numel int64) int64 {
	switch d {
	case BF16, F16:
		return 2 * numel
	case NF4, NF4Double:
		blocks := ceilDiv(numel, 64)
		n := ceilDiv(numel, 2) + 16*4 // packed codes, code table
		if d == NF4 {
			return n + 4*blocks
		}
		return n + blocks + 4*ceilDiv(blocks, 256) + 256*4 + 4 // u8 absmax, nested absmax, nested map, offset
	}
	return 4 * numel
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// Tensor is one base parameter as it will be held.
type Tensor struct {
	Name  string
	Numel int64
	DType DType
}

// Model is a model to estimate: its architecture and base tensors.
type Model struct {
	Arch    model.Arch
	Weights []Tensor
}

// FromCheckpoint lists ck's parameters at the storage dtype storage chooses (nil: float32,
// the engine's in-memory dtype today). A tied lm_head is counted once, as the model holds it.
func FromCheckpoint(ck *model.Checkpoint, storage func(safetensors.TensorInfo) DType) Model {
	m := Model{Arch: ck.Arch}
	for _, t := range ck.Tensors {
		d := F32
		if storage != nil {
			d = storage(t)
		}
		m.Weights = append(m.Weights, Tensor{Name: t.Name, Numel: int64(t.NumElements()), DType: d})
	}
	return m
}

// Use is how a model instance is built and run (model.Options' memory-relevant part).
type Use struct {
	Tokens       int               // activation plan: tokens in the largest micro-batch (B·T); 0 = none planned
	Rows         int               // loss rows (completion tokens); ≤ Tokens counts as Tokens
	LogitsBudget int               // float32 elements of the LM-head logits chunk; 0 = model's default
	Checkpoint   bool              // gradient checkpointing: one layer's activations
	LoRA         *model.LoRAConfig // nil: full fine-tuning (or frozen)
	Frozen       bool              // inference only: no gradients
	FuseGateUp   bool              // ignored for the count (fused and separate gate/up take the same)
	// LogitRows, when set, is the most LM-head rows a batch writes (its completion
	// tokens): the logits chunk beyond it is allocated but never resident.
	LogitRows int
}

// Footprint is one model instance's memory, in bytes.
type Footprint struct {
	Weights, Adapters, Gradients, Activations, Tables int64
	// Backward is the part of Activations only a backward pass writes (its scratch):
	// allocated, but never touched (so never resident) in a model that only runs forward.
	Backward int64
	// Unwritten is the part of Activations no batch writes (logits rows past
	// Use.LogitRows): allocated, never resident.
	Unwritten int64
}

// Resident is the memory a model touches: Total, less the backward scratch of a model
// that never runs backward (a reference model, an inference command).
func (f Footprint) Resident(forwardOnly bool) int64 {
	if forwardOnly {
		return f.Total() - f.Backward - f.Unwritten
	}
	return f.Total() - f.Unwritten
}

// Total is the sum of the parts.
func (f Footprint) Total() int64 {
	return f.Weights + f.Adapters + f.Gradients + f.Activations + f.Tables
}

// Trainable is the number of trainable values (what the optimizer keeps state for).
func (f Footprint) Trainable(m Model, u Use) int64 {
	if u.Frozen {
		return 0
	}
	if u.LoRA != nil {
		return f.Adapters / 4
	}
	var n int64
	for _, t := range m.Weights {
		n += t.Numel
	}
	return n
}

// ForModel is the memory model.New and the activation plan allocate for m used as u.
func ForModel(m Model, u Use) (Footprint, error) {
	a := m.Arch
	var f Footprint
	var numel int64
	for _, t := range m.Weights {
		f.Weights += t.DType.Bytes(t.Numel)
		numel += t.Numel
	}
	var loraIn []int64 // in-features of each targeted linear of one layer (for dropout masks)
	var loraVals int64
	if u.LoRA != nil {
		set, err := u.LoRA.Modules()
		if err != nil {
			return f, err
		}
		C, F, Q, K := int64(a.Hidden), int64(a.FFN), int64(a.Heads*a.HeadDim), int64(a.KVHeads*a.HeadDim)
		for _, l := range []struct {
			name    string
			in, out int64
		}{{"q_proj", C, Q}, {"k_proj", C, K}, {"v_proj", C, K}, {"o_proj", Q, C},
			{"gate_proj", C, F}, {"up_proj", C, F}, {"down_proj", F, C}} {
			if set[l.name] {
				loraVals += int64(u.LoRA.R) * (l.in + l.out)
				loraIn = append(loraIn, l.in)
			}
		}
		loraVals *= int64(a.Layers)
		f.Adapters = 4 * loraVals
	}
	if !u.Frozen {
		if u.LoRA != nil {
			f.Gradients = 4 * loraVals
		} else {
			f.Gradients = 4 * numel
		}
	}
	f.Tables = 4 * int64(a.MaxPos) * int64(a.HeadDim) // cos and sin, MaxPos × HD/2 each
	if u.Tokens > 0 {
		f.Activations, f.Backward = activationBytes(a, u, loraIn)
		if rows := max(1, min(int64(u.Tokens), logitsBudget(u)/int64(a.Vocab))); u.LogitRows > 0 && int64(u.LogitRows) < rows {
			f.Unwritten = 4 * (rows - int64(u.LogitRows)) * int64(a.Vocab)
		}
	}
	return f, nil
}

// logitsBudget is u's logits budget in float32 elements (model's default when unset).
func logitsBudget(u Use) int64 {
	if u.LogitsBudget <= 0 {
		return 16 << 20
	}
	return int64(u.LogitsBudget)
}

// activationBytes mirrors model's activation plan for u.Tokens tokens: the float32
// buffer, its int32 inputs and the host staging buffers; backward is the part only the
// backward pass writes.
func activationBytes(a model.Arch, u Use, loraIn []int64) (total, backward int64) {
	n, nm := int64(u.Tokens), int64(max(u.Tokens, u.Rows))
	L, C, F, V := int64(a.Layers), int64(a.Hidden), int64(a.FFN), int64(a.Vocab)
	NH, NKV := int64(a.Heads), int64(a.KVHeads)
	QD, KD := NH*int64(a.HeadDim), NKV*int64(a.HeadDim)
	rows := max(1, min(n, logitsBudget(u)/V))
	var r, maxIn int64
	dropout := false
	if u.LoRA != nil {
		r, dropout = int64(u.LoRA.R), u.LoRA.Dropout > 0
		maxIn = max(C, QD, F)
	}
	perLayer := n * (C + 1 + QD + 2*KD + QD + NH + C + C + 1 + 3*F) // h1 rstd1 q k v att lse xmid h2 rstd2 gate up act
	if a.QKNorm {
		perLayer += n * (QD + KD + NH + NKV)
	}
	saved := L
	if u.Checkpoint {
		saved = 1
	}
	var lora int64 // per layer: the adapters' u (and dropout masks), in every layer
	for _, in := range loraIn {
		lora += n * r
		if dropout {
			lora += n * in
		}
	}
	floats := (L+1)*n*C + saved*perLayer + L*lora
	floats += nm*(2*C+1) + rows*V + 9*nm + n // final norm rows, logits chunk, per-row and per-sequence outputs, dtok
	bwd := n * (2*C + 2*QD + 2*KD + 3*F + r) // backward scratch
	if a.QKNorm {
		bwd += n * (QD + KD)
	}
	if dropout {
		bwd += n * maxIn
	}
	bwd += nm*(2*C) + nm     // dxc dhc dlogp
	ints := 4*n + 3*nm       // backend int32 inputs
	host := 4*n + 3*nm + 4*n // host staging: int32 inputs, float32 outputs
	return 4 * (floats + bwd + ints + host), 4 * bwd
}

// Estimate is a run's peak memory by part, in bytes.
type Estimate struct {
	Weights, Adapters, Gradients, Optimizer, Reference, Activations, Other int64
	// Freed is the part of the above never live at the peak: a reference model freed
	// before the optimizer state is allocated (precompute_ref_log_probs).
	Freed int64
}

// Total is the estimated peak.
func (e Estimate) Total() int64 {
	return e.Weights + e.Adapters + e.Gradients + e.Optimizer + e.Reference + e.Activations + e.Other - e.Freed
}

// Runtime is the allowance for what is not a tensor: the Go runtime, OpenBLAS's
// buffers, the tokenizer, the parsed data and the binary itself (measured: a dry run
// with the Llama tokenizer and 64 pairs peaks at 30 MB RSS; OpenBLAS adds its
// per-thread GEMM buffers).
const Runtime = 96 << 20

// Inference estimates one frozen model (logps, score, generate, export) used as u
// (Tokens: the largest forward; LogitRows: its scored tokens, when known); kv is a KV
// cache's bytes (generate), 0 otherwise.
func Inference(m Model, u Use, kv int64) (Estimate, error) {
	u.Frozen = true
	f, err := ForModel(m, u)
	if err != nil {
		return Estimate{}, err
	}
	return Estimate{Weights: f.Weights, Adapters: f.Adapters, Activations: f.Activations - f.Backward - f.Unwritten,
		Other: f.Tables + kv + Runtime}, nil
}

// String is the one-line estimate printed at the start of a run.
func (e Estimate) String() string {
	parts := []string{}
	add := func(name string, b int64) {
		if b > 0 {
			parts = append(parts, name+" "+Human(b))
		}
	}
	add("weights", e.Weights)
	add("adapters", e.Adapters)
	add("gradients", e.Gradients)
	add("optimizer", e.Optimizer)
	if e.Reference > 0 && e.Freed > 0 {
		parts = append(parts, fmt.Sprintf("reference %s, freed before the optimizer state", Human(e.Reference)))
	} else {
		add("reference", e.Reference)
	}
	add("activations", e.Activations)
	add("other", e.Other)
	return fmt.Sprintf("≈%s (%s)", Human(e.Total()), strings.Join(parts, ", "))
}

// Human prints a byte count in GiB (MiB below 1 GiB).
func Human(b int64) string {
	const gib, mib = 1 << 30, 1 << 20
	if b >= gib {
		return fmt.Sprintf("%.1f GiB", float64(b)/gib)
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/mib)
}

// FromCheckpointAs lists ck's parameters as Load with opt keeps them (model.StorageDTypes:
// frozen weights in their 16-bit or 4-bit storage, the rest float32).
func FromCheckpointAs(ck *model.Checkpoint, opt model.Options) (Model, error) {
	dts, err := model.StorageDTypes(ck, opt)
	if err != nil {
		return Model{}, err
	}
	return FromCheckpoint(ck, func(t safetensors.TensorInfo) DType {
		switch dts[t.Name] {
		case "BF16":
			return BF16
		case "F16":
			return F16
		case "nf4", "fp4":
			return NF4
		case "nf4+dq", "fp4+dq":
			return NF4Double
		}
		return F32
	}), nil
}
