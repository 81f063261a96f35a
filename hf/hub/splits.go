package hub

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// The datasets library's default data-files patterns (datasets/data_files.py,
// fsspec ≥ 2023.12 forms): first the sharded split pattern
// data/{split}-NNNNN-of-NNNNN*.*, then split keywords in directory names, then in
// file names, else everything is train.
var (
	splitKeywords = []struct {
		split    string
		keywords []string
	}{
		{"train", []string{"train", "training"}},
		{"validation", []string{"validation", "valid", "dev", "val"}},
		{"test", []string{"test", "testing", "eval", "evaluation"}},
	}
	// sep is NON_WORDS_CHARS "-._ 0-9" as a glob class ('-' escaped for path.Match).
	sep                 = `[\-._ 0-9]`
	dirNamePatterns     = []string{"**/{k}/**", "**/{k}" + sep + "*/**", "**/*" + sep + "{k}/**", "**/*" + sep + "{k}" + sep + "*/**"}
	fileNamePatterns    = []string{"**/{k}" + sep + "*", "**/*" + sep + "{k}" + sep + "*"}
	shardedSplitPattern = regexp.MustCompile(`^data/([^/]+)-[0-9]{5}-of-[0-9]{5}[^/]*\.[^/]*$`)
	splitNamePattern    = regexp.MustCompile(`^\w+(\.\w+)*$`)
)

// Splits maps a dataset repo's data files (parquet, jsonl, json; see isDataFile) to
// split names as the datasets library does when the repo has no loading script and
// no configs in its card: data/train-00000-of-00002.parquet → train, test/x.jsonl →
// test, my_valid.json → validation, and a repo without split names is all train. The
// order is train, validation, test, then other split names sorted; the files of a
// split are sorted.
func Splits(files []string) (map[string][]string, []string, error) {
	var data []string
	for _, f := range files {
		if isDataFile(f) {
			data = append(data, f)
		}
	}
	sort.Strings(data)
	out := map[string][]string{}
	// 1. data/{split}-00000-of-00001.parquet
	for _, f := range data {
		if m := shardedSplitPattern.FindStringSubmatch(f); m != nil {
			// string_to_dict on the base name: the split is what precedes -NNNNN-of-
			split := m[1]
			if !splitNamePattern.MatchString(split) {
				return nil, nil, fmt.Errorf("split name should match %s but got %q (from %s)", splitNamePattern, split, f)
			}
			out[split] = append(out[split], f)
		}
	}
	if len(out) == 0 {
		// 2. split keywords in directory names, 3. in file names
		for _, patterns := range [][]string{dirNamePatterns, fileNamePatterns} {
			for _, sk := range splitKeywords {
				seen := map[string]bool{}
				for _, k := range sk.keywords {
					for _, p := range patterns {
						for _, f := range data {
							if !seen[f] && globMatch(strings.ReplaceAll(p, "{k}", k), f) {
								seen[f] = true
								out[sk.split] = append(out[sk.split], f)
							}
						}
					}
				}
			}
			if len(out) > 0 {
				break
			}
		}
	}
	if len(out) == 0 && len(data) > 0 {
		out["train"] = data // 4. DEFAULT_PATTERNS_ALL
	}
	var names []string
	for _, sk := range splitKeywords {
		if _, ok := out[sk.split]; ok {
			names = append(names, sk.split)
		}
	}
	var other []string
	for s := range out {
		if s != "train" && s != "validation" && s != "test" {
			other = append(other, s)
		}
	}
	sort.Strings(other)
	return out, append(names, other...), nil
}

// SplitPicker picks the data files of one split: by the `configs` of the dataset
// card readme (README.md's YAML header) when it has them, else by file names (Splits).
func SplitPicker(split string, readme []byte) Picker {
	return func(files []string) ([]string, error) {
		m, names, err := Splits(files)
		if err != nil {
			return nil, err
		}
		patterns, order, ok, err := cardConfigs(readme)
		if err != nil {
			return nil, err
		}
		if ok && len(order) > 0 {
			m, names = cardSplits(patterns, order, files)
			if fs, ok := m[split]; ok && len(fs) == 0 {
				return nil, fmt.Errorf("split %q: README.md's data_files %v match no parquet, jsonl or json file", split, patterns[split])
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no data files (parquet, jsonl or json) among %s", list(files))
		}
		fs, ok := m[split]
		if !ok {
			return nil, fmt.Errorf("no split %q (splits: %s)", split, strings.Join(names, ", "))
		}
		return fs, nil
	}
}

// globMatch matches a '/'-separated path against a glob whose "**" segments match
// zero or more directories and whose other segments are path.Match patterns, as
// Python's glob with recursive=True (a trailing "**" matches one or more segments:
// files below the directory).
func globMatch(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(p, n []string) bool {
	if len(p) == 0 {
		return len(n) == 0
	}
	if p[0] == "**" {
		if len(p) == 1 {
			return len(n) > 0
		}
		for i := 0; i <= len(n); i++ {
			if matchSegs(p[1:], n[i:]) {
				return true
			}
		}
		return false
	}
	if len(n) == 0 {
		return false
	}
	ok, err := path.Match(p[0], n[0])
	return err == nil && ok && matchSegs(p[1:], n[1:])
}
