package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/preftune/preftune/judge"
)

func init() {
	register(&command{
		name:    "judge",
		summary: "win rate of generations A vs B under a judge, with a bootstrap CI",
		run:     runJudge,
	})
}

// judgeJSON is the --json output of preftune judge.
type judgeJSON struct {
	Judge string `json:"judge"`
	A     string `json:"a"`
	B     string `json:"b"`
	judge.Result
}

func runJudge(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("judge", stderr)
	setUsage(fs, judgeUsage)
	fileA := fs.String("a", "", "JSONL generations of side A: {\"prompt\", \"completion\"|\"output\"} rows (required)")
	fileB := fs.String("b", "", "JSONL generations of side B, aligned with A by prompt (required)")
	name := fs.String("judge", "", "judge: exact, regex, length, or a registered name (required; have "+strings.Join(judge.Names(), ", ")+")")
	refFile := fs.String("ref", "", "JSONL {\"prompt\", \"reference\"|\"answer\"} rows; overrides references in the generation rows")
	pattern := fs.String("pattern", "", "regular expression (Go RE2 syntax) for the regex judge")
	longer := fs.Bool("longer", false, "length judge: the longer completion wins (default: shorter)")
	resamples := fs.Int("bootstrap", 1000, "bootstrap resamples for the confidence interval")
	seed := fs.Uint64("seed", 1, "bootstrap random seed")
	confidence := fs.Float64("confidence", 0.95, "confidence level of the interval")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q (files go in --a and --b)", fs.Arg(0))
	}
	switch {
	case *fileA == "":
		return badInputf("--a FILE is required")
	case *fileB == "":
		return badInputf("--b FILE is required")
	case *name == "":
		return badInputf("--judge NAME is required (have %s)", strings.Join(judge.Names(), ", "))
	case *resamples < 1:
		return badInputf("--bootstrap must be ≥ 1, got %d", *resamples)
	case !(*confidence > 0 && *confidence < 1):
		return badInputf("--confidence must be in (0, 1), got %v", *confidence)
	case *pattern != "" && *name != "regex":
		return badInputf("--pattern is only for --judge regex")
	case *longer && *name != "length":
		return badInputf("--longer is only for --judge length")
	}
	j, err := judge.New(*name, judge.Options{Pattern: *pattern, Longer: *longer})
	if err != nil {
		return badInputf("--judge: %w", err)
	}
	a, err := judge.ReadGenerationsFile(*fileA)
	if err != nil {
		return badInput(err)
	}
	b, err := judge.ReadGenerationsFile(*fileB)
	if err != nil {
		return badInput(err)
	}
	var refs map[string]string
	if *refFile != "" {
		if refs, err = judge.ReadRefsFile(*refFile); err != nil {
			return badInput(err)
		}
	}
	pairs, err := judge.Align(a, b, refs)
	if err != nil {
		return badInput(err)
	}
	verdicts, err := j.Compare(pairs)
	if err != nil {
		return badInput(err)
	}
	outcomes := make([]float64, len(verdicts))
	for k, v := range verdicts {
		outcomes[k] = v.Outcome
	}
	res, err := judge.Summarize(outcomes, *resamples, *confidence, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(judgeJSON{Judge: j.Name, A: *fileA, B: *fileB, Result: res})
	}
	fmt.Fprintf(stdout, "judge     %s\n", j.Name)
	fmt.Fprintf(stdout, "A vs B    %s vs %s\n", *fileA, *fileB)
	fmt.Fprintf(stdout, "n         %d\n", res.N)
	fmt.Fprintf(stdout, "wins      %d\n", res.Wins)
	fmt.Fprintf(stdout, "ties      %d\n", res.Ties)
	fmt.Fprintf(stdout, "losses    %d\n", res.Losses)
	fmt.Fprintf(stdout, "win rate  %.4f  (%g%% CI %.4f to %.4f; percentile bootstrap, %d resamples, seed %d)\n",
		res.WinRate, 100*res.Confidence, res.CILow, res.CIHigh, res.Bootstrap, res.Seed)
	return nil
}
