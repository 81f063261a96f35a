package hub

import (
	"reflect"
	"strings"
	"testing"
)

// TestSplits: data files → splits, cases from the datasets library's "repository
// structure" guide and its data_files.py patterns (sharded names first, then split
// keywords in directory names, then in file names, else everything is train).
func TestSplits(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		want  map[string][]string
		order string
	}{
		{"sharded parquet (trl-lib layout)", []string{"README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"},
			map[string][]string{"train": {"data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"}, "test": {"data/test-00000-of-00001.parquet"}}, "train,test"},
		{"custom sharded split", []string{"data/random-00000-of-00001.parquet", "data/validation-00000-of-00001.parquet", "data/alpha-00000-of-00001.jsonl"},
			map[string][]string{"random": {"data/random-00000-of-00001.parquet"}, "validation": {"data/validation-00000-of-00001.parquet"}, "alpha": {"data/alpha-00000-of-00001.jsonl"}}, "validation,alpha,random"},
		{"file names", []string{"data/train.jsonl", "data/test.jsonl", "dev.json", "extra.json"},
			map[string][]string{"train": {"data/train.jsonl"}, "validation": {"dev.json"}, "test": {"data/test.jsonl"}}, "train,validation,test"},
		{"keyword inside a name", []string{"my_train_file.json", "my_eval_file.json", "valid_data.jsonl"},
			map[string][]string{"train": {"my_train_file.json"}, "validation": {"valid_data.jsonl"}, "test": {"my_eval_file.json"}}, "train,validation,test"},
		{"numbered", []string{"train_0.jsonl", "train_1.jsonl", "testing_0.jsonl"},
			map[string][]string{"train": {"train_0.jsonl", "train_1.jsonl"}, "test": {"testing_0.jsonl"}}, "train,test"},
		{"directories beat file names", []string{"train/a.json", "train/sub/b.json", "test.json"},
			map[string][]string{"train": {"train/a.json", "train/sub/b.json"}}, "train"},
		{"directory with separators", []string{"my-train/x.parquet", "val.2/y.parquet"},
			map[string][]string{"train": {"my-train/x.parquet"}, "validation": {"val.2/y.parquet"}}, "train,validation"},
		{"no split names: all train", []string{"prefs.jsonl", "more/prefs2.json.gz", "trainer.json"},
			map[string][]string{"train": {"more/prefs2.json.gz", "prefs.jsonl", "trainer.json"}}, "train"},
		{"ignored files", []string{".hidden/train.json", "dataset_info.json", "config.json", "README.md", "notes.txt", "data.csv", "all.parquet"},
			map[string][]string{"train": {"all.parquet"}}, "train"},
		{"no data files", []string{"README.md", "x.csv"}, map[string][]string{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, order, err := Splits(c.files)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("splits %v, want %v", got, c.want)
			}
			if strings.Join(order, ",") != c.order {
				t.Errorf("order %v, want %s", order, c.order)
			}
		})
	}
	if _, _, err := Splits([]string{"data/bad-name-00000-of-00001.parquet"}); err == nil || !strings.Contains(err.Error(), `"bad-name"`) {
		t.Errorf("bad split name: %v", err)
	}
}
