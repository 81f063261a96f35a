package data

import "fmt"

// lfHubAttr reads an entry's hf_hub_url (which LLaMA-Factory prefers to file_name)
// and split (default train) into a; hub says whether the entry is a Hub dataset.
// LLaMA-Factory's subset and folder (a config and a directory inside the repo) are
// refused rather than ignored.
func lfHubAttr(e map[string]any, a *LFAttr, bad func(field, want string, v any) error) (hub bool, err error) {
	v, ok := e["hf_hub_url"]
	if !ok || v == nil {
		return false, nil
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return false, bad("hf_hub_url", "a Hub dataset id like org/name", v)
	}
	a.HubURL, a.Split = s, "train"
	if sp, ok := e["split"]; ok && sp != nil {
		if a.Split, ok = sp.(string); !ok || a.Split == "" {
			return false, bad("split", "a split name", sp)
		}
	}
	for _, k := range []string{"subset", "folder"} {
		if x, ok := e[k]; ok && x != nil {
			return false, bad(k, "absent (a Hub dataset is read by its default config from the repo root)", x)
		}
	}
	return true, nil
}

// hubFiles are the local files of a registry entry's Hub dataset (Options.Hub).
func (l *loader) hubFiles(a LFAttr) ([]string, error) {
	if l.opts.Hub == nil {
		return nil, fmt.Errorf("dataset %s is remote (hf_hub_url %s): this command reads local files only", a.Name, a.HubURL)
	}
	files, err := l.opts.Hub(a.HubURL, a.Split)
	if err != nil {
		return nil, fmt.Errorf("dataset %s (hf_hub_url %s): %w", a.Name, a.HubURL, err)
	}
	return files, nil
}
