package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// content is an example without where it came from and how it was spelled.
func content(ex Example) want {
	w := gotOf(&ex)
	w.Row, w.Format = 0, ""
	return w
}

// TestConvertRoundTrip writes datasets in every output format and reads them back.
func TestConvertRoundTrip(t *testing.T) {
	lf := Options{DatasetDir: filepath.Join(prefDir, "llamafactory")}
	tests := []struct {
		spec string
		opts Options
		to   string
	}{
		{"dpo_en_demo", lf, OutTRLConversational},
		{"dpo_en_demo", lf, OutShareGPT},
		{"dpo_en_demo", lf, OutAlpaca},
		{"kto_en_demo", lf, OutShareGPT},
		{"kto_en_demo", lf, OutAlpaca},
		{"kto_en_demo", lf, OutTRLConversational},
		{filepath.Join(prefDir, "ultrafeedback_binarized_200.jsonl"), Options{}, OutTRL},
		{filepath.Join(fx, "listwise.jsonl"), Options{}, OutTRL},
		{filepath.Join(fx, "pretokenized.jsonl"), Options{}, OutTRL},
		{filepath.Join(fx, "unpaired.jsonl"), Options{}, OutTRLConversational},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.spec)+"→"+tc.to, func(t *testing.T) {
			src, err := Load(tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ext := ".jsonl"
			if tc.to == OutAlpaca || tc.to == OutShareGPT {
				ext = ".json"
			}
			out := filepath.Join(t.TempDir(), "out"+ext)
			if err := ConvertFile(out, src.Examples, tc.to, nil); err != nil {
				t.Fatal(err)
			}
			back, err := Load(out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Examples) != len(src.Examples) {
				t.Fatalf("%d rows back, wrote %d", len(back.Examples), len(src.Examples))
			}
			for i := range src.Examples {
				w := content(src.Examples[i])
				if tc.to == OutTRLConversational && !w.Conv { // text became one message each
					continue
				}
				if g := content(back.Examples[i]); !reflect.DeepEqual(g, w) {
					t.Fatalf("row %d:\n got %+v\nwant %+v", i+1, g, w)
				}
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	conv, err := Load(filepath.Join(fx, "trl_conversational.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "o.jsonl")
	err = ConvertFile(out, conv.Examples, OutTRL, nil)
	if err == nil || !strings.Contains(err.Error(), "trl_conversational.jsonl:1: conversational row: use --to trl-conversational") {
		t.Errorf("error %v", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Error("a failed conversion must not leave the output file")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := ConvertFile(out, conv.Examples, "csv", nil); err == nil || !strings.Contains(err.Error(), `unknown output format "csv"`) {
		t.Errorf("error %v", err)
	}
	lw, _ := Load(filepath.Join(fx, "listwise.jsonl"), Options{})
	if err := ConvertFile(out, lw.Examples, OutAlpaca, nil); err == nil || !strings.Contains(err.Error(), "listwise rows have no alpaca form") {
		t.Errorf("error %v", err)
	}
}
