package data

import (
	"path/filepath"
	"reflect"
	"testing"
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
