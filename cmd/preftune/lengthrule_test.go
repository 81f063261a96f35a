package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	tiny "github.com/preftune/preftune/train/tinymodel"
)

// TestLengthRuleShared: score --max-length, data check --max-length and train's
// max_length keep the same rows (one rule, train.TokenizeOptions), and an 80-token
// prompt is never turned into "empty prompt": at 100 every row is kept, at 1 every row
// is dropped by all three (data check reports 0 kept; train and score exit 2 naming
// file:row).
func TestLengthRuleShared(t *testing.T) {
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := tiny.WriteQwen2(modelDir, tiny.Spec{Vocab: 151665, Hidden: 16, Layers: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tiny.CopyTokenizer(filepath.Join("..", "..", "testdata", "tokenizers", "qwen2.5"), modelDir); err != nil {
		t.Fatal(err)
	}
	rows := []struct{ prompt, chosen, rejected string }{
		{strings.Repeat(" word", 80), " yes it is a good answer", " no"},               // an 80-token prompt
		{" a short question", strings.Repeat(" long", 30), " short"},                   // a long completion
		{" hi", " hello", " go away"},                                                  // short
		{strings.Repeat(" q", 20), strings.Repeat(" r", 10), strings.Repeat(" s", 12)}, // in between
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, `{"prompt":%q,"chosen":%q,"rejected":%q}`+"\n", r.prompt, r.chosen, r.rejected)
	}
	dataPath := filepath.Join(dir, "pairs.jsonl")
	if err := os.WriteFile(dataPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	keptRe := regexp.MustCompile(`with the length limits: (\d+) rows kept`)
	trainRe := regexp.MustCompile(`data: (\d+) training examples`)
	for _, tc := range []struct {
		maxLength  int
		truncation string
		want       int // -1: only agreement is asserted
	}{{100, "keep_start", 4}, {100, "keep_end", 4}, {1, "keep_start", 0}, {1, "keep_end", 0}, {24, "keep_start", -1}, {24, "keep_end", -1}, {12, "keep_end", -1}} {
		t.Run(fmt.Sprintf("%d %s", tc.maxLength, tc.truncation), func(t *testing.T) {
			ml := strconv.Itoa(tc.maxLength)
			var so, se bytes.Buffer
			if code := run([]string{"data", "check", dataPath, "--tokenizer", modelDir, "--max-length", ml, "--truncation-mode", tc.truncation}, nil, &so, &se); code != 0 {
				t.Fatalf("data check: exit %d\n%s%s", code, so.String(), se.String())
			}
			m := keptRe.FindStringSubmatch(so.String())
			if m == nil {
				t.Fatalf("data check printed no kept count:\n%s", so.String())
			}
			checkKept, _ := strconv.Atoi(m[1])

			so.Reset()
			se.Reset()
			code := run([]string{"train", "--dry-run", "--model_name_or_path", modelDir, "--dataset", dataPath, "--output_dir", filepath.Join(dir, "out"),
				"--max_length", ml, "--truncation_mode", tc.truncation, "--finetuning_type", "lora"}, nil, &so, &se)
			trainKept := 0
			switch code {
			case 0:
				m := trainRe.FindStringSubmatch(se.String())
				if m == nil {
					t.Fatalf("train --dry-run printed no data line:\n%s", se.String())
				}
				trainKept, _ = strconv.Atoi(m[1])
				if !strings.Contains(so.String(), "memory: needs ≈") {
					t.Errorf("train --dry-run printed no estimate on stdout:\n%s", so.String())
				}
				if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
					t.Errorf("train --dry-run created output_dir")
				}
			case 2:
				if !strings.Contains(se.String(), "every example was dropped by the length limits") {
					t.Fatalf("train exit 2 but not for the length limits:\n%s", se.String())
				}
			default:
				t.Fatalf("train --dry-run: exit %d\n%s", code, se.String())
			}

			so.Reset()
			se.Reset()
			code = run([]string{"score", "--model", modelDir, "--ref-model", modelDir, "--data", dataPath, "--max-length", ml, "--truncation-mode", tc.truncation, "--threads", "1"}, nil, &so, &se)
			scoreKept := 0
			switch code {
			case 0:
				scoreKept = strings.Count(so.String(), "\n")
			case 2:
				if !strings.Contains(se.String(), "every row was dropped by --max-length") || !strings.Contains(se.String(), dataPath+":") {
					t.Fatalf("score exit 2 but not for the length limit, or without file:row:\n%s", se.String())
				}
			default:
				t.Fatalf("score: exit %d\n%s", code, se.String())
			}
			if strings.Contains(se.String(), "empty prompt") {
				t.Errorf("score says empty prompt:\n%s", se.String())
			}
			t.Logf("kept: data check %d, train %d, score %d", checkKept, trainKept, scoreKept)
			if checkKept != trainKept || scoreKept != trainKept {
				t.Errorf("kept rows disagree: data check %d, train %d, score %d", checkKept, trainKept, scoreKept)
			}
			if tc.want >= 0 && trainKept != tc.want {
				t.Errorf("train kept %d rows, want %d", trainKept, tc.want)
			}
		})
	}
}
