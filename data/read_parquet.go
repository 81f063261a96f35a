//go:build !preftune_noparquet

package data

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// readParquet reads a Parquet file row by row into generic maps (nested lists and
// structs become []any and map[string]any).
func readParquet(path string, ra io.ReaderAt, size int64, limit int, fn func(*Record) error) (err error) {
	// The Parquet decoder is third-party code reading untrusted bytes: turn a panic
	// on a corrupt file into an error.
	row := 0
	defer func() {
		if p := recover(); p != nil {
			err = &RowError{Source: path, Row: row, Err: ErrInvalidValue, Msg: fmt.Sprintf("corrupt Parquet file: %v", p)}
		}
	}()
	pf, err := parquet.OpenFile(ra, size)
	if err != nil {
		return fmt.Errorf("dataset %s: not a readable Parquet file: %w", path, err)
	}
	pr := parquet.NewReader(pf)
	defer pr.Close()
	for {
		row++
		m := map[string]any{}
		if err := pr.Read(&m); err != nil {
			if err == io.EOF {
				return nil
			}
			return &RowError{Source: path, Row: row, Err: ErrInvalidValue, Msg: "reading Parquet row: " + err.Error()}
		}
		rec := &Record{Source: path, Row: row, Fields: m}
		// Parquet strings are bytes: check them as the JSON readers check their text.
		if e := checkStrings(m, "", limit); e != nil {
			e.Source, e.Row = path, row
			rec.Fields, rec.Err = nil, e
		}
		if ferr := fn(rec); ferr != nil {
			return ferr
		}
	}
}
