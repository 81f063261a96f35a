package train

import (
	"fmt"

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

// storageIdentity names the storage in the reference log-prob cache key: a 4-bit or
// rounded reference gives other log-probs than the float32 one.
func storageIdentity(s model.Storage) string {
	return fmt.Sprintf("storage:keep16=%v,to16=%s,q4=%s,dq=%v", s.Keep16, s.To16, s.Quant4, s.DoubleQuant)
}
