package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File names Hugging Face uses for a model's weights.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Model is a model's weights: one model.safetensors, or shards listed by
// model.safetensors.index.json. It reads like a single File.
type Model struct {
	dir     string
	files   []*File          // sorted by path
	owner   map[string]*File // tensor name -> file holding it
	tensors []TensorInfo     // by file, then offset
}

// OpenModel opens a model's weights. path is a directory holding model.safetensors or
// model.safetensors.index.json (the single file wins when both exist, as in
// transformers), or the path of either file itself. Every shard's header is validated, and
// the index must agree with the shards: each listed tensor in its shard, no shard tensor
// missing from the index.
func OpenModel(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".json") {
			return openIndex(path)
		}
		return openSingle(path)
	}
	single := filepath.Join(path, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		return openSingle(single)
	}
	index := filepath.Join(path, IndexFileName)
	if _, err := os.Stat(index); err == nil {
		return openIndex(index)
	}
	return nil, fmt.Errorf("safetensors: %s holds neither %s nor %s: %w", path, SingleFileName, IndexFileName, ErrInvalid)
}

func openSingle(path string) (*Model, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	m := &Model{dir: filepath.Dir(path), files: []*File{f}, owner: map[string]*File{}}
	for _, t := range f.h.tensors {
		m.owner[t.Name] = f
	}
	m.tensors = f.Tensors()
	return m, nil
}

// shardIndex is model.safetensors.index.json. Only weight_map matters for reading;
// metadata (total_size, ...) is informational.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

func openIndex(indexPath string) (*Model, error) {
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return openIndexed(indexPath, raw)
}

// openIndexed opens the shards that raw, the bytes of the index file at
// indexPath, lists in indexPath's directory and checks them against it.
// openIndex is this after reading the file; the fuzzer calls it directly.
func openIndexed(indexPath string, raw []byte) (*Model, error) {
	idx, byShard, err := parseIndex(raw, indexPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(indexPath)
	shards := make([]string, 0, len(byShard))
	for s := range byShard {
		shards = append(shards, s)
	}
	sort.Strings(shards)

	m := &Model{dir: dir, owner: map[string]*File{}}
	fail := func(err error) (*Model, error) { m.Close(); return nil, err }
	for _, shard := range shards {
		names := byShard[shard]
		sort.Strings(names)
		p := filepath.Join(dir, shard)
		f, err := Open(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fail(fmt.Errorf("safetensors index %s: shard %s (holding %d tensors, e.g. %q) is missing: %w",
					indexPath, shard, len(names), names[0], ErrInvalid))
			}
			return fail(err)
		}
		m.files = append(m.files, f)
		var missing []string
		for _, n := range names {
			if _, ok := f.Tensor(n); !ok {
				missing = append(missing, n)
			}
			m.owner[n] = f
		}
		if len(missing) > 0 {
			return fail(fmt.Errorf("safetensors index %s: shard %s lacks %d tensors the index puts there: %s: %w",
				indexPath, shard, len(missing), quoteList(missing, 10), ErrInvalid))
		}
		var extra []string
		for _, t := range f.h.tensors {
			if idx.WeightMap[t.Name] != shard {
				extra = append(extra, t.Name)
			}
		}
		if len(extra) > 0 {
			return fail(fmt.Errorf("safetensors index %s: shard %s holds %d tensors the index does not put there: %s: %w",
				indexPath, shard, len(extra), quoteList(extra, 10), ErrInvalid))
		}
		m.tensors = append(m.tensors, f.h.tensors...)
	}
	return m, nil
}

