// Package safetensors reads and writes Hugging Face safetensors files and sharded model
// directories, the format model weights are published and saved in.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__" of strings),
// and the data section those offsets tile exactly. A model directory holds either
// model.safetensors or shards named model-00001-of-0000n.safetensors listed by
// model.safetensors.index.json ("weight_map": tensor name -> shard file).
//
// Reading:
//
//	m, err := safetensors.OpenModel(dir) // model.safetensors or the sharded index
//	defer m.Close()
//	for _, t := range m.Tensors() { ... t.Name, t.DType, t.Shape ... }
//	err = m.ReadFloat32("model.norm.weight", buf) // len(buf) == element count
//
// Open (one file) and OpenModel return a File and a Model; both satisfy Reader: Tensors,
// Tensor, Metadata, ReadFloat32 (F32, F16, BF16, F64, integer and BOOL tensors, converted
// as torch's .to(torch.float32) does), ReadInt64, ReadInt32; both also have ReadRaw for
// the stored bytes, and Model.Shapes gives name -> shape for config.CheckTensors.
// Only headers are held in memory. Tensor data is read with ReadAt when asked for: F32
// straight into the caller's buffer, other dtypes through a pooled 1 MiB chunk, so loading
// a model needs no memory beyond the caller's own buffers. Methods are safe for concurrent use.
//
// Writing:
//
//	err := safetensors.WriteFile(path, []safetensors.Tensor{{Name: "w", DType: safetensors.BF16,
//		Shape: []int{2, 3}, F32: vals}}, map[string]string{"format": "pt"})
//	paths, err := safetensors.WriteModel(dir, tensors, meta, 5<<30) // shards of at most 5 GB
//
// Tensors are given as float32 and stored as F32, BF16 or F16 (BF16/F16 round to nearest,
// ties to even, matching torch's .to()). Output is deterministic (see WriteFile) and
// written atomically: temporary file in the same directory, fsync, rename.
//
// Every malformed input (truncated file, absurd or overlong header length, bad JSON,
// unknown dtype, negative dimension, shape/byte-count mismatch, overlapping, gapped or
// out-of-range data_offsets, missing shard, index/shard disagreement) is an error naming the
// file and, where there is one, the tensor, and wraps ErrInvalid. Nothing panics on input.
package safetensors
