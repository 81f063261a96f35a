package hub

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// cardConfigs reads the `configs` of a dataset card's YAML header (README.md), which
// the datasets library uses instead of its file-name patterns when present:
//
//	configs:
//	- config_name: default
//	  data_files:
//	  - split: train
//	    path: data/train-*
//
// It returns the chosen config's split → path patterns, in the card's order, and
// whether the card has configs at all. The config used is the one marked
// `default: true`, else the one named "default", else the only one.
func cardConfigs(readme []byte) (patterns map[string][]string, order []string, ok bool, err error) {
	front, found := frontMatter(readme)
	if !found {
		return nil, nil, false, nil
	}
	var card struct {
		Configs []struct {
			Name      string    `yaml:"config_name"`
			Default   bool      `yaml:"default"`
			DataFiles yaml.Node `yaml:"data_files"`
		} `yaml:"configs"`
	}
	if err := yaml.Unmarshal(front, &card); err != nil {
		return nil, nil, false, fmt.Errorf("README.md metadata: %w", err)
	}
	if len(card.Configs) == 0 {
		return nil, nil, false, nil
	}
	pick := -1
	for i, c := range card.Configs {
		if c.Default {
			pick = i
			break
		}
	}
	for i, c := range card.Configs {
		if pick < 0 && c.Name == "default" {
			pick = i
		}
	}
	if pick < 0 && len(card.Configs) == 1 {
		pick = 0
	}
	if pick < 0 {
		var names []string
		for _, c := range card.Configs {
			names = append(names, c.Name)
		}
		return nil, nil, true, fmt.Errorf("README.md defines configs %s and none is the default; give the data files of one as dataset instead", strings.Join(names, ", "))
	}
	patterns = map[string][]string{}
	add := func(split string, n *yaml.Node) error {
		var ps []string
		switch n.Kind {
		case yaml.ScalarNode:
			ps = []string{n.Value}
		case yaml.SequenceNode:
			if err := n.Decode(&ps); err != nil {
				return err
			}
		default:
			return fmt.Errorf("path of split %s: expected a string or a list", split)
		}
		if _, seen := patterns[split]; !seen {
			order = append(order, split)
		}
		patterns[split] = append(patterns[split], ps...)
		return nil
	}
	df := &card.Configs[pick].DataFiles
	switch df.Kind {
	case 0:
		return nil, nil, true, nil // a config without data_files: the default patterns apply
	case yaml.ScalarNode:
		err = add("train", df)
	case yaml.SequenceNode:
		if len(df.Content) > 0 && df.Content[0].Kind == yaml.MappingNode {
			for _, e := range df.Content {
				var entry struct {
					Split string    `yaml:"split"`
					Path  yaml.Node `yaml:"path"`
				}
				if err = e.Decode(&entry); err != nil {
					break
				}
				if entry.Split == "" {
					entry.Split = "train"
				}
				if err = add(entry.Split, &entry.Path); err != nil {
					break
				}
			}
		} else {
			err = add("train", df)
		}
	default:
		err = fmt.Errorf("expected a string or a list")
	}
	if err != nil {
		return nil, nil, true, fmt.Errorf("README.md configs[%d].data_files: %w", pick, err)
	}
	return patterns, order, true, nil
}

// frontMatter is the YAML between a leading "---" line and the next "---" line.
func frontMatter(readme []byte) ([]byte, bool) {
	s := bytes.ReplaceAll(readme, []byte("\r\n"), []byte("\n"))
	if !bytes.HasPrefix(s, []byte("---\n")) {
		return nil, false
	}
	rest := s[4:]
	end := bytes.Index(rest, []byte("\n---"))
	if end < 0 {
		return nil, false
	}
	return rest[:end+1], true
}

// cardSplits maps files to splits by the card's patterns (globs from the repo root;
// "**" spans directories). Each split's files are sorted and unique.
func cardSplits(patterns map[string][]string, order []string, files []string) (map[string][]string, []string) {
	out := map[string][]string{}
	for _, split := range order {
		seen := map[string]bool{}
		for _, p := range patterns[split] {
			for _, f := range files {
				if !seen[f] && isDataFile(f) && globMatch(strings.TrimPrefix(p, "./"), f) {
					seen[f] = true
					out[split] = append(out[split], f)
				}
			}
		}
		sort.Strings(out[split])
	}
	return out, order
}
