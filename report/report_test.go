package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEntryJSON(t *testing.T) {
	e := Entry{Step: 3, Epoch: 0.25, Values: map[string]float64{
		"rewards/margins": 0.1, "loss": 0.6931471805599453, "learning_rate": 5e-06, "grad_norm": 1.5, "logps/chosen": -12.25,
	}}
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"loss": 0.6931471805599453, "grad_norm": 1.5, "learning_rate": 5e-06, "logps/chosen": -12.25, "rewards/margins": 0.1, "epoch": 0.25, "step": 3}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Entry
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if back.Step != 3 || back.Epoch != 0.25 || back.Values["loss"] != e.Values["loss"] || len(back.Values) != 5 {
		t.Errorf("round trip: %+v", back)
	}
	nan, _ := Entry{Step: 1, Values: map[string]float64{"loss": math.NaN()}}.MarshalJSON()
	if !strings.Contains(string(nan), `"loss": "NaN"`) {
		t.Errorf("NaN written as %s", nan)
	}
}

func TestLogResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trainer_log.jsonl")
	l, err := CreateLog(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for s := 1; s <= 3; s++ {
		if err := l.Append(Entry{Step: s, Values: map[string]float64{"loss": float64(s)}}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	hist, err := ReadLog(path)
	if err != nil || len(hist) != 3 {
		t.Fatalf("%v %v", hist, err)
	}
	// a resume from step 2 rewrites the file to the checkpoint's history
	l, err = CreateLog(path, hist[:2])
	if err != nil {
		t.Fatal(err)
	}
	l.Append(Entry{Step: 3, Values: map[string]float64{"loss": 9}})
	l.Close()
	hist, _ = ReadLog(path)
	if len(hist) != 3 || hist[2].Values["loss"] != 9 {
		t.Errorf("after resume: %+v", hist)
	}
}

func TestSmooth(t *testing.T) {
	// LLaMA-Factory: weight = 1.8·(1/(1+e^(−0.05·n)) − 0.5), EMA from the first value
	v := []float64{1, 0, 0}
	w := 1.8 * (1/(1+math.Exp(-0.15)) - 0.5)
	got := Smooth(v)
	want := []float64{1, w, w * w}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("Smooth[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	var hist []Entry
	for s := 1; s <= 5; s++ {
		hist = append(hist, Entry{Step: s, Values: map[string]float64{"loss": 1 / float64(s), "rewards/accuracies": 0.5, "rewards/margins": float64(s)}})
	}
	files, err := Plot(dir, hist)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("wrote %v, want 3 plots (no eval_loss in the history)", files)
	}
	for _, name := range []string{"training_loss.png", "training_rewards_accuracies.png", "training_rewards_margins.png"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", name)
		}
	}
}

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 10, 0, false)
	p.Step(1, 0.5, nil)
	p.Step(2, 0.25, &Entry{Step: 2, Values: map[string]float64{"loss": 0.25, "learning_rate": 5e-6, "rewards/accuracies": 0.75}})
	p.Finish()
	if !strings.HasPrefix(b.String(), "step 2/10  loss 0.2500  lr 5e-06  rewards/accuracies 0.75  elapsed 0s  ETA 0s") || strings.Count(b.String(), "\n") != 1 {
		t.Errorf("plain progress output %q", b.String())
	}
}
