package config

import "strings"

// Quantization and storage keys, as TRL's ModelConfig / transformers' BitsAndBytesConfig
// spell them (load_in_4bit, bnb_4bit_quant_type, bnb_4bit_use_double_quant,
// bnb_4bit_compute_dtype, bnb_4bit_quant_storage, torch_dtype/dtype) and LLaMA-Factory's
// (quantization_bit, quantization_method, quantization_type, double_quantization,
// infer_dtype).

// Storage is the resolved storage of the frozen base weights.
type Storage struct {
	DType       string // "auto", "bfloat16", "float16" or "float32"
	Quant4      string // "" or "nf4"/"fp4"
	DoubleQuant bool
}

// FrozenStorage resolves the storage keys (after Validate).
func (c *Config) FrozenStorage() Storage {
	s := Storage{DType: c.TorchDType}
	if s.DType == "" {
		s.DType = "auto"
	}
	if c.LoadIn4bit || c.QuantizationBit == 4 {
		s.Quant4 = c.Bnb4bitQuantType
		if s.Quant4 == "" {
			s.Quant4 = "nf4" // TRL ModelConfig's and LLaMA-Factory's default
		}
		switch {
		case c.Bnb4bitDoubleQuant != nil:
			s.DoubleQuant = *c.Bnb4bitDoubleQuant
		default:
			s.DoubleQuant = c.QuantizationBit == 4 // LLaMA-Factory's double_quantization defaults to true
		}
	}
	return s
}

func (c *Config) validateQuant(bad func(key, format string, args ...any) error) error {
	switch strings.ToLower(c.TorchDType) {
	case "", "auto", "bfloat16", "float16", "float32":
		c.TorchDType = strings.ToLower(c.TorchDType)
	case "bf16":
		c.TorchDType = "bfloat16"
	case "fp16", "half":
		c.TorchDType = "float16"
	case "fp32", "float":
		c.TorchDType = "float32"
	default:
		return bad("torch_dtype", "%q: want auto, bfloat16, float16 or float32", c.TorchDType)
	}
	four := c.LoadIn4bit || c.QuantizationBit == 4
	switch {
	case c.LoadIn8bit || c.QuantizationBit == 8:
		key := "load_in_8bit"
		if c.QuantizationBit == 8 {
			key = "quantization_bit"
		}
		return bad(key, "8-bit (bitsandbytes LLM.int8) bases are not supported; use load_in_4bit (QLoRA) or a 16-bit base")
	case c.QuantizationBit != 0 && c.QuantizationBit != 4:
		return bad("quantization_bit", "%d: want 4 (bitsandbytes NF4/FP4)", c.QuantizationBit)
	case c.QuantizationMethod != "" && c.QuantizationMethod != "bnb" && c.QuantizationMethod != "bitsandbytes":
		return bad("quantization_method", "%q is not supported (only bnb)", c.QuantizationMethod)
	case c.Bnb4bitQuantType != "" && c.Bnb4bitQuantType != "nf4" && c.Bnb4bitQuantType != "fp4":
		return bad("bnb_4bit_quant_type", "%q: want nf4 or fp4", c.Bnb4bitQuantType)
	case c.Bnb4bitQuantStorage != "" && c.Bnb4bitQuantStorage != "uint8":
		return bad("bnb_4bit_quant_storage", "%q is not supported (only uint8)", c.Bnb4bitQuantStorage)
	case four && !c.LoRA():
		key := "load_in_4bit"
		if c.QuantizationBit == 4 {
			key = "quantization_bit"
		}
		return bad(key, "a 4-bit base cannot be fully fine-tuned: use LoRA (finetuning_type: lora or use_peft: true), i.e. QLoRA")
	}
	switch strings.ToLower(c.Bnb4bitComputeDType) {
	case "", "float32", "bfloat16", "float16", "bf16", "fp16", "fp32":
	default:
		return bad("bnb_4bit_compute_dtype", "%q: want float32, bfloat16 or float16", c.Bnb4bitComputeDType)
	}
	return nil
}