// parseIndex reads model.safetensors.index.json: the weight map and, from it,
// the tensor names each shard file holds (shard file name -> names).
func parseIndex(raw []byte, indexPath string) (shardIndex, map[string][]string, error) {
	var idx shardIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return idx, nil, fmt.Errorf("safetensors index %s: %v: %w", indexPath, err, ErrInvalid)
	}
	if len(idx.WeightMap) == 0 {
		return idx, nil, fmt.Errorf("safetensors index %s: weight_map is missing or empty: %w", indexPath, ErrInvalid)
	}
	names := make([]string, 0, len(idx.WeightMap))
	for name := range idx.WeightMap {
		names = append(names, name)
	}
	sort.Strings(names) // the first bad entry reported is the same every run
	byShard := map[string][]string{}
	for _, name := range names {
		shard := idx.WeightMap[name]
		if name == "" || name == "__metadata__" {
			return idx, nil, fmt.Errorf("safetensors index %s: weight_map: %q is not a tensor name: %w", indexPath, name, ErrInvalid)
		}
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) || strings.ContainsRune(shard, 0) {
			return idx, nil, fmt.Errorf("safetensors index %s: tensor %q: shard %q is not a file name in the model directory: %w",
				indexPath, name, shard, ErrInvalid)
		}
		if len(shard) > maxFileName {
			return idx, nil, fmt.Errorf("safetensors index %s: tensor %q: shard name of %d bytes is longer than a file name can be (%d): %w",
				indexPath, name, len(shard), maxFileName, ErrInvalid)
		}
		byShard[shard] = append(byShard[shard], name)
	}
	return idx, byShard, nil
}

// maxFileName is NAME_MAX of Linux filesystems (and of macOS and Windows): a longer
// shard name can name no file, and opening it fails with ENAMETOOLONG, not "missing".
const maxFileName = 255

// quoteList renders up to max names, then "and N more".
func quoteList(names []string, max int) string {
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}

// Dir is the directory holding the weights.
func (m *Model) Dir() string { return m.dir }

// Files lists the paths of the files holding the weights (one, or the shards in name order).
func (m *Model) Files() []string {
	out := make([]string, len(m.files))
	for i, f := range m.files {
		out[i] = f.path
	}
	return out
}

// Tensors lists every tensor, shard by shard in file-name order, each in data order.
func (m *Model) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(m.tensors))
	copy(out, m.tensors)
	return out
}

// Shapes maps every tensor name to its shape, the form config.CheckTensors takes.
func (m *Model) Shapes() map[string][]int {
	out := make(map[string][]int, len(m.tensors))
	for _, t := range m.tensors {
		out[t.Name] = t.Shape
	}
	return out
}

// Tensor looks up one tensor by name.
func (m *Model) Tensor(name string) (TensorInfo, bool) {
	f, ok := m.owner[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensor(name)
}

// Metadata is the __metadata__ of the first file (shards carry the same one).
func (m *Model) Metadata() map[string]string {
	if len(m.files) == 0 {
		return nil
	}
	return m.files[0].Metadata()
}

func (m *Model) file(name string) (*File, error) {
	f, ok := m.owner[name]
	if !ok {
		return nil, fmt.Errorf("safetensors model %s: no tensor %q", m.dir, name)
	}
	return f, nil
}

// ReadFloat32 reads a tensor into dst; see File.ReadFloat32.
func (m *Model) ReadFloat32(name string, dst []float32) error {
	f, err := m.file(name)
	if err != nil {
		return err
	}
	return f.ReadFloat32(name, dst)
}

// ReadInt64 reads an integer tensor into dst; see File.ReadInt64.
func (m *Model) ReadInt64(name string, dst []int64) error {
	f, err := m.file(name)
	if err != nil {
		return err
	}
	return f.ReadInt64(name, dst)
}

// ReadInt32 reads an integer tensor into dst; see File.ReadInt32.
func (m *Model) ReadInt32(name string, dst []int32) error {
	f, err := m.file(name)
	if err != nil {
		return err
	}
	return f.ReadInt32(name, dst)
}

// ReadRaw copies a tensor's stored bytes into dst; see File.ReadRaw.
func (m *Model) ReadRaw(name string, dst []byte) error {
	f, err := m.file(name)
	if err != nil {
		return err
	}
	return f.ReadRaw(name, dst)
}

// Close closes every file.
func (m *Model) Close() error {
	var first error
	for _, f := range m.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
