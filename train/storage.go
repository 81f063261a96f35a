package train

import (
	"fmt"
	"strings"

	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/quant"
	"github.com/preftune/preftune/train/config"
)

// frozenStorage is how frozen base weights are kept (the LoRA base, a reference model):
// the resolved torch_dtype / load_in_4bit keys as model.Storage. Trainable weights and
// optimizer state stay float32 whatever it says.
func frozenStorage(c *config.Config) model.Storage {
	fs := c.FrozenStorage()
	var s model.Storage
	switch fs.DType {
	case "auto":
		s.Keep16 = true
	case "bfloat16":
		s.Keep16, s.To16 = true, safetensors.BF16
	case "float16":
		s.Keep16, s.To16 = true, safetensors.F16
	}
	s.Quant4, s.DoubleQuant = quant.Type(fs.Quant4), fs.DoubleQuant
	return s
}

// refStorageKey names how the reference's weights are kept and multiplied, for the
// reference log-prob cache key: the frozen storage, except under TR-DPO (float32).
func refStorageKey(c *config.Config) string {
	s, bf16 := frozenStorage(c), computeBF16(c)
	if c.SyncRefModel {
		s, bf16 = model.Storage{}, false
	}
	return fmt.Sprintf("storage keep16=%v to16=%s q4=%s dq=%v bf16=%v", s.Keep16, s.To16, s.Quant4, s.DoubleQuant, bf16)
}

// computeBF16: bf16: true or bnb_4bit_compute_dtype bfloat16 ask for bf16 products of the
// frozen weights (model.Options.ComputeBF16; float32 where the CPU or backend has none).
func computeBF16(c *config.Config) bool {
	switch c.Bnb4bitComputeDType {
	case "bfloat16", "bf16":
		return true
	}
	return c.BF16
}

// describeWeights is one line on how a model keeps and multiplies its weights.
func describeWeights(m *model.Model) string {
	var f32, packed int64
	kinds := map[string]bool{}
	for _, t := range m.Tensors() {
		if t.Packed == nil {
			f32 += 4 * int64(len(t.Data))
			continue
		}
		packed += t.Packed.Bytes()
		for _, p := range t.Packed.Parts {
			if p.Q4 != nil {
				kinds[string(p.Q4.Type)] = true
			} else {
				kinds[string(p.DType)] = true
			}
		}
	}
	var ks []string
	for _, k := range []string{"BF16", "F16", "nf4", "fp4"} {
		if kinds[k] {
			ks = append(ks, k)
		}
	}
	s := "base weights " + humanBytes(f32) + " float32"
	if packed > 0 {
		s += " + " + humanBytes(packed) + " frozen in " + strings.Join(ks, "/")
	}
	return s + ", frozen-weight compute " + m.ComputeDType()
}

// humanBytes is n in MiB below 1 GiB, else GiB.
func humanBytes(n int64) string {
	if n < 1<<30 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
