#!/usr/bin/env python3
"""Read a Hugging Face hub cache with huggingface_hub's own readers and print what
they see, as JSON (the Go tests of hf/hub compare it with testdata/scan_cache.json).

    python3 scan_cache.py CACHE_DIR [REPO_TYPE:REPO_ID:REVISION:FILE ...]

It uses huggingface_hub.scan_cache_dir (the `hf cache scan` reader) and
try_to_load_from_cache (what transformers calls before any download). huggingface_hub
is taken from an installed package, or else from a source checkout named by
$HF_HUB_SRC (e.g. a clone's src/ directory): its cache readers need none of its
network dependencies, so those (httpx, filelock, tqdm, yaml, fsspec, packaging) are
replaced by inert stand-ins when missing. Paths are printed relative to CACHE_DIR.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import types


def _stub_missing(names):
    class Inert(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)

            class Meta(type):
                def __getattr__(cls, n):
                    if n.startswith("__"):
                        raise AttributeError(n)
                    return lambda *a, **k: None

            return Meta(name, (Exception,), {})

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in names:
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            return Inert(spec.name)

        def exec_module(self, module):
            module.__path__ = []

    sys.meta_path.insert(0, Finder())


def _import_hub():
    src = os.environ.get("HF_HUB_SRC")
    if importlib.util.find_spec("huggingface_hub") is None:
        if not src:
            sys.exit("huggingface_hub is not installed and HF_HUB_SRC is not set")
        sys.path.insert(0, src)
    missing = [m for m in ("httpx", "filelock", "tqdm", "yaml", "fsspec", "packaging", "hf_xet")
               if importlib.util.find_spec(m) is None]
    _stub_missing(set(missing))
    from huggingface_hub.utils._cache_manager import scan_cache_dir
    from huggingface_hub.file_download import try_to_load_from_cache
    return scan_cache_dir, try_to_load_from_cache


def main():
    cache = os.path.abspath(sys.argv[1])
    scan_cache_dir, try_to_load_from_cache = _import_hub()
    rel = lambda p: os.path.relpath(str(p), cache)
    info = scan_cache_dir(cache)
    repos = []
    for r in sorted(info.repos, key=lambda r: (r.repo_type, r.repo_id)):
        revs = []
        for v in sorted(r.revisions, key=lambda v: v.commit_hash):
            files = [{"file_name": f.file_name, "file_path": rel(f.file_path), "blob_path": rel(f.blob_path),
                      "size_on_disk": f.size_on_disk}
                     for f in sorted(v.files, key=lambda f: str(f.file_path))]
            revs.append({"commit_hash": v.commit_hash, "refs": sorted(v.refs), "nb_files": v.nb_files,
                         "snapshot_path": rel(v.snapshot_path), "files": files})
        repos.append({"repo_id": r.repo_id, "repo_type": r.repo_type, "repo_path": rel(r.repo_path),
                      "nb_files": r.nb_files, "size_on_disk": r.size_on_disk,
                      "refs": sorted(r.refs), "revisions": revs})
    lookups = []
    for q in sys.argv[2:]:
        kind, repo_id, revision, filename = q.split(":", 3)
        got = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=revision, repo_type=kind)
        lookups.append({"query": q, "path": rel(got) if isinstance(got, str) else None})
    out = {"repos": repos, "warnings": sorted(str(w).replace(cache, "CACHE") for w in info.warnings),
           "lookups": lookups}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
