package quant

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/preftune/preftune/hf/safetensors"
)

// Source is what FromTensors reads: a safetensors file or a sharded model.
type Source interface {
	Tensor(name string) (safetensors.TensorInfo, bool)
	ReadFloat32(name string, dst []float32) error
	ReadRaw(name string, dst []byte) error
}

// stateJSON is the ".quant_state.bitsandbytes__<type>" blob (QuantState.as_dict(packed=True)'s
// non-tensor items, as JSON bytes).
type stateJSON struct {
	QuantType       string   `json:"quant_type"`
	Blocksize       int      `json:"blocksize"`
	DType           string   `json:"dtype"`
	Shape           []int    `json:"shape"`
	NestedBlocksize int      `json:"nested_blocksize"`
	NestedDType     string   `json:"nested_dtype"`
	NestedOffset    *float64 `json:"nested_offset"`
}

var dtypeNames = map[string]safetensors.DType{"float32": safetensors.F32, "bfloat16": safetensors.BF16, "float16": safetensors.F16}

// IsQuantized reports whether weight (e.g. "model.layers.0.mlp.up_proj.weight") is stored
// 4-bit in src: it has a ".quant_state.bitsandbytes__*" companion.
func IsQuantized(src Source, weight string) bool {
	_, nf := src.Tensor(weight + ".quant_state.bitsandbytes__nf4")
	_, fp := src.Tensor(weight + ".quant_state.bitsandbytes__fp4")
	return nf || fp
}

// StateInfo is what a pre-quantized weight's quant state says without its data: the
// logical shape, the source dtype, the 4-bit type and whether its scales are nested.
type StateInfo struct {
	Type   Type
	Shape  []int
	DType  safetensors.DType
	Nested bool
}

// State reads only weight's ".quant_state.bitsandbytes__*" JSON (a few hundred bytes),
// checked as FromTensors checks it.
func State(src Source, weight string) (StateInfo, error) {
	st, t, _, err := readState(src, weight)
	if err != nil {
		return StateInfo{}, err
	}
	return StateInfo{Type: t, Shape: st.Shape, DType: dtypeNames[st.DType], Nested: st.NestedOffset != nil}, nil
}

// readState parses and checks weight's quant state.
func readState(src Source, weight string) (stateJSON, Type, string, error) {
	stateName, t := "", Type("")
	for _, tt := range []Type{NF4, FP4} {
		if _, ok := src.Tensor(weight + ".quant_state.bitsandbytes__" + string(tt)); ok {
			stateName, t = weight+".quant_state.bitsandbytes__"+string(tt), tt
		}
	}
	var st stateJSON
	if stateName == "" {
		return st, t, "", fmt.Errorf("quant: %s: no .quant_state.bitsandbytes__nf4 or __fp4 tensor", weight)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("quant: tensor %s: %s", stateName, fmt.Sprintf(format, args...))
	}
	raw, err := readBytes(src, stateName)
	if err != nil {
		return st, t, stateName, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, t, stateName, bad("quant state is not JSON: %v", err)
	}
	if Type(st.QuantType) != t {
		return st, t, stateName, bad("quant_type %q in a __%s state", st.QuantType, t)
	}
	if _, ok := dtypeNames[st.DType]; !ok {
		return st, t, stateName, bad("dtype %q (want float32, bfloat16 or float16)", st.DType)
	}
	switch st.Blocksize {
	case 32, 64, 128, 256, 512, 1024, 2048, 4096:
	default:
		return st, t, stateName, bad("blocksize %d (bitsandbytes takes 32, 64, …, 4096)", st.Blocksize)
	}
	if len(st.Shape) == 0 {
		return st, t, stateName, bad("no shape")
	}
	n := 1
	for _, s := range st.Shape {
		if s <= 0 || n > (1<<40)/s {
			return st, t, stateName, bad("shape %v", st.Shape)
		}
		n *= s
	}
	return st, t, stateName, nil
}

// FromTensors reads the pre-quantized bitsandbytes tensor weight (P.weight and its
// companions) from src. Every inconsistency is an error naming the tensor.
func FromTensors(src Source, weight string) (*Weight4, error) {
	st, t, stateName, err := readState(src, weight)
	if err != nil {
		return nil, err
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("quant: tensor %s: %s", name, fmt.Sprintf(format, args...))
	}
	w := &Weight4{Type: t, Blocksize: st.Blocksize, Shape: st.Shape, DType: dtypeNames[st.DType]}
	n := w.N()
	if w.Packed, err = readBytes(src, weight); err != nil {
		return nil, err
	}
	if len(w.Packed) != (n+1)/2 {
		return nil, bad(weight, "%d bytes of packed 4-bit codes for shape %v (want %d)", len(w.Packed), st.Shape, (n+1)/2)
	}
	qm, err := readFloats(src, weight+".quant_map", 16)
	if err != nil {
		return nil, err
	}
	copy(w.Code[:], qm)
	blocks := w.Blocks()
	if st.NestedOffset == nil {
		if w.Absmax, err = readFloats(src, weight+".absmax", blocks); err != nil {
			return nil, err
		}
		return w, nil
	}
	w.Nested, w.Offset, w.NestedBlocksize = true, float32(*st.NestedOffset), st.NestedBlocksize
	if st.NestedBlocksize <= 0 {
		return nil, bad(stateName, "nested_blocksize %d", st.NestedBlocksize)
	}
	if st.NestedDType != "" && st.NestedDType != "float32" {
		return nil, bad(stateName, "nested_dtype %q (want float32)", st.NestedDType)
	}
	if w.QAbsmax, err = readBytes(src, weight+".absmax"); err != nil {
		return nil, err
	}
	if len(w.QAbsmax) != blocks {
		return nil, bad(weight+".absmax", "%d double-quantized scales for %d blocks", len(w.QAbsmax), blocks)
	}
	if w.Absmax2, err = readFloats(src, weight+".nested_absmax", (blocks+st.NestedBlocksize-1)/st.NestedBlocksize); err != nil {
		return nil, err
	}
	if w.Code2, err = readFloats(src, weight+".nested_quant_map", 256); err != nil {
		return nil, err
	}
	return w, nil
}

func readBytes(src Source, name string) ([]byte, error) {
	ti, ok := src.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("quant: tensor %s missing", name)
	}
	if ti.DType != safetensors.U8 {
		return nil, fmt.Errorf("quant: tensor %s: dtype %s (want U8)", name, ti.DType)
	}
	b := make([]byte, ti.NumElements())
	if err := src.ReadRaw(name, b); err != nil {
		return nil, fmt.Errorf("quant: %w", err)
	}
	return b, nil
}

func readFloats(src Source, name string, want int) ([]float32, error) {
	ti, ok := src.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("quant: tensor %s missing", name)
	}
	if ti.NumElements() != want {
		return nil, fmt.Errorf("quant: tensor %s: %d values (want %d)", name, ti.NumElements(), want)
	}
	f := make([]float32, want)
	if err := src.ReadFloat32(name, f); err != nil {
		return nil, fmt.Errorf("quant: %w", err)
	}
	return f, nil
}

// Companions are the tensor name suffixes a pre-quantized weight P.weight brings with it;
// a loader skips them when it lists a checkpoint's tensors.
var Companions = []string{".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"}

// IsCompanion reports whether name is one of a quantized weight's state tensors.
func IsCompanion(name string) bool {
	for _, c := range Companions {
		if strings.HasSuffix(name, ".weight"+c) {
			return true
		}
	}
	return false
}
