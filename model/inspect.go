package model

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/preftune/preftune/hf/config"
	"github.com/preftune/preftune/hf/safetensors"
)

// Checkpoint is what a model dir says about itself before anything is allocated:
// its config.json, its architecture and the tensors its safetensors headers declare,
// already checked against each other (every size config.json implies — vocab_size,
// hidden_size, num_hidden_layers, intermediate_size, heads, head_dim — is the size of
// a tensor in the files). The memory preflight estimates from it.
type Checkpoint struct {
	Dir     string
	Config  *config.Config
	Arch    Arch
	Tensors []safetensors.TensorInfo // the parameters, in Hugging Face order
}

// ErrCheckpoint is wrapped by every Inspect error about the files themselves (as
// opposed to I/O failures): config.json and the weights disagree, or a value is not finite.
var ErrCheckpoint = errors.New("model checkpoint does not match its config")

// Inspect reads config.json and the safetensors headers of dir (no tensor data) and
// checks they agree: every expected tensor is present with the shape config.json
// implies, nothing unexpected is there. The error names the file and the tensor.
func Inspect(dir string) (*Checkpoint, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return inspect(dir, cfg, st)
}

func inspect(dir string, cfg *config.Config, st *safetensors.Model) (*Checkpoint, error) {
	arch := FromConfig(cfg)
	if err := arch.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	shapes, err := logicalShapes(st) // a bitsandbytes 4-bit weight at its logical shape
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%w)", dir, err, ErrCheckpoint)
	}
	if err := cfg.CheckTensors(shapes); err != nil {
		return nil, fmt.Errorf("%s: config.json and %s: %w (%w)", dir, weightFiles(st), err, ErrCheckpoint)
	}
	ck := &Checkpoint{Dir: dir, Config: cfg, Arch: arch}
	for _, p := range cfg.Parameters() {
		info, _ := st.Tensor(p.Name) // present: CheckTensors passed
		info.Shape = shapes[p.Name]  // U8 packed codes keep their dtype, numel is the logical one
		ck.Tensors = append(ck.Tensors, info)
	}
	return ck, nil
}

// weightFiles names the weight files of st for an error message.
func weightFiles(st *safetensors.Model) string {
	fs := st.Files()
	switch len(fs) {
	case 0:
		return "the weights"
	case 1:
		return filepath.Base(fs[0])
	}
	return fmt.Sprintf("%s … %s (%d shards)", filepath.Base(fs[0]), filepath.Base(fs[len(fs)-1]), len(fs))
}

// NonFiniteError is a NaN or ±Inf value in a loaded tensor.
type NonFiniteError struct {
	File   string // the file holding the tensor
	Tensor string
	Index  int   // flat (row-major) index of the first bad value
	Coords []int // the same index per dimension
	Value  float32
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("%s: tensor %s holds %v at index %v (flat %d): the checkpoint is corrupt or diverged",
		e.File, e.Tensor, e.Value, e.Coords, e.Index)
}

func (e *NonFiniteError) Unwrap() error { return ErrCheckpoint }

// checkFinite returns a *NonFiniteError for the first NaN or ±Inf in data.
func checkFinite(file, name string, shape []int, data []float32) error {
	for i, v := range data {
		if v-v != 0 { // NaN - NaN and Inf - Inf are NaN; every finite v - v is 0
			return nonFiniteAt(file, name, shape, i, v)
		}
	}
	return nil
}

// nonFiniteAt is the *NonFiniteError for flat index i of a tensor of shape.
func nonFiniteAt(file, name string, shape []int, i int, v float32) *NonFiniteError {
	coords := make([]int, len(shape))
	rest := i
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			coords[d] = rest % shape[d]
			rest /= shape[d]
		}
	}
	return &NonFiniteError{File: file, Tensor: name, Index: i, Coords: coords, Value: v}
}
