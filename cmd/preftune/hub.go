package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/hf/hub"
)

// hubSettings is the environment's hub settings (package hub: HF_HUB_CACHE,
// HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE) with download progress on stderr, redrawn
// in place when it is a terminal.
func hubSettings(stderr io.Writer) hub.Settings {
	s := hub.FromEnv()
	s.Progress = stderr
	s.Terminal = isTerminal(stderr)
	return s
}

// hubSplitFiles resolves the Hub datasets of dataset_info.json entries (hf_hub_url)
// for data.Options.Hub.
func hubSplitFiles(stderr io.Writer) func(repoID, split string) ([]string, error) {
	return func(repoID, split string) ([]string, error) {
		s := hubSettings(stderr)
		files, _, err := s.DatasetFiles(context.Background(), repoID, "", split)
		return files, err
	}
}

// hubArg is a flag whose value may name a Hugging Face Hub repo.
type hubArg struct {
	flag string
	v    *string
	// what: hub.ForModel, hub.ForAdapter, or "data" (a dataset repo's train split;
	// comma-separated items are resolved one by one).
	what string
	// datasetDir, for "data": names registered in its dataset_info.json stay names.
	datasetDir string
}

// resolveHubArgs replaces each flag value that is no local path but looks like
// org/name with its local snapshot in the hub cache (package hub: HF_HUB_CACHE,
// HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE), downloading what is missing, with a
// progress bar on stderr when it is a terminal. Failures are bad input naming the flag.
func resolveHubArgs(stderr io.Writer, args ...hubArg) error {
	s := hubSettings(stderr)
	ctx := context.Background()
	for _, a := range args {
		if *a.v == "" {
			continue
		}
		if a.what != "data" {
			dir, isHub, err := s.Dir(ctx, *a.v, "", a.what)
			if err != nil {
				return badInputf("--%s: %w", a.flag, err)
			}
			if isHub {
				fmt.Fprintf(stderr, "hub: --%s %s -> %s\n", a.flag, *a.v, dir)
				*a.v = dir
			}
			continue
		}
		var reg *data.Registry
		if a.datasetDir != "" {
			reg, _ = data.LoadRegistry(a.datasetDir) // a bad dataset_dir is reported by data.Load
		}
		items := strings.Split(*a.v, ",")
		for i, item := range items {
			if reg != nil {
				if _, ok := reg.Entries[strings.TrimSpace(item)]; ok {
					continue
				}
			}
			files, isHub, err := s.DatasetFiles(ctx, strings.TrimSpace(item), "", "train")
			if err != nil {
				return badInputf("--%s: %w", a.flag, err)
			}
			if isHub {
				fmt.Fprintf(stderr, "hub: --%s %s (split train) -> %s\n", a.flag, item, strings.Join(files, ", "))
				items[i] = strings.Join(files, ",")
			}
		}
		*a.v = strings.Join(items, ",")
	}
	return nil
}
