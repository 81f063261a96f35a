package train

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/preftune/preftune/hf/hub"
)

// localSplitFiles reads a local dataset directory as load_dataset(dir)[split] does:
// its data files (recursively, as the datasets library globs them) are mapped to
// splits by name (hf/hub.Splits: data/train-00000-of-00001.jsonl, test.jsonl,
// valid/x.json, …) and the files of split are returned. ok is false when dir is no
// such directory — a file, a LLaMA-Factory dataset_dir (dataset_info.json), a
// save_to_disk directory, or a directory whose files name no split but train (then
// the whole directory is the dataset, as before) — and the caller keeps the argument
// as it is. With strict (TRL's evaluation on dataset_test_split of the training
// dataset) a directory without that split is an error even when it has only train.
func localSplitFiles(dir, split string, strict bool) (files []string, ok bool, err error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, false, nil
	}
	for _, marker := range []string{"dataset_info.json", "dataset_dict.json", "state.json"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return nil, false, nil
		}
	}
	var rel []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			r, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			rel = append(rel, filepath.ToSlash(r))
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", dir, err)
	}
	m, names, err := hub.Splits(rel)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", dir, err)
	}
	if len(names) == 0 || (!strict && slices.Equal(names, []string{"train"})) {
		return nil, false, nil
	}
	fs, has := m[split]
	if !has {
		return nil, false, fmt.Errorf("%s: no split %q (splits of its files: %s)", dir, split, strings.Join(names, ", "))
	}
	for _, f := range fs {
		files = append(files, filepath.Join(dir, filepath.FromSlash(f)))
	}
	return files, true, nil
}
