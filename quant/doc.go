// Package quant is bitsandbytes' 4-bit blockwise quantization (NF4 and FP4, as QLoRA
// uses it) and the 8-bit blockwise "dynamic" quantization it applies to the 4-bit
// scales under double quantization, bit for bit as bitsandbytes' default (PyTorch)
// backend computes them.
//
// A weight of n values is cut into blocks of Blocksize (64 by default) in row-major
// order; each block keeps its absolute maximum (absmax) and each value the index of the
// nearest entry of a 16-value code book after scaling by 1/absmax (ties go to the lower
// entry, as torch.bucketize does). Two indices share a byte, the even element in the
// high nibble. Dequantizing is code[index]·absmax, rounded to the dtype the weight came
// from (bfloat16 checkpoints give bfloat16 values).
//
// Double quantization ("compress_statistics", bnb_4bit_use_double_quant) stores absmax
// minus its mean (the offset) as 8-bit indices into the signed dynamic map, in blocks of
// 256 with their own float32 absmax.
//
// The layout a hub "*-bnb-4bit" checkpoint uses for a weight P (P.weight as U8 [n/2,1],
// P.weight.absmax, .quant_map, .nested_absmax, .nested_quant_map and the JSON blob
// .quant_state.bitsandbytes__nf4) is read by [FromTensors]. The tests compare with
// reference/quant/bnb_ref.py, a rendering of bitsandbytes' formulas in PyTorch.
package quant
