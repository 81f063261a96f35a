package tensorboard

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// readerScript is the independent reader (Python + Debian's python3-protobuf).
const readerScript = "../../reference/tensorboard/read_events.py"

// readEvent is one line the reader prints.
type readEvent struct {
	File        string  `json:"file"`
	WallTime    float64 `json:"wall_time"`
	Step        int64   `json:"step"`
	FileVersion string  `json:"file_version"`
	Tag         string  `json:"tag"`
	Value       any     `json:"value"`
}

// ReadWithReference runs reference/tensorboard/read_events.py on paths; it skips the
// test (with the reason) when /usr/bin/python3 or its protobuf module is missing.
func readWithReference(t *testing.T, script string, paths ...string) []readEvent {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("independent reader needs %s: %v", py, err)
	}
	if err := exec.Command(py, "-c", "import google.protobuf").Run(); err != nil {
		t.Skipf("independent reader needs Debian python3-protobuf (apt-get install -y python3-protobuf): %v", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, append([]string{script}, paths...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	var evs []readEvent
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var e readEvent
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("reader output: %v\n%s", err, out)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestTag(t *testing.T) {
	cases := []struct{ key, tag string }{
		{"loss", "train/loss"},
		{"rewards/margins", "train/rewards/margins"},
		{"learning_rate", "train/learning_rate"},
		{"grad_norm", "train/grad_norm"},
		{"epoch", "train/epoch"},
		{"eval_loss", "eval/loss"},
		{"eval_rewards/accuracies", "eval/rewards/accuracies"},
		{"test_loss", "test/loss"},
		{"train_runtime", "train/train_runtime"},
	}
	for _, c := range cases {
		if got := Tag(c.key); got != c.tag {
			t.Errorf("Tag(%q) = %q, want %q", c.key, got, c.tag)
		}
	}
}

// TestMaskedCRCVectors: CRC-32C's standard check value, and the masked CRCs of an
// empty record's framing worked out by hand from the definition.
func TestMaskedCRCVectors(t *testing.T) {
	const check = 0xE3069283 // CRC-32C("123456789")
	want := uint32(((check>>15)|(check<<17))&0xffffffff) + 0xa282ead8
	if got := MaskedCRC([]byte("123456789")); got != want {
		t.Errorf("MaskedCRC(123456789) = %#x, want %#x", got, want)
	}
	rec := AppendRecord(nil, nil)
	if len(rec) != 16 {
		t.Fatalf("empty record is %d bytes, want 16", len(rec))
	}
	// CRC-32C of zero data is 0; masked: 0xa282ead8.
	if !bytes.Equal(rec[12:], []byte{0xd8, 0xea, 0x82, 0xa2}) {
		t.Errorf("data CRC of an empty record = % x, want d8 ea 82 a2", rec[12:])
	}
}

func TestWriterReadByReference(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "x")
	clock := time.Unix(1_700_000_000, 250_000_000)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	w, err := Create(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	name := filepath.Base(w.Path())
	if !regexp.MustCompile(`^events\.out\.tfevents\.1700000001\.` + regexp.QuoteMeta(host) + `\.\d+\.\d+$`).MatchString(name) {
		t.Errorf("file name %q does not follow events.out.tfevents.<unix>.<host>.<pid>.<n>", name)
	}
	logs := []struct {
		step int
		vals map[string]float64
	}{
		{1, map[string]float64{"loss": 0.6931, "rewards/margins": 0.0125, "learning_rate": 5e-6, "grad_norm": 1.5, "epoch": 0.25}},
		{2, map[string]float64{"loss": 0.61, "rewards/margins": -0.25}},
		{2, map[string]float64{"eval_loss": 0.65, "eval_rewards/accuracies": 0.75}},
		{300000, map[string]float64{"loss": math.NaN(), "grad_norm": math.Inf(1)}},
	}
	for _, l := range logs {
		if err := w.Log(l.step, l.vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs := readWithReference(t, readerScript, w.Path())
	if len(evs) == 0 || evs[0].FileVersion != FileVersion || evs[0].Step != 0 || evs[0].WallTime != 1_700_000_001.25 {
		t.Fatalf("first event %+v, want file_version %q at wall time 1700000001.25", evs, FileVersion)
	}
	evs = evs[1:]
	i := 0
	for li, l := range logs {
		wall := float64(1_700_000_002+li) + 0.25
		for _, k := range sortedKeys(l.vals) {
			if i >= len(evs) {
				t.Fatalf("reader returned %d scalar events, want more", len(evs))
			}
			e := evs[i]
			i++
			if e.Tag != Tag(k) || e.Step != int64(l.step) || e.WallTime != wall {
				t.Errorf("event %d: tag %q step %d wall %v, want %q %d %v", i, e.Tag, e.Step, e.WallTime, Tag(k), l.step, wall)
			}
			checkValue(t, e, l.vals[k])
		}
	}
	if i != len(evs) {
		t.Errorf("reader returned %d scalar events, want %d", len(evs), i)
	}
}

// checkValue compares a value the reader printed (a float32 widened, or "NaN"/"Infinity")
// with the float64 logged.
func checkValue(t *testing.T, e readEvent, want float64) {
	t.Helper()
	switch v := e.Value.(type) {
	case string:
		ok := (v == "NaN" && math.IsNaN(want)) || (v == "Infinity" && math.IsInf(want, 1)) || (v == "-Infinity" && math.IsInf(want, -1))
		if !ok {
			t.Errorf("%s: reader value %q, want %v", e.Tag, v, want)
		}
	case float64:
		if err := math.Abs(v - float64(float32(want))); !(err <= 0) {
			t.Errorf("%s: reader value %v, want float32(%v) = %v", e.Tag, v, want, float32(want))
		}
	default:
		t.Errorf("%s: reader value %v (%T)", e.Tag, e.Value, e.Value)
	}
}

// TestReferenceRejectsCorruption: the reader really checks both CRCs (so the test
// above can fail on a framing bug).
func TestReferenceRejectsCorruption(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Log(3, map[string]float64{"loss": 1}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	good, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	first := len(AppendRecord(nil, EncodeEvent(0, 0, FileVersion, nil)))
	for _, c := range []struct {
		name string
		at   int
	}{{"length byte", first}, {"length CRC", first + 9}, {"data byte", first + 14}, {"data CRC", len(good) - 1}} {
		bad := bytes.Clone(good)
		bad[c.at] ^= 0x40
		p := filepath.Join(dir, "events.out.tfevents.bad")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		py := "/usr/bin/python3"
		if err := exec.Command(py, "-c", "import google.protobuf").Run(); err != nil {
			t.Skipf("independent reader needs Debian python3-protobuf: %v", err)
		}
		if out, err := exec.Command(py, readerScript, p).CombinedOutput(); err == nil {
			t.Errorf("%s flipped: reader accepted the file:\n%s", c.name, out)
		}
	}
}

func sortedKeys(m map[string]float64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}
