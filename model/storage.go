package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/quant"
)

// Storage is how a model keeps its frozen base weights (the LoRA base under LoRA, every
// weight of a Frozen model). Trainable weights and optimizer state are always float32.
//
// The zero value widens everything to float32 (as before). Keep16 keeps the 2-D weights
// (linears, embedding, untied head) that the checkpoint stores as BF16/F16 in that dtype
// (half the memory; the values are the same, so results are the float32 path's).
// Quant4 quantizes the decoder layers' linear weights on load with bitsandbytes'
// blockwise rule (as transformers' load_in_4bit: embeddings, norms, biases and the LM
// head stay unquantized, in their 16-bit dtype when Keep16). A checkpoint that is
// already bitsandbytes 4-bit is read as stored whatever Storage says.
type Storage struct {
	Keep16      bool
	To16        safetensors.DType // with Keep16: store every such weight in this dtype (BF16/F16), rounding float32 ones (torch_dtype bfloat16 over a float32 checkpoint); "" keeps the file's
	Quant4      quant.Type        // "" (none), quant.NF4 or quant.FP4: bnb_4bit_quant_type
	DoubleQuant bool              // bnb_4bit_use_double_quant
	Blocksize   int               // 0 = 64, bitsandbytes' default
}

// storagePlan is Load's decision per base tensor.
type storagePlan struct {
	names map[string]bool   // tensors kept packed
	kind  map[string]string // "q4pre" (pre-quantized), "q4" (quantize on load), "16"
	st    Storage
}

// isLinearWeight: a decoder layer's projection weight (what bitsandbytes quantizes).
func isLinearWeight(name string) bool {
	if !strings.HasPrefix(name, "model.layers.") || !strings.HasSuffix(name, ".weight") {
		return false
	}
	for _, l := range linearNames {
		if strings.HasSuffix(name, "."+l+".weight") {
			return true
		}
	}
	return false
}

func is2DWeight(name string) bool {
	return isLinearWeight(name) || name == "model.embed_tokens.weight" || name == "lm_head.weight"
}

// quantConfig is config.json's quantization_config (transformers' BitsAndBytesConfig.to_dict).
type quantConfig struct {
	QuantMethod  string `json:"quant_method"`
	LoadIn4bit   bool   `json:"load_in_4bit"`
	LoadIn8bit   bool   `json:"load_in_8bit"`
	QuantType    string `json:"bnb_4bit_quant_type"`
	DoubleQuant  bool   `json:"bnb_4bit_use_double_quant"`
	QuantStorage string `json:"bnb_4bit_quant_storage"`
}

