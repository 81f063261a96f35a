// Package hub resolves Hugging Face Hub repository ids (models and datasets) to local
// snapshot directories, through the cache exactly as huggingface_hub lays it out:
//
//	$HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//	├── .locks/models--org--name/<etag>.lock
//	└── models--org--name/                     (datasets--org--name for datasets)
//	    ├── blobs/<etag>                       (git sha1 of small files, sha256 of LFS files)
//	    ├── refs/main                          (the commit a branch or tag resolved to)
//	    └── snapshots/<commit>/<path>          (relative symlinks ../../blobs/<etag>)
//
// so a cache filled by Python tools is used as is, and one filled here is usable by
// them. Missing files are downloaded from $HF_ENDPOINT (default https://huggingface.co)
// as huggingface_hub does: the repo info API (/api/models/{id}/revision/{rev}) for the
// commit and the file list, then per file a HEAD of the resolve URL
// ({endpoint}/{id}/resolve/{commit}/{path}) for X-Repo-Commit, X-Linked-Etag / ETag,
// X-Linked-Size and the LFS redirect, then a GET into blobs/<etag>.incomplete, resumed
// with Range after a cut transfer, verified (sha256 for LFS blobs, git's blob sha1 for
// the others) and renamed into place, under a per-blob lock (flock, via atomicfile) so
// concurrent processes never corrupt the cache. HF_TOKEN (else the token file
// $HF_TOKEN_PATH or $HF_HOME/token) is sent as a bearer token, never to another host;
// HF_HUB_OFFLINE=1 uses the cache only; a network failure falls back to the cache.
//
// Only the files a run needs are fetched (NeededModelFile); a dataset repo's data files
// are mapped to splits as the datasets library maps file names (Splits).
package hub
