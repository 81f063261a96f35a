package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// What an argument names, which decides the files picked.
const (
	ForModel   = "model"
	ForAdapter = "adapter"
	// ForTokenizer: a repo read for its tokenizer only (no weights needed).
	ForTokenizer = "tokenizer"
)

// Dir resolves a model, adapter or tokenizer argument (what is ForModel, ForAdapter
// or ForTokenizer): a local
// path, or anything that does not look like a repo id, is returned as is; a repo id is
// resolved to its snapshot directory. hub says whether it was a repo id.
func (s Settings) Dir(ctx context.Context, arg, revision, what string) (dir string, hub bool, err error) {
	if !LooksLikeRepoID(arg) {
		return arg, false, nil
	}
	pick := ModelPicker
	switch what {
	case ForAdapter:
		pick = AdapterPicker
	case ForTokenizer:
		pick = TokenizerPicker
	}
	snap, err := s.Resolve(ctx, arg, Model, revision, pick)
	if err != nil {
		return "", true, notLocal(arg, err)
	}
	return snap.Dir, true, nil
}

// DatasetFiles resolves a dataset argument: a local path (or anything that does not
// look like a repo id) is returned as is; a dataset repo id gives the local paths of
// its split's data files (Splits).
func (s Settings) DatasetFiles(ctx context.Context, arg, revision, split string) (files []string, hub bool, err error) {
	if !LooksLikeRepoID(arg) {
		return []string{arg}, false, nil
	}
	// the dataset card first: its configs, when it has them, say which files are which split
	card, err := s.Resolve(ctx, arg, Dataset, revision, func(files []string) ([]string, error) {
		if slices.Contains(files, "README.md") {
			return []string{"README.md"}, nil
		}
		return nil, nil
	})
	if err != nil {
		return nil, true, notLocal(arg, err)
	}
	var readme []byte
	if len(card.Files) == 1 {
		if readme, err = os.ReadFile(filepath.Join(card.Dir, "README.md")); err != nil {
			return nil, true, err
		}
	}
	revision = card.Commit // both steps see one commit
	snap, err := s.Resolve(ctx, arg, Dataset, revision, SplitPicker(split, readme))
	if err != nil {
		return nil, true, notLocal(arg, err)
	}
	for _, f := range snap.Files {
		files = append(files, filepath.Join(snap.Dir, filepath.FromSlash(f)))
	}
	return files, true, nil
}

// notLocal says, for a repo the Hub does not know or show (the Hub answers 401 for a
// repo that does not exist), that the argument was no local path either: it may be a
// mistyped one.
func notLocal(arg string, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotCached) || errors.Is(err, ErrAccess) {
		return fmt.Errorf("%s is not a local file or directory, so it was looked up as a Hugging Face Hub id: %w", arg, err)
	}
	return err
}
