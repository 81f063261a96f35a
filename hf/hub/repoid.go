package hub

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
)

// Kind is a repository type.
type Kind string

const (
	Model   Kind = "model"
	Dataset Kind = "dataset"
)

// segment is one part of a repo id, as huggingface_hub's validate_repo_id accepts it:
// word characters, '-' and '.', starting and ending with a word character.
var repoIDPattern = regexp.MustCompile(`^([A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// commitPattern is a full commit hash (huggingface_hub's REGEX_COMMIT_HASH).
var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ValidRepoID reports why id is not a Hub repo id (nil when it is one).
func ValidRepoID(id string) error {
	switch {
	case !repoIDPattern.MatchString(id):
		return fmt.Errorf("repo id %q: expected 'name' or 'namespace/name' of letters, digits, '-', '_' and '.'", id)
	case strings.Contains(id, "--") || strings.Contains(id, ".."):
		return fmt.Errorf("repo id %q: '--' and '..' are not allowed", id)
	case strings.HasSuffix(id, ".git"):
		return fmt.Errorf("repo id %q cannot end with .git", id)
	case len(id) > 96:
		return fmt.Errorf("repo id %q is longer than 96 characters", id)
	}
	return nil
}

// localFileExt are endings that mark an argument as a file name, never a repo id.
var localFileExt = []string{".json", ".jsonl", ".parquet", ".gz", ".txt", ".csv", ".yaml", ".yml",
	".safetensors", ".bin", ".jinja", ".arrow"}

// LooksLikeRepoID says whether a model or dataset argument should be resolved on the
// Hub: it is not an existing local path, it is a valid repo id ('name' or 'org/name'),
// and it does not end like a data or weights file (a missing pairs.jsonl stays a
// missing file, not a repo).
func LooksLikeRepoID(arg string) bool {
	if arg == "" || ValidRepoID(arg) != nil {
		return false
	}
	if _, err := os.Lstat(arg); err == nil {
		return false
	}
	ext := strings.ToLower(path.Ext(arg))
	for _, e := range localFileExt {
		if ext == e {
			return false
		}
	}
	return true
}

// FolderName is the cache folder of a repo: models--org--name, datasets--org--name
// (huggingface_hub's repo_folder_name).
func FolderName(id string, kind Kind) string {
	return strings.Join(append([]string{string(kind) + "s"}, strings.Split(id, "/")...), "--")
}

// apiPrefix is the URL prefix of a repo type (REPO_TYPES_URL_PREFIXES): none for
// models, "datasets/" for datasets.
func urlPrefix(kind Kind) string {
	if kind == Dataset {
		return "datasets/"
	}
	return ""
}
