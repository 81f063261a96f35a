package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestMarshalYAMLRoundTrip: training_args.yaml read back gives the same resolved
// config, for TRL- and LLaMA-Factory-style files with aliases, lists, nulls and
// strings YAML would otherwise read as other types.
func TestMarshalYAMLRoundTrip(t *testing.T) {
	cases := map[string]string{
		"TRL":           "model_name_or_path: m\ndataset: 'a.json,b.json'\noutput_dir: 'out dir/x: y'\nbeta: 0.25\nloss_type: [sigmoid, sft]\nloss_weights: [1, 0.5]\nrpo_alpha: 0.3\nreport_to: [tensorboard, wandb]\nrun_name: 'yes'\nlearning_rate: 5.0e-7\n",
		"LLaMA-Factory": "stage: dpo\nmodel_name_or_path: m\ndataset: dpo_en_demo\ndataset_dir: data\noutput_dir: o\npref_beta: 0.1\ncutoff_len: 512\nreport_to: none\nbf16: true\n",
		"eval only":     "model_name_or_path: m\neval_dataset: e.jsonl\noutput_dir: o\ndo_train: false\ndo_eval: true\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			l, err := Parse([]byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := l.MarshalYAML([]string{"preftune test", "commit: x"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(raw), "# preftune test\n# commit: x\n") {
				t.Errorf("header missing:\n%s", raw)
			}
			back, err := Parse(raw, nil)
			if err != nil {
				t.Fatalf("reading back: %v\n%s", err, raw)
			}
			if !reflect.DeepEqual(back.Config, l.Config) {
				t.Errorf("round trip differs:\nwant %+v\n got %+v\n%s", l.Config, back.Config, raw)
			}
		})
	}
}

func TestReportTo(t *testing.T) {
	base := "model_name_or_path: m\ndataset: d\noutput_dir: o\n"
	cases := []struct {
		val         string
		tb          bool
		unsupported []string
	}{
		{"tensorboard", true, nil},
		{"all", true, nil},
		{"[tensorboard, wandb]", true, []string{"wandb"}},
		{"wandb,mlflow", false, []string{"mlflow", "wandb"}},
		{"none", false, nil},
		{"'none'", false, nil},
		{"TensorBoard", true, nil},
	}
	for _, c := range cases {
		l, err := Parse([]byte(base+"report_to: "+c.val+"\n"), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.val, err)
		}
		if l.Reports("tensorboard") != c.tb || !reflect.DeepEqual(l.UnsupportedReports(), c.unsupported) {
			t.Errorf("report_to %s: tensorboard %v, unsupported %v; want %v, %v", c.val, l.Reports("tensorboard"), l.UnsupportedReports(), c.tb, c.unsupported)
		}
	}
}

func TestEvalOnlyValidation(t *testing.T) {
	cases := []struct{ yaml, errKey string }{
		{"model_name_or_path: m\noutput_dir: o\neval_dataset: e\ndo_train: false\ndo_eval: true\n", ""},
		{"model_name_or_path: m\noutput_dir: o\ndataset: d\nval_size: 0.1\ndo_train: false\ndo_eval: true\n", ""},
		{"model_name_or_path: m\noutput_dir: o\ndataset: d\ndo_train: false\ndo_eval: true\n", "do_eval"},
		{"model_name_or_path: m\noutput_dir: o\neval_dataset: e\ndo_train: false\n", "do_train"},
		{"model_name_or_path: m\noutput_dir: o\neval_dataset: e\n", "dataset"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), nil)
		switch {
		case c.errKey == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.errKey != "" && (err == nil || !strings.HasPrefix(err.Error(), c.errKey+":")):
			t.Errorf("%q: error %v, want one about %s", c.yaml, err, c.errKey)
		}
	}
}
