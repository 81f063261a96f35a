package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ufCompletion writes one UltraFeedback completion with the four ratings (strings, as
// in openbmb/UltraFeedback).
func ufCompletion(resp, help, honesty, instr, truth string) map[string]any {
	rating := func(r string) map[string]any { return map[string]any{"Rating": r, "Rationale": "..."} }
	return map[string]any{"model": "m", "response": resp, "annotations": map[string]any{
		"helpfulness": rating(help), "honesty": rating(honesty),
		"instruction_following": rating(instr), "truthfulness": rating(truth),
	}}
}

func writeJSONL(t *testing.T, path string, rows ...any) string {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The fixtures of TestPairsFromRatings, with every score worked out by hand. The
// default weights are correctness 0.4, helpfulness 0.3, coherence 0.2, complexity
// 0.05, verbosity 0.05. UltraFeedback ratings r ∈ 1..5 normalise to (r−1)/4; honesty
// and truthfulness both feed correctness (their mean), instruction_following feeds
// coherence; UltraFeedback has no complexity/verbosity, so scores divide by 0.9.
func ratingsFixtures(t *testing.T, dir string) (uf, hs string) {
	uf = writeJSONL(t, filepath.Join(dir, "uf.jsonl"),
		map[string]any{"source": "s", "instruction": "Explain DNS.", "completions": []any{
			// A: help 4→0.75; correctness mean(5→1, 3→0.5) = 0.75; coherence 4→0.75.
			//    (0.4·0.75 + 0.3·0.75 + 0.2·0.75) / 0.9 = 0.75
			ufCompletion("DNS maps names to addresses.", "4", "5", "4", "3"),
			// B: help 1→0; correctness mean(2→0.25, 1→0) = 0.125; coherence 2→0.25.
			//    (0.4·0.125 + 0 + 0.2·0.25) / 0.9 = 0.1 / 0.9 = 1/9
			ufCompletion("DNS is a kind of fish.", "1", "2", "2", "1"),
			// C: honesty N/A, so correctness = truthfulness 5→1; everything 1 → score 1.
			ufCompletion("It resolves domain names.", "5", "N/A", "5", "5"),
			// D: a non-answer, dropped as template-like before pairing.
			ufCompletion("N/A", "5", "5", "5", "5"),
		}},
		// Two responses both rated 3 everywhere: 0.5 each, a tie, no pair.
		map[string]any{"instruction": "Say hi.", "completions": []any{
			ufCompletion("Hello there, friend!", "3", "3", "3", "3"),
			ufCompletion("Hi! Nice to meet you.", "3", "3", "3", "3"),
		}},
		// The same text rated 5 (score 1) and 2 (score 0.25): identical, no pair.
		map[string]any{"instruction": "Capital of France?", "completions": []any{
			ufCompletion("Paris is the capital.", "5", "5", "5", "5"),
			ufCompletion("Paris is the capital.", "2", "2", "2", "2"),
		}},
	)
	// HelpSteer: ratings 0..4 normalise to r/4; all five aspects present, weights sum to 1.
	hsRow := func(prompt, resp string, h, c, coh, cx, v int) map[string]any {
		return map[string]any{"prompt": prompt, "response": resp, "helpfulness": h, "correctness": c,
			"coherence": coh, "complexity": cx, "verbosity": v}
	}
	hs = writeJSONL(t, filepath.Join(dir, "hs.jsonl"),
		// 0.4·1 + 0.3·1 + 0.2·1 + 0.05·0.25 + 0.05·0.25 = 0.925
		hsRow("What is 2+2?", "2+2 equals 4.", 4, 4, 4, 1, 1),
		// 0.4·1 + 0.3·0.75 + 0.2·1 + 0 + 0.05·0.5 = 0.85
		hsRow("Name a color.", "Blue is a color.", 3, 4, 4, 0, 2),
		// 0.4·0 + 0.3·0.25 + 0.2·0.75 + 0.05·0.25 + 0.05·0.25 = 0.25
		hsRow("What is 2+2?", "It is 5, I think.", 1, 0, 3, 1, 1),
		// "ok": 2 characters < --min-chars 5, dropped.
		hsRow("What is 2+2?", "ok", 4, 4, 4, 4, 4),
		// Repeats the prompt: template-like, dropped; "Name a color." keeps one response.
		hsRow("Name a color.", "Name a color.", 4, 4, 4, 4, 4),
	)
	return uf, hs
}

func TestPairsFromRatings(t *testing.T) {
	dir := t.TempDir()
	uf, hs := ratingsFixtures(t, dir)
	type pair struct {
		chosen, rejected string
		sc, sr           float64
		row              int
	}
	tests := []struct {
		name  string
		spec  string
		opts  RatingsOptions
		want  []pair
		check func(t *testing.T, r *RatingsReport)
	}{
		{"ultrafeedback best vs worst", uf, RatingsOptions{},
			[]pair{{"It resolves domain names.", "DNS is a kind of fish.", 1, 1.0 / 9, 1}},
			func(t *testing.T, r *RatingsReport) {
				want := RatingsReport{Rows: 3, Prompts: 3, Responses: 8, Template: 1, Ties: 1, Identical: 1, NoPair: 2, Pairs: 1}
				want.Issues = r.Issues
				if !equalReports(*r, want) {
					t.Errorf("report %+v, want %+v", *r, want)
				}
			}},
		{"ultrafeedback all pairs", uf, RatingsOptions{AllPairs: true},
			[]pair{
				{"DNS maps names to addresses.", "DNS is a kind of fish.", 0.75, 1.0 / 9, 1},
				{"It resolves domain names.", "DNS maps names to addresses.", 1, 0.75, 1},
				{"It resolves domain names.", "DNS is a kind of fish.", 1, 1.0 / 9, 1},
			}, nil},
		// Margin 0.5: A−B = 0.639 and C−B = 0.889 pass, C−A = 0.25 does not.
		{"ultrafeedback all pairs above a margin", uf, RatingsOptions{AllPairs: true, Margin: 0.5},
			[]pair{
				{"DNS maps names to addresses.", "DNS is a kind of fish.", 0.75, 1.0 / 9, 1},
				{"It resolves domain names.", "DNS is a kind of fish.", 1, 1.0 / 9, 1},
			},
			func(t *testing.T, r *RatingsReport) {
				if r.BelowMargin != 1 {
					t.Errorf("below margin %d, want 1", r.BelowMargin)
				}
			}},
		// Helpfulness only: A 0.75, B 0, C 1 — same best and worst.
		{"custom weights", uf, RatingsOptions{Weights: map[string]float64{"helpfulness": 1}},
			[]pair{{"It resolves domain names.", "DNS is a kind of fish.", 1, 0, 1}}, nil},
		{"helpsteer grouped by prompt", hs, RatingsOptions{MinChars: 5},
			[]pair{{"2+2 equals 4.", "It is 5, I think.", 0.925, 0.25, 1}},
			func(t *testing.T, r *RatingsReport) {
				want := RatingsReport{Rows: 5, Prompts: 2, Responses: 5, Short: 1, Template: 1, NoPair: 1, Pairs: 1}
				want.Issues = r.Issues
				if !equalReports(*r, want) {
					t.Errorf("report %+v, want %+v", *r, want)
				}
			}},
		{"both files", uf + "," + hs, RatingsOptions{MinChars: 5},
			[]pair{
				{"It resolves domain names.", "DNS is a kind of fish.", 1, 1.0 / 9, 1},
				{"2+2 equals 4.", "It is 5, I think.", 0.925, 0.25, 1},
			}, nil},
		// The margin above the only HelpSteer gap (0.675) leaves nothing.
		{"margin above every gap", hs, RatingsOptions{MinChars: 5, Margin: 0.7}, nil,
			func(t *testing.T, r *RatingsReport) {
				if r.BelowMargin != 1 || r.Pairs != 0 {
					t.Errorf("below margin %d pairs %d, want 1 0", r.BelowMargin, r.Pairs)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pairs, rep, err := PairsFromRatings(tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(pairs) != len(tc.want) {
				t.Fatalf("%d pairs, want %d: %+v", len(pairs), len(tc.want), pairs)
			}
			for i, w := range tc.want {
				p := pairs[i]
				if p.Chosen != w.chosen || p.Rejected != w.rejected || p.Row != w.row ||
					math.Abs(p.ScoreChosen-w.sc) > 1e-12 || math.Abs(p.ScoreRejected-w.sr) > 1e-12 {
					t.Errorf("pair %d: %q (%v) > %q (%v) row %d, want %q (%v) > %q (%v) row %d", i,
						p.Chosen, p.ScoreChosen, p.Rejected, p.ScoreRejected, p.Row, w.chosen, w.sc, w.rejected, w.sr, w.row)
				}
			}
			if tc.check != nil {
				tc.check(t, rep)
			}
		})
	}
}

func equalReports(a, b RatingsReport) bool {
	a.Issues, b.Issues = nil, nil
	return a.Rows == b.Rows && a.Invalid == b.Invalid && a.Prompts == b.Prompts && a.Responses == b.Responses &&
		a.Empty == b.Empty && a.Short == b.Short && a.Template == b.Template && a.Unrated == b.Unrated &&
		a.Ties == b.Ties && a.BelowMargin == b.BelowMargin && a.Identical == b.Identical && a.NoPair == b.NoPair && a.Pairs == b.Pairs
}

func TestResponseFilter(t *testing.T) {
	tests := []struct {
		text     string
		minChars int
		want     string // reason prefix; "" keeps
	}{
		{"A fine answer.", 10, ""},
		{"   ", 0, "empty response"},
		{"Yes.", 10, "response of 4 characters"},
		{"好的，谢谢", 5, ""}, // 5 runes, not 15 bytes
		{"... —", 0, "template-like response: no letter or digit"},
		{"[Your Name]", 0, "template-like response: placeholder"},
		{"<answer here>", 0, "template-like response: placeholder"},
		{"{{output}}", 0, "template-like response: placeholder"},
		{"None.", 0, "template-like response: non-answer"},
		{"n/a", 0, "template-like response: non-answer"},
		{"what is dns?", 0, "template-like response: repeats the prompt"},
		{"[1] Smith, J. (2020). A book.", 0, ""}, // brackets, but not a bare placeholder
		{"42", 0, ""},
	}
	for _, tc := range tests {
		got, _ := responseFilter("What is DNS?", tc.text, tc.minChars, &RatingsReport{})
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestRatingsErrors(t *testing.T) {
	dir := t.TempDir()
	good := map[string]any{"instruction": "q", "completions": []any{ufCompletion("a fine answer", "4", "4", "4", "4")}}
	tests := []struct {
		name     string
		row      any
		want     string
		sentinel error
	}{
		{"rating not a number", map[string]any{"instruction": "q", "completions": []any{ufCompletion("an answer", "six", "4", "4", "4")}},
			`r.jsonl:2:completions[0].annotations.helpfulness.Rating: expected a rating 1..5 or "N/A", got string "six"`, ErrInvalidValue},
		{"rating off the scale", map[string]any{"instruction": "q", "completions": []any{ufCompletion("an answer", "4", "4", "4", "7")}},
			"r.jsonl:2:completions[0].annotations.truthfulness.Rating: rating 7 is outside the scale 1..5", ErrInvalidValue},
		{"annotation without Rating", map[string]any{"instruction": "q", "completions": []any{map[string]any{"response": "x", "annotations": map[string]any{"honesty": map[string]any{"Rationale": "r"}}}}},
			"r.jsonl:2:completions[0].annotations.honesty.Rating: missing field (annotation has: Rationale)", ErrMissingField},
		{"completion without response", map[string]any{"instruction": "q", "completions": []any{map[string]any{"annotations": map[string]any{}}}},
			"r.jsonl:2:completions[0].response: missing field", ErrMissingField},
		{"response not text", map[string]any{"instruction": "q", "completions": []any{map[string]any{"response": 3, "annotations": map[string]any{}}}},
			"r.jsonl:2:completions[0].response: expected a string, got number 3", ErrWrongType},
		{"completions null", map[string]any{"instruction": "q", "completions": nil},
			"r.jsonl:2:completions: field is null", ErrMissingField},
		{"helpsteer rating off the scale", map[string]any{"prompt": "q", "response": "r", "helpfulness": 5},
			"r.jsonl:2:helpfulness: rating 5 is outside the scale 0..4", ErrInvalidValue},
		{"helpsteer without ratings", map[string]any{"prompt": "q", "response": "r"},
			"r.jsonl:2:helpfulness: missing ratings: a HelpSteer row needs at least one of correctness, helpfulness, coherence, complexity, verbosity (row has: prompt, response)", ErrMissingField},
		{"helpsteer prompt not text", map[string]any{"prompt": 1, "response": "r", "helpfulness": 2},
			"r.jsonl:2:prompt: expected a string, got number 1", ErrWrongType},
		{"unknown layout", map[string]any{"question": "q"},
			"r.jsonl:2: unknown layout: row has keys {question}", ErrUnknownFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeJSONL(t, filepath.Join(dir, "r.jsonl"), good, tc.row)
			_, rep, err := PairsFromRatings(p, RatingsOptions{Policy: PolicyDrop})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Invalid != 1 || len(rep.Issues) == 0 {
				t.Fatalf("invalid %d issues %v", rep.Invalid, rep.Issues)
			}
			var found *Issue
			for i := range rep.Issues {
				if rep.Issues[i].Severity == Invalid {
					found = &rep.Issues[i]
				}
			}
			got := strings.TrimPrefix(found.Error(), dir+"/")
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("issue %q, want %q", got, tc.want)
			}
			if !errors.Is(found.RowError, tc.sentinel) {
				t.Errorf("does not wrap %v", tc.sentinel)
			}
			// Strict: the same error stops reading.
			if _, _, err := PairsFromRatings(p, RatingsOptions{}); err == nil || !strings.HasPrefix(strings.TrimPrefix(err.Error(), dir+"/"), tc.want) {
				t.Errorf("strict: %v", err)
			}
		})
	}
}

func TestParseWeights(t *testing.T) {
	w, err := ParseWeights("correctness=0.5, helpfulness=0.5")
	if err != nil || len(w) != 2 || w["correctness"] != 0.5 || w["helpfulness"] != 0.5 {
		t.Errorf("got %v %v", w, err)
	}
	for _, bad := range []string{"correctness", "honesty=1", "coherence=-1", "coherence=0", "coherence=x"} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestWriteRatedPairs(t *testing.T) {
	var b bytes.Buffer
	err := WriteRatedPairs(&b, []RatedPair{{Prompt: "p <b>", Chosen: "c", Rejected: "r", ScoreChosen: 0.75, ScoreRejected: 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"prompt":"p <b>","chosen":"c","rejected":"r","score_chosen":0.75,"score_rejected":0.25}` + "\n"
	if b.String() != want {
		t.Errorf("got %s want %s", b.String(), want)
	}
}
