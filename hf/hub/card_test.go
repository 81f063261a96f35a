package hub

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/preftune/preftune/hf/hub/hubtest"
)

// TestCardConfigs: the `configs` of a dataset card decide the splits, in the forms the
// datasets library documents (a list of {split, path}, a path list, one string).
func TestCardConfigs(t *testing.T) {
	files := []string{"README.md", "prefs/a.jsonl", "prefs/b.jsonl", "heldout.jsonl", "data/train-00000-of-00001.parquet", "raw/x.csv"}
	cases := []struct {
		name   string
		readme string
		want   map[string][]string
		err    string
	}{
		{"split list", "---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: prefs/*.jsonl\n  - split: test\n    path: heldout.jsonl\n---\n# card\n",
			map[string][]string{"train": {"prefs/a.jsonl", "prefs/b.jsonl"}, "test": {"heldout.jsonl"}}, ""},
		{"path lists and default flag", "---\nconfigs:\n- config_name: other\n  data_files: raw/*\n- config_name: main\n  default: true\n  data_files:\n  - split: train\n    path:\n    - prefs/a.jsonl\n    - \"**/*.parquet\"\n---\n",
			map[string][]string{"train": {"data/train-00000-of-00001.parquet", "prefs/a.jsonl"}}, ""},
		{"one string", "---\nconfigs:\n- config_name: default\n  data_files: prefs/b.jsonl\n---\n", map[string][]string{"train": {"prefs/b.jsonl"}}, ""},
		{"no configs: file names", "---\nlicense: mit\n---\n", map[string][]string{"train": {"data/train-00000-of-00001.parquet"}}, ""},
		{"no header", "# just text\n", map[string][]string{"train": {"data/train-00000-of-00001.parquet"}}, ""},
		{"no default", "---\nconfigs:\n- config_name: a\n  data_files: x\n- config_name: b\n  data_files: y\n---\n", nil, "configs a, b and none is the default"},
		{"bad yaml", "---\nconfigs: [\n---\n", nil, "README.md metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := map[string][]string{}
			var err error
			for _, split := range []string{"train", "test", "validation"} {
				fs, e := SplitPicker(split, []byte(c.readme))(files)
				if e != nil && strings.Contains(e.Error(), "no split") {
					continue
				}
				if e != nil {
					err = e
					break
				}
				got[split] = fs
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want error %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestDatasetCardDownload: DatasetFiles reads README.md first and downloads only the
// files its configs assign to the split; offline, the cached card gives the same.
func TestDatasetCardDownload(t *testing.T) {
	srv := hubtest.New(t)
	srv.Add("dataset", "org/card", map[string][]byte{
		"README.md":     []byte("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: prefs/*.jsonl\n  - split: test\n    path: heldout.jsonl\n---\n"),
		"prefs/a.jsonl": []byte(`{"prompt":"a","chosen":"b","rejected":"c"}` + "\n"),
		"heldout.jsonl": []byte(`{"prompt":"x","chosen":"y","rejected":"z"}` + "\n"),
		"test.jsonl":    []byte("not the test split: the card says so\n"),
	}, false)
	s := settings(t, srv)
	for _, offline := range []bool{false, true} {
		s.Offline = offline
		got, _, err := s.DatasetFiles(context.Background(), "org/card", "", "test")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || filepath.Base(got[0]) != "heldout.jsonl" {
			t.Fatalf("offline %v: %v", offline, got)
		}
		if raw, _ := os.ReadFile(got[0]); !strings.Contains(string(raw), `"x"`) {
			t.Errorf("content %q", raw)
		}
	}
	if n := count(srv.Requests(), "hub", "GET", "/test.jsonl"); n != 0 {
		t.Errorf("test.jsonl fetched")
	}
}
