package train

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/hf/hub"
	"github.com/preftune/preftune/train/config"
)

// resolveHub replaces every model and dataset argument that names a Hugging Face Hub
// repo (not a local path, shaped like org/name) with its local snapshot in the hub
// cache, downloading what is missing (package hub): model_name_or_path and ref_model
// at model_revision, adapter_name_or_path and ref_model_adapters (PEFT adapter repos,
// same revision), and the dataset / eval_dataset items (dataset repos at main:
// dataset_train_split / dataset_test_split, default train / test, mapped from file
// names as the datasets library does; a local dataset directory likewise:
// localSplitFiles). LLaMA-Factory dataset names in dataset_dir stay names.
func resolveHub(ctx context.Context, c *config.Config, log io.Writer, terminal bool) error {
	s := hub.FromEnv()
	s.Progress, s.Terminal = log, terminal
	note := func(key, arg, dir string) {
		fmt.Fprintf(log, "hub: %s %s -> %s\n", key, arg, dir)
	}
	for _, f := range []struct {
		key  string
		v    *string
		what string
	}{
		{"model_name_or_path", &c.ModelNameOrPath, hub.ForModel},
		{"ref_model", &c.RefModel, hub.ForModel},
		{"adapter_name_or_path", &c.AdapterNameOrPath, hub.ForAdapter},
		{"ref_model_adapters", &c.RefModelAdapters, hub.ForAdapter},
	} {
		dir, isHub, err := s.Dir(ctx, *f.v, c.ModelRevision, f.what)
		if err != nil {
			return fmt.Errorf("%s: %w", f.key, err)
		}
		if isHub {
			note(f.key, *f.v, dir)
			*f.v = dir
		}
	}
	var reg *data.Registry
	if c.DatasetDir != "" {
		reg, _ = data.LoadRegistry(c.DatasetDir) // a bad dataset_dir is reported by data.Load
	}
	trlEval := c.EvalDataset != "" && c.EvalDataset == c.Dataset // TRL's scripts: the test split of the training dataset
	for _, f := range []struct {
		key, split string
		v          *string
	}{
		{"dataset", orDefault(c.DatasetTrainSplit, "train"), &c.Dataset},
		{"eval_dataset", orDefault(c.DatasetTestSplit, "test"), &c.EvalDataset},
	} {
		if *f.v == "" {
			continue
		}
		items := strings.Split(*f.v, ",")
		changed := false
		for i, item := range items {
			item = strings.TrimSpace(item)
			if reg != nil {
				if _, ok := reg.Entries[item]; ok {
					continue
				}
			}
			files, isHub, err := s.DatasetFiles(ctx, item, "", f.split)
			if err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
			if !isHub {
				local, ok, err := localSplitFiles(item, f.split, trlEval && f.key == "eval_dataset")
				if err != nil {
					return fmt.Errorf("%s: %w", f.key, err)
				}
				if ok {
					fmt.Fprintf(log, "%s: %s (split %s) -> %s\n", f.key, item, f.split, strings.Join(local, ", "))
					items[i] = strings.Join(local, ",")
					changed = true
				}
			}
			if isHub {
				note(f.key, item+" (split "+f.split+")", strings.Join(files, ", "))
				items[i] = strings.Join(files, ",")
				changed = true
			}
		}
		if changed {
			*f.v = strings.Join(items, ",")
		}
	}
	return nil
}

// hubSplitFiles resolves the Hub datasets of dataset_info.json entries (hf_hub_url).
func hubSplitFiles(log io.Writer) func(repoID, split string) ([]string, error) {
	return func(repoID, split string) ([]string, error) {
		s := hub.FromEnv()
		s.Progress = log
		files, _, err := s.DatasetFiles(context.Background(), repoID, "", split)
		return files, err
	}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
