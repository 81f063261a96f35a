package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoCommand runs `preftune demo` on a reduced setting (2 DPO steps, 4 held-out
// prompts) and checks the headline and the report.
func TestDemoCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	var so, se bytes.Buffer
	if code := run([]string{"demo", "--out", out, "--steps", "2", "--heldout", "4"}, nil, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	for _, want := range []string{"held-out reward accuracy", "win rate, policy vs SFT", "judged success, reference", "judged success, DPO policy", "report.md"} {
		if !strings.Contains(so.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, so.String())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(out, "dpo", "training_loss.png")); err != nil {
		t.Error(err)
	}
}

func TestDemoBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--out", ""},
		{"demo", "--seed", "0"},
		{"demo", "--steps", "-1"},
		{"demo", "--heldout", "-3"},
		{"demo", "extra"},
		{"demo", "--nope"},
	} {
		var so, se bytes.Buffer
		if code := run(args, nil, &so, &se); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, se.String())
		}
	}
}
