//go:build !preftune_noparquet

package data

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestParquetMatchesJSON reads the Parquet fixtures (written from their JSON twins by
// reference/data/genparquet, with nested LIST and struct columns) and checks they give
// exactly the examples the JSON gives.
func TestParquetMatchesJSON(t *testing.T) {
	tests := []struct{ parquet, json string }{
		{"trl_standard.parquet", "trl_standard.jsonl"},
		{"trl_conversational.parquet", "trl_conversational_plain.jsonl"},
		{"pretokenized.parquet", "pretokenized.jsonl"},
		{"listwise.parquet", "listwise_scores.jsonl"},
		{"sharegpt_ranking.parquet", "sharegpt_ranking.json"},
		{"sharegpt_kto.parquet", "sharegpt_kto.json"},
	}
	for _, tc := range tests {
		t.Run(tc.parquet, func(t *testing.T) {
			want, err := Load(filepath.Join(fx, tc.json), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(filepath.Join(fx, tc.parquet), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Examples) != len(want.Examples) || len(want.Examples) == 0 {
				t.Fatalf("%d examples, want %d", len(got.Examples), len(want.Examples))
			}
			for i := range want.Examples {
				g, w := gotOf(&got.Examples[i]), gotOf(&want.Examples[i])
				if !reflect.DeepEqual(g, w) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i+1, g, w)
				}
			}
		})
	}
}

// TestParquetBadInput writes Parquet files with a wrong schema, invalid UTF-8 and an
// over-long string, and checks each problem is reported as file:row:field.
func TestParquetBadInput(t *testing.T) {
	type wrongType struct {
		Prompt   string `parquet:"prompt"`
		Chosen   int64  `parquet:"chosen"`
		Rejected string `parquet:"rejected"`
	}
	type standard struct {
		Prompt   string `parquet:"prompt"`
		Chosen   string `parquet:"chosen"`
		Rejected string `parquet:"rejected"`
	}
	type onlyPrompt struct {
		Prompt string `parquet:"prompt"`
		Chosen string `parquet:"chosen"`
	}
	dir := t.TempDir()
	write := func(name string, f func(p string) error) string {
		p := filepath.Join(dir, name)
		if err := f(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		path     string
		opts     Options
		want     []string // every issue, in order, with the directory removed
		sentinel error
	}{
		{"wrong column type", write("type.parquet", func(p string) error {
			return parquet.WriteFile(p, []wrongType{{"p", 5, "b"}, {"q", 6, "c"}})
		}), Options{}, []string{
			"type.parquet:1:chosen: expected a string or a list of messages, got number 5",
			"type.parquet:2:chosen: expected a string or a list of messages, got number 6",
		}, ErrWrongType},
		{"missing column", write("missing.parquet", func(p string) error {
			return parquet.WriteFile(p, []onlyPrompt{{"p", "a"}})
		}), Options{}, []string{"missing.parquet:1:rejected: missing field (row has: chosen, prompt)"}, ErrMissingField},
		{"invalid UTF-8", write("utf8.parquet", func(p string) error {
			return parquet.WriteFile(p, []standard{{"p", "a", "b"}, {"p", "ok", "b\xffc"}})
		}), Options{}, []string{"utf8.parquet:2:rejected: invalid UTF-8: byte 0xff at offset 1 of the string"}, ErrInvalidUTF8},
		{"string over the limit", write("big.parquet", func(p string) error {
			return parquet.WriteFile(p, []standard{{"p", strings.Repeat("x", 100), "b"}})
		}), Options{MaxRowBytes: 64}, []string{"big.parquet:1:chosen: row too large: a 100-byte string, over the 64 bytes limit (--max-row-bytes)"}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Policy = PolicyDrop
			ds, err := Load(tc.path, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, is := range ds.Report.Issues {
				got = append(got, strings.TrimPrefix(is.Error(), dir+"/"))
				if !errors.Is(is.RowError, tc.sentinel) {
					t.Errorf("%v does not wrap %v", is.RowError, tc.sentinel)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
