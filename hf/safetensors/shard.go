package safetensors

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/preftune/preftune/atomicfile"
)

// ShardName is Hugging Face's name for shard i (1-based) of n: model-00001-of-00003.safetensors.
func ShardName(i, n int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n) }

var shardNameRE = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// WriteModel writes a model's weights into dir as Hugging Face's save_pretrained does and
// returns the paths written. Tensors are packed into shards in the given order, starting a
// new shard when the next tensor would push the current one past maxShardBytes (a tensor
// larger than that gets a shard of its own); maxShardBytes <= 0 means no limit. One shard
// is written as model.safetensors; several as model-0000i-of-0000n.safetensors plus
// model.safetensors.index.json ({"metadata": {"total_size": bytes}, "weight_map": ...}).
//
// All files are staged as temporaries first and renamed into place only when every one is
// complete, the index last; a failure before that leaves dir untouched. Weight files of an
// earlier save that the new layout does not use (model.safetensors, stale shards, the index)
// are then removed, so loaders never see a mix.
func WriteModel(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) ([]string, error) {
	if err := validateTensors(dir, tensors); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var groups [][]Tensor
	var cur []Tensor
	var curSize, total int64
	for _, t := range tensors {
		sz := t.byteSize()
		total += sz
		if maxShardBytes > 0 && len(cur) > 0 && curSize+sz > maxShardBytes {
			groups = append(groups, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, t)
		curSize += sz
	}
	groups = append(groups, cur) // also the single empty group of an empty model

	type staged struct{ tmp, path string }
	var plan []staged
	cleanup := func() {
		for _, s := range plan {
			os.Remove(s.tmp)
		}
	}
	stage := func(path string, write func(io.Writer) error) error {
		tmp, err := stageFile(path, write)
		if err != nil {
			return err
		}
		plan = append(plan, staged{tmp, path})
		return nil
	}

	if len(groups) == 1 {
		path := filepath.Join(dir, SingleFileName)
		if err := stage(path, func(w io.Writer) error { return encodeFile(w, groups[0], metadata) }); err != nil {
			cleanup()
			return nil, err
		}
	} else {
		index := shardIndexOut{WeightMap: map[string]string{}}
		index.Metadata.TotalSize = total
		for i, g := range groups {
			name := ShardName(i+1, len(groups))
			for _, t := range g {
				index.WeightMap[t.Name] = name
			}
			if err := stage(filepath.Join(dir, name), func(w io.Writer) error { return encodeFile(w, g, metadata) }); err != nil {
				cleanup()
				return nil, err
			}
		}
		js, err := json.MarshalIndent(index, "", "  ")
		if err != nil {
			cleanup()
			return nil, err
		}
		js = append(js, '\n')
		if err := stage(filepath.Join(dir, IndexFileName), func(w io.Writer) error { _, err := w.Write(js); return err }); err != nil {
			cleanup()
			return nil, err
		}
	}

	written := make([]string, 0, len(plan))
	keep := map[string]bool{}
	for i, s := range plan {
		if err := os.Rename(s.tmp, s.path); err != nil {
			for _, rest := range plan[i:] {
				os.Remove(rest.tmp)
			}
			return written, fmt.Errorf("safetensors %s: %w", s.path, err)
		}
		written = append(written, s.path)
		keep[filepath.Base(s.path)] = true
	}
	removeStale(dir, keep)
	atomicfile.SyncDir(dir)
	return written, nil
}

// shardIndexOut is the index as written, keys in the order json.dumps(sort_keys=True) gives.
type shardIndexOut struct {
	Metadata struct {
		TotalSize int64 `json:"total_size"`
	} `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// removeStale deletes weight files of an earlier save that are not in keep.
func removeStale(dir string, keep map[string]bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if keep[n] || e.IsDir() {
			continue
		}
		if n == SingleFileName || n == IndexFileName || shardNameRE.MatchString(n) {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
