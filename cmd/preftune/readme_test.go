package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMECommands: the README builds one way (make build → bin/preftune, on PATH),
// every `preftune VERB` it shows is a registered command, it says CPU only, and it
// documents the reference-log-prob cache (issue 17, points 1 and 7).
func TestREADMECommands(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"make build", "bin/preftune", `export PATH="$PWD/bin:$PATH"`, "CPU only", "PREFTUNE_CACHE", "~/.cache/preftune"} {
		if !strings.Contains(s, want) {
			t.Errorf("README lacks %q", want)
		}
	}
	if strings.Contains(s, "go build -o preftune") {
		t.Error("README still builds ./preftune (make build writes bin/preftune)")
	}
	var code strings.Builder // the fenced code blocks
	for i, part := range strings.Split(s, "```") {
		if i%2 == 1 {
			code.WriteString(part + "\n")
		}
	}
	verbs := regexp.MustCompile("(?m)^preftune ([a-z]+)").FindAllStringSubmatch(code.String(), -1)
	if len(verbs) < 10 {
		t.Fatalf("found only %d preftune commands in the README", len(verbs))
	}
	for _, v := range verbs {
		if v[1] == "version" {
			continue // added by the version command's own branch
		}
		if _, ok := commands[v[1]]; !ok {
			t.Errorf("README shows `preftune %s`, which is not a command", v[1])
		}
	}
}
