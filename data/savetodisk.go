package data

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkSaveToDisk refuses a folder written by Hugging Face datasets' save_to_disk (a
// Dataset: state.json, dataset_info.json and *.arrow; a DatasetDict: dataset_dict.json
// and one such folder per split). Its dataset_info.json is not LLaMA-Factory's registry
// and its Arrow files are not read: the error says how to export the data.
func checkSaveToDisk(dir string) error {
	isDataset := func(d string) bool {
		if !isFile(filepath.Join(d, "state.json")) {
			return false
		}
		arrow, _ := filepath.Glob(filepath.Join(d, "*.arrow"))
		return len(arrow) > 0
	}
	kind := ""
	switch {
	case isDataset(dir):
		kind = "Dataset"
	case isFile(filepath.Join(dir, "dataset_dict.json")):
		kind = "DatasetDict"
	default:
		return nil
	}
	return fmt.Errorf("%s is a Hugging Face datasets save_to_disk folder (a %s in Arrow files), which preftune does not read: "+
		"export it to JSON Lines or Parquet with Python, e.g. datasets.load_from_disk(%q)%s.to_json(\"pairs.jsonl\"), and pass that file",
		dir, kind, dir, map[string]string{"Dataset": "", "DatasetDict": "[\"train\"]"}[kind])
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
