package config

import (
	"os"
	"strings"

	"github.com/preftune/preftune/hf/hub"
)

// TRL's scripts (trl/scripts/dpo.py, kto.py, examples/scripts/cpo.py, orpo.py, …) train
// on dataset[dataset_train_split] and, when eval_strategy is not "no", evaluate on
// dataset[dataset_test_split] of the same dataset: the splits the datasets library
// finds in a Hub dataset repo or a local directory (file names such as
// data/test-00000-of-00001.parquet or test.jsonl; hf/hub.Splits). evalOnTestSplit
// reports whether the config is such a case — one dataset that is a Hub dataset id or
// a local directory, no eval_dataset, no val_size, no LLaMA-Factory dataset_dir — so
// that eval_dataset becomes the same dataset, read at its test split (train's
// resolveHub and resolveLocalSplits pick the files of each split).
func evalOnTestSplit(c *Config) bool {
	item := strings.TrimSpace(c.Dataset)
	if item == "" || strings.Contains(item, ",") || c.EvalDataset != "" || c.ValSize > 0 || c.DatasetDir != "" {
		return false
	}
	if st, err := os.Stat(item); err == nil {
		return st.IsDir()
	}
	return hub.LooksLikeRepoID(item)
}