func readQuantConfig(dir string) (*quantConfig, error) {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Q *quantConfig `json:"quantization_config"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	q := f.Q
	if q == nil {
		return nil, nil
	}
	switch {
	case q.QuantMethod != "bitsandbytes":
		return nil, fmt.Errorf("%s: quantization_config.quant_method %q is not supported (only bitsandbytes 4-bit checkpoints)", path, q.QuantMethod)
	case q.LoadIn8bit:
		return nil, fmt.Errorf("%s: quantization_config.load_in_8bit: bitsandbytes 8-bit (LLM.int8) checkpoints are not supported; use the 16-bit model with load_in_4bit or without quantization", path)
	case q.QuantStorage != "" && q.QuantStorage != "uint8":
		return nil, fmt.Errorf("%s: quantization_config.bnb_4bit_quant_storage %q is not supported (only uint8)", path, q.QuantStorage)
	}
	return q, nil
}

// logicalShapes is the checkpoint's tensor shapes with each pre-quantized weight at its
// logical shape (from its quant state) and its companion tensors left out.
func logicalShapes(st *safetensors.Model) (map[string][]int, error) {
	shapes := map[string][]int{}
	for name, s := range st.Shapes() {
		if quant.IsCompanion(name) {
			continue
		}
		if quant.IsQuantized(st, name) {
			info, err := quant.State(st, name) // the JSON state only, not the codes
			if err != nil {
				return nil, err
			}
			s = info.Shape
		}
		shapes[name] = s
	}
	return shapes, nil
}

// planStorage decides which base tensors Load keeps packed and how.
func planStorage(dir string, arch Arch, st *safetensors.Model, opt Options) (storagePlan, error) {
	p := storagePlan{names: map[string]bool{}, kind: map[string]string{}, st: opt.Storage}
	qc, err := readQuantConfig(dir)
	if err != nil {
		return p, err
	}
	frozenBase := opt.LoRA != nil || opt.Frozen
	if qc != nil && qc.LoadIn4bit && p.st.Quant4 == "" { // a 4-bit config over a 16-bit checkpoint: quantize as transformers would
		p.st.Quant4, p.st.DoubleQuant, p.st.Keep16 = quant.Type(strings.ToLower(qc.QuantType)), qc.DoubleQuant, true
		if p.st.Quant4 == "" {
			p.st.Quant4 = quant.FP4 // BitsAndBytesConfig's default bnb_4bit_quant_type
		}
	}
	if p.st.Quant4 != "" {
		if _, err := quant.Code(p.st.Quant4); err != nil {
			return p, err
		}
	}
	if p.st.To16 != "" && p.st.To16 != safetensors.BF16 && p.st.To16 != safetensors.F16 {
		return p, fmt.Errorf("model: 16-bit storage %s (want BF16 or F16)", p.st.To16)
	}
	if p.st.Blocksize == 0 {
		p.st.Blocksize = 64
	}
	probe := &Model{arch: arch}
	_, ts := probe.layoutParams(nil, nil)
	for _, t := range ts {
		if !is2DWeight(t.Name) {
			continue
		}
		info, ok := st.Tensor(t.Name)
		if !ok {
			continue
		}
		switch {
		case quant.IsQuantized(st, t.Name):
			if !frozenBase {
				return p, fmt.Errorf("%s: tensor %s is stored 4-bit (bitsandbytes): a quantized base can only be trained with LoRA (QLoRA: finetuning_type: lora) or used for inference", dir, t.Name)
			}
			p.kind[t.Name] = "q4pre"
		case !frozenBase:
			continue
		case p.st.Quant4 != "" && isLinearWeight(t.Name):
			p.kind[t.Name] = "q4"
		case p.st.Keep16 && (p.st.To16 != "" || info.DType == safetensors.BF16 || info.DType == safetensors.F16):
			p.kind[t.Name] = "16"
		default:
			continue
		}
		p.names[t.Name] = true
	}
	return p, nil
}

// loadPacked fills the packed base tensors from st and wires them into the layers.
func (m *Model) loadPacked(st *safetensors.Model, p storagePlan, where string) error {
	if len(p.names) == 0 {
		return nil
	}
	packed := map[string]*kernels.Packed{}
	var tmp []float32
	for i := range m.tensors {
		t := &m.tensors[i]
		kind := p.kind[t.Name]
		if !p.names[t.Name] {
			continue
		}
		rows, cols := t.Shape[0], t.Shape[1]
		var pk *kernels.Packed
		var err error
		switch kind {
		case "q4pre":
			var w *quant.Weight4
			if w, err = quant.FromTensors(st, t.Name); err == nil {
				info, _ := st.Tensor(t.Name)
				if err = checkFinite(info.File, t.Name+" (block scales)", []int{w.Blocks()}, w.Scales()); err == nil {
					pk, err = kernels.NewPacked4(w)
				}
			}
		case "q4":
			info, _ := st.Tensor(t.Name)
			n := rows * cols
			if cap(tmp) < n {
				tmp = make([]float32, n)
			}
			tmp = tmp[:n]
			if err = st.ReadFloat32(t.Name, tmp); err == nil {
				err = checkFinite(info.File, t.Name, t.Shape, tmp)
			}
			if err == nil {
				var w *quant.Weight4
				if w, err = quant.Quantize4(tmp, t.Shape, info.DType, p.st.Quant4, p.st.Blocksize, p.st.DoubleQuant); err == nil {
					pk, err = kernels.NewPacked4(w)
				}
				// Quantize4's float32 scratch is garbage now; collect it before the next
				// tensor, or the heap grows to twice the packed model (GOGC) while loading
				runtime.GC()
			}
		case "16":
			info, _ := st.Tensor(t.Name)
			bits := make([]uint16, rows*cols)
			to := p.st.To16
			if to == "" || to == info.DType {
				to = info.DType
				err = st.ReadRaw(t.Name, unsafe.Slice((*byte)(unsafe.Pointer(&bits[0])), 2*len(bits)))
			} else { // round to the requested 16-bit dtype, as tensor.to(dtype) does
				if cap(tmp) < len(bits) {
					tmp = make([]float32, len(bits))
				}
				tmp = tmp[:len(bits)]
				if err = st.ReadFloat32(t.Name, tmp); err == nil {
					err = checkFinite(info.File, t.Name, t.Shape, tmp)
				}
				if err == nil {
					for i, f := range tmp {
						if to == safetensors.BF16 {
							bits[i] = safetensors.BF16Bits(f)
						} else {
							bits[i] = safetensors.F16Bits(f)
						}
					}
				}
			}
			if err == nil {
				err = checkFinite16(info.File, t.Name, t.Shape, to, bits)
			}
			if err == nil {
				pk, err = kernels.NewPacked16(rows, cols, to, bits)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: tensor %s: %w", where, t.Name, err)
		}
		if pk.Rows != rows || pk.Cols != cols {
			return fmt.Errorf("%s: tensor %s is [%d,%d] packed, config.json implies %v", where, t.Name, pk.Rows, pk.Cols, t.Shape)
		}
		t.Packed = pk
		packed[t.Name] = pk
	}
	m.embedP = packed["model.embed_tokens.weight"]
	if m.arch.Tied {
		m.headP = m.embedP
	} else {
		m.headP = packed["lm_head.weight"]
	}
	if (m.embedP != nil) != (m.embed == nil) || (m.headP != nil) != (m.head == nil) {
		return fmt.Errorf("%s: internal: embedding/head storage not planned", where)
	}
	for i := range m.layers {
		L := &m.layers[i]
		for _, li := range L.linears() {
			li.pw = packed[li.path+".weight"]
			if (li.pw != nil) != (li.w == nil) {
				return fmt.Errorf("%s: internal: %s storage not planned", where, li.path)
			}
		}
		if m.fuseGU && L.gate.pw != nil {
			gu, err := kernels.Concat(L.gate.pw, L.up.pw)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			L.guP = gu
		}
	}
	return nil
}

// checkFinite16 is checkFinite over bf16/f16 bit patterns (exponent all ones: Inf or NaN).
func checkFinite16(file, name string, shape []int, dt safetensors.DType, bits []uint16) error {
	mask := uint16(0x7f80)
	if dt == safetensors.F16 {
		mask = 0x7c00
	}
	for i, h := range bits {
		if h&mask == mask {
			v := safetensors.FromBF16Bits(h)
			if dt == safetensors.F16 {
				v = safetensors.FromF16Bits(h)
			}
			return nonFiniteAt(file, name, shape, i, v)
		}
	}
	return nil
}

// StorageDTypes says how Load with opt would keep each base tensor of ck: "F32", "BF16",
// "F16", "nf4"/"fp4" (4-bit) or "nf4+dq"/"fp4+dq" (4-bit, double-quantized scales), by
// name. Only headers are read (the memory preflight's view of Options.Storage).
func StorageDTypes(ck *Checkpoint, opt Options) (map[string]string, error) {
	st, err := safetensors.OpenModel(ck.Dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	p, err := planStorage(ck.Dir, ck.Arch, st, opt)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range ck.Tensors {
		d := "F32"
		switch p.kind[t.Name] {
		case "q4pre":
			if info, err := quant.State(st, t.Name); err == nil {
				d = string(info.Type)
				if info.Nested {
					d += "+dq"
				}
			}
		case "q4":
			d = string(p.st.Quant4)
			if p.st.DoubleQuant {
				d += "+dq"
			}
		case "16":
			d = string(t.DType)
			if p.st.To16 != "" {
				d = string(p.st.To16)
			}
		}
		out[t.Name] = d
	}
	return out, nil
}
