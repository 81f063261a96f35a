// Package atomicfile writes files so a reader (or a crash) sees either the old
// content or all of the new one, never a partial file: write a temporary file in the
// same directory, fsync it, rename it over the target, fsync the directory.
//
// Every output preftune writes — safetensors weights, checkpoints, adapters, logs,
// converted datasets, JSONL results — goes through here, so "no partial output left
// behind" is one mechanism rather than one per package.
//
// TryLock is the advisory lock of a run directory (flock, released by the kernel when
// its holder exits however it exits; the file's content only names the holder).
package atomicfile
