//go:build preftune_noparquet

package data

import (
	"fmt"
	"io"
)

// readParquet, in a build without Parquet support (the fuzz campaign's: parquet-go
// and its codecs hold ~70% of the data package's coverage counters, which Go's fuzzer
// scans after every exec, and no fuzz harness reads Parquet), refuses the file.
func readParquet(path string, _ io.ReaderAt, _ int64, _ int, _ func(*Record) error) error {
	return fmt.Errorf("dataset %s: this preftune was built without Parquet support (build tag preftune_noparquet)", path)
}
