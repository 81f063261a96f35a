package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The real files under the repository's testdata/preferences, checked against the
// independent Python reading in reference/data/expected.py (golden files in
// testdata/golden).

const prefDir = "../testdata/preferences"

type goldenFile struct {
	File    string `json:"file"`
	Rows    int    `json:"rows"`
	Entries []struct {
		Row      int    `json:"row"`
		Status   string `json:"status"`
		SHA256   string `json:"sha256"`
		Kind     string `json:"kind"`
		Label    *bool  `json:"label"`
		Segments []struct {
			Text     *string   `json:"text"`
			Messages []Message `json:"messages"`
		} `json:"segments"`
	} `json:"entries"`
}

// digest mirrors expected.py's canonical digest of a converted row.
func digest(ex *Example) string {
	segBytes := func(s Segment, conv bool) []byte {
		if !conv {
			return append([]byte("T"), s.Text...)
		}
		b := []byte("M")
		for _, m := range s.Messages {
			b = append(b, m.Role...)
			b = append(b, 0x1f)
			b = append(b, m.Content...)
			b = append(b, 0x1e)
		}
		return b
	}
	h := sha256.New()
	h.Write([]byte(ex.Kind.String()))
	segs := []Segment{ex.Prompt, ex.Chosen, ex.Rejected}
	if ex.Kind == KindUnpaired {
		segs = []Segment{ex.Prompt, ex.Completion}
	}
	for _, s := range segs {
		h.Write([]byte{0x1d})
		h.Write(segBytes(s, ex.Conversational))
	}
	if ex.Kind == KindUnpaired {
		l := []byte("0")
		if ex.Label {
			l = []byte("1")
		}
		h.Write(append([]byte{0x1d, 'L'}, l...))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestRealData(t *testing.T) {
	tests := []struct {
		golden string // testdata/golden/<golden>.json
		spec   string
		opts   Options
		rows   int
		format Format
		kind   Kind
	}{
		{"hh_rlhf_harmless_200", filepath.Join(prefDir, "hh_rlhf_harmless_200.jsonl"), Options{}, 200, FormatHHRLHF, KindPair},
		{"ultrafeedback_binarized_200", filepath.Join(prefDir, "ultrafeedback_binarized_200.jsonl"), Options{}, 200, FormatTRL, KindPair},
		{"dpo_en_demo", "dpo_en_demo", Options{DatasetDir: filepath.Join(prefDir, "llamafactory")}, 300, FormatShareGPT, KindPair},
		{"dpo_zh_demo", "dpo_zh_demo", Options{DatasetDir: filepath.Join(prefDir, "llamafactory")}, 300, FormatShareGPT, KindPair},
		{"kto_en_demo", "kto_en_demo", Options{DatasetDir: filepath.Join(prefDir, "llamafactory")}, 300, FormatShareGPT, KindUnpaired},
		// The same file named by path: its directory's dataset_info.json entry applies.
		{"dpo_en_demo", filepath.Join(prefDir, "llamafactory", "dpo_en_demo.json"), Options{}, 300, FormatShareGPT, KindPair},
		{"kto_en_demo", filepath.Join(prefDir, "llamafactory", "kto_en_demo.json"), Options{}, 300, FormatShareGPT, KindUnpaired},
	}
	for _, tc := range tests {
		t.Run(tc.golden+"/"+filepath.Base(tc.spec), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "golden", tc.golden+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var g goldenFile
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			tc.opts.Policy = PolicyDrop
			ds, err := Load(tc.spec, tc.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			rep := ds.Report
			if rep.Rows != tc.rows || g.Rows != tc.rows {
				t.Fatalf("rows: got %d, golden %d, want %d", rep.Rows, g.Rows, tc.rows)
			}
			byRow := map[int]*Example{}
			for i := range ds.Examples {
				ex := &ds.Examples[i]
				byRow[ex.Row] = ex
				if ex.Format != tc.format || ex.Kind != tc.kind {
					t.Errorf("row %d: format %s kind %s, want %s %s", ex.Row, ex.Format, ex.Kind, tc.format, tc.kind)
				}
			}
			status := map[string]int{}
			for _, e := range g.Entries {
				status[e.Status]++
				ex := byRow[e.Row]
				if (ex != nil) != (e.Status == "ok") {
					t.Errorf("row %d: loaded=%v, reference status %s", e.Row, ex != nil, e.Status)
					continue
				}
				if ex == nil {
					continue
				}
				if got := digest(ex); got != e.SHA256 {
					t.Errorf("row %d: converted content differs from the reference (digest %s, want %s)", e.Row, got[:12], e.SHA256[:12])
				}
				if e.Segments == nil {
					continue
				}
				segs := []Segment{ex.Prompt, ex.Chosen, ex.Rejected}
				if ex.Kind == KindUnpaired {
					segs = []Segment{ex.Prompt, ex.Completion}
					if e.Label == nil || *e.Label != ex.Label {
						t.Errorf("row %d: label %v, want %v", e.Row, ex.Label, e.Label)
					}
				}
				if len(segs) != len(e.Segments) {
					t.Fatalf("row %d: %d segments, golden %d", e.Row, len(segs), len(e.Segments))
				}
				for i, gs := range e.Segments {
					want := Segment{Messages: gs.Messages}
					if gs.Text != nil {
						want.Text = *gs.Text
					}
					if !segs[i].Equal(want) {
						t.Errorf("row %d segment %d:\n got %+v\nwant %+v", e.Row, i, segs[i], want)
					}
				}
			}
			if rep.Loaded != status["ok"] || rep.Invalid != status["invalid"] || rep.Dropped != status["dropped"] {
				t.Errorf("report loaded %d invalid %d dropped %d; reference %v", rep.Loaded, rep.Invalid, rep.Dropped, status)
			}
		})
	}
}

// TestRealDataFacts pins a few facts about the real files seen by eye.
func TestRealDataFacts(t *testing.T) {
	ds, err := Load(filepath.Join(prefDir, "hh_rlhf_harmless_200.jsonl"), Options{Policy: PolicyDrop})
	if err != nil {
		t.Fatal(err)
	}
	ex := ds.Examples[0]
	if got, want := ex.Chosen.Text, " No, sorry!  All of these involve a pen, the point is that you can get funny results by doing pranks with pens."; got != want {
		t.Errorf("hh row 1 chosen = %q, want %q", got, want)
	}
	if !hasSuffix(ex.Prompt.Text, "\n\nHuman: okay some of these do not have anything to do with pens\n\nAssistant:") {
		t.Errorf("hh row 1 prompt ends %q", ex.Prompt.Text[max(0, len(ex.Prompt.Text)-80):])
	}
	// Row 87's chosen transcript ends with an empty assistant turn.
	if len(ds.Report.Issues) != 1 || ds.Report.Issues[0].Error() != "../testdata/preferences/hh_rlhf_harmless_200.jsonl:87:chosen: empty completion" {
		t.Errorf("issues: %v", ds.Report.Issues)
	}

	uf, err := Load(filepath.Join(prefDir, "ultrafeedback_binarized_200.jsonl"), Options{Policy: PolicyDrop})
	if err != nil {
		t.Fatal(err)
	}
	if uf.Report.Identical != 1 || uf.Report.Loaded != 200 {
		t.Errorf("ultrafeedback: identical %d loaded %d, want 1 and 200", uf.Report.Identical, uf.Report.Loaded)
	}
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }
