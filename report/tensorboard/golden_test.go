package tensorboard

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/scalars.tfevents (then regenerate scalars.read.jsonl with reference/tensorboard/read_events.py)")

// goldenLogs are the scalars of testdata/scalars.tfevents.
var goldenLogs = []struct {
	step int
	vals map[string]float64
}{
	{1, map[string]float64{"loss": 0.6931471805599453, "rewards/margins": 0.0125, "learning_rate": 5e-6, "grad_norm": 1.5, "epoch": 0.25}},
	{10, map[string]float64{"eval_loss": 0.65, "eval_rewards/accuracies": 0.75, "epoch": 1}},
	{1 << 40, map[string]float64{"loss": -3.25e-20}},
}

func writeGolden(t *testing.T, dir string) string {
	t.Helper()
	clock := time.Unix(1_733_000_000, 500_000_000)
	w, err := Create(dir, func() time.Time { clock = clock.Add(1500 * time.Millisecond); return clock })
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range goldenLogs {
		if err := w.Log(l.step, l.vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Path()
}

// TestGoldenEventFile: the writer's bytes equal testdata/scalars.tfevents, whose
// decoding by the independent reader (reference/tensorboard/read_events.py, run when
// the golden was made) is testdata/scalars.read.jsonl — so this holds without Python.
func TestGoldenEventFile(t *testing.T) {
	got, err := os.ReadFile(writeGolden(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "scalars.tfevents")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("event file bytes differ from %s", golden)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "scalars.read.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []readEvent
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var e readEvent
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 || evs[0].FileVersion != "brain.Event:2" || evs[0].WallTime != 1_733_000_002 {
		t.Fatalf("reader's first event %+v", evs)
	}
	i := 1
	for li, l := range goldenLogs {
		for _, k := range sortedKeys(l.vals) {
			e := evs[i]
			i++
			wall := 1_733_000_002 + 1.5*float64(li+1)
			if e.Tag != Tag(k) || e.Step != int64(l.step) || math.Abs(e.WallTime-wall) != 0 {
				t.Errorf("reader event %d: %+v, want %s at step %d, wall %v", i, e, Tag(k), l.step, wall)
			}
			checkValue(t, e, l.vals[k])
		}
	}
	if i != len(evs) {
		t.Errorf("reader saw %d events, want %d", len(evs), i)
	}
}
