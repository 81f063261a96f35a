package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/preftune/preftune/bt"
)

func init() {
	register(&command{
		name:    "bt",
		summary: "fit Bradley-Terry / Thurstone strengths to pairwise wins (bt fit FILE; bt prob S_A S_B)",
		run:     runBT,
	})
}

const btUsage = `usage:
  preftune bt fit FILE [--model bt|thurstone] [--anchor NAME] [--l2 LAMBDA] [--predict A,B] [--json]
  preftune bt prob [--model bt|thurstone] S_A S_B

FILE (JSONL, JSON array or CSV with a header; "-" reads stdin) has rows
  {"winner": X, "loser": Y}   or   {"a": X, "b": Y, "wins_a": N, "wins_b": M}
Strengths are maximum likelihood with the anchor (default: first item alphabetically) at 0.
Bradley-Terry: P(i>j) = sigmoid(s_i - s_j). Thurstone: P(i>j) = Phi(s_i - s_j).
`

func runBT(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, btUsage)
		return badInputf("missing sub-command (fit or prob)")
	}
	switch args[0] {
	case "fit":
		return runBTFit(args[1:], stdin, stdout, stderr)
	case "prob":
		return runBTProb(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, btUsage)
		return nil
	}
	fmt.Fprint(stderr, btUsage)
	return badInputf("unknown sub-command %q (want fit or prob)", args[0])
}

// parseInterspersed parses flags that may come before or after positional arguments.
// A lone "-" and anything that parses as a number (e.g. -0.84) is positional; "--" ends flags.
func parseInterspersed(fs *flag.FlagSet, args []string) (positional []string, helped bool, err error) {
	var flags []string
	for k := 0; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			positional = append(positional, args[k+1:]...)
			break
		}
		if _, numErr := strconv.ParseFloat(a, 64); a == "-" || !strings.HasPrefix(a, "-") || numErr == nil {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && k+1 < len(args) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				k++
				flags = append(flags, args[k])
			}
		}
	}
	helped, err = parseFlags(fs, flags)
	return positional, helped, err
}

// btFitJSON is the --json output of bt fit.
type btFitJSON struct {
	File            string        `json:"file"`
	Model           string        `json:"model"`
	Anchor          string        `json:"anchor"`
	L2              float64       `json:"l2"`
	Items           []bt.Item     `json:"items"`
	LogLik          float64       `json:"log_likelihood"`
	NullLogLik      float64       `json:"null_log_likelihood"`
	SaturatedLogLik float64       `json:"saturated_log_likelihood"`
	Deviance        float64       `json:"deviance"`
	DF              int           `json:"df"`
	AIC             float64       `json:"aic"`
	Comparisons     float64       `json:"comparisons"`
	Iterations      int           `json:"iterations"`
	Pairs           []bt.PairStat `json:"pairs"`
	Predict         *btPredict    `json:"predict,omitempty"`
}

type btPredict struct {
	A      string  `json:"a"`
	B      string  `json:"b"`
	P      float64 `json:"p"`
	StdErr float64 `json:"std_err"`
}

func runBTFit(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("bt fit", stderr)
	modelName := fs.String("model", "bt", "bt (logistic, Bradley-Terry) or thurstone (probit, Thurstone-Mosteller)")
	anchor := fs.String("anchor", "", "item held at strength 0 (default: first item name alphabetically)")
	l2 := fs.Float64("l2", 0, "L2 prior precision on the non-anchor strengths (use e.g. 0.01 for disconnected or separated data)")
	predict := fs.String("predict", "", "A,B: also print P(A beats B) with its delta-method standard error")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	pos, helped, err := parseInterspersed(fs, args)
	if helped || err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return badInputf("bt fit takes exactly one FILE, got %d arguments", len(pos))
	}
	model, err := bt.ParseModel(*modelName)
	if err != nil {
		return badInputf("--model: %v", err)
	}
	var pa, pb string
	if *predict != "" {
		parts := strings.Split(*predict, ",")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
			return badInputf("--predict: want two item names A,B, got %q", *predict)
		}
		pa, pb = strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
	}

	file := pos[0]
	var cs []bt.Comparison
	if file == "-" {
		cs, err = bt.Read(stdin, "<stdin>", bt.Detect)
	} else {
		cs, err = bt.ReadFile(file)
	}
	if err != nil {
		return badInput(err)
	}
	fit, err := bt.FitModel(model, cs, bt.Options{Anchor: *anchor, L2: *l2})
	if err != nil {
		if errors.Is(err, bt.ErrNotConverged) {
			return fmt.Errorf("%s: %w", file, err)
		}
		return badInputf("%s: %w", file, err)
	}
	var pred *btPredict
	if pa != "" {
		p, se, err := fit.ProbSE(pa, pb)
		if err != nil {
			return badInputf("--predict: %w", err)
		}
		pred = &btPredict{A: pa, B: pb, P: p, StdErr: se}
	}

	if *asJSON {
		out := btFitJSON{
			File: file, Model: model.String(), Anchor: fit.Anchor, L2: fit.L2, Items: fit.Ranked(),
			LogLik: fit.LogLik, NullLogLik: fit.NullLogLik, SaturatedLogLik: fit.SaturatedLogLik,
			Deviance: fit.Deviance, DF: fit.DF, AIC: fit.AIC, Comparisons: fit.Comparisons,
			Iterations: fit.Iterations, Pairs: fit.Pairs, Predict: pred,
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}

	fmt.Fprintf(stdout, "%s; anchor %s = 0", model.Formula(), fit.Anchor)
	if fit.L2 > 0 {
		fmt.Fprintf(stdout, "; L2 prior %g", fit.L2)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout)
	w := len("item")
	for _, it := range fit.Items {
		w = max(w, len(it.Name))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tstrength\tstd err\twins\tlosses\t\n", w, "item")
	for _, it := range fit.Ranked() {
		fmt.Fprintf(tw, "%-*s\t%.4f\t%.4f\t%s\t%s\t\n", w, it.Name, it.Strength, it.StdErr, fmtCount(it.Wins), fmtCount(it.Losses))
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "log-likelihood  %.4f  (null %.4f, saturated %.4f)\n", fit.LogLik, fit.NullLogLik, fit.SaturatedLogLik)
	fmt.Fprintf(stdout, "deviance        %.4f on %d df\n", fit.Deviance, fit.DF)
	fmt.Fprintf(stdout, "AIC             %.4f\n", fit.AIC)
	fmt.Fprintf(stdout, "comparisons     %s over %d pairs of %d items; %d Newton iterations\n",
		fmtCount(fit.Comparisons), len(fit.Pairs), len(fit.Items), fit.Iterations)
	fmt.Fprintln(stdout)
	w = len("pair")
	for _, p := range fit.Pairs {
		w = max(w, len(p.A)+len(p.B)+3)
	}
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tn\tobserved\tpredicted\t\n", w, "pair")
	for _, p := range fit.Pairs {
		fmt.Fprintf(tw, "%-*s\t%s\t%.3f\t%.3f\t\n", w, p.A+" > "+p.B, fmtCount(p.WinsA+p.WinsB), p.Observed, p.Predicted)
	}
	tw.Flush()
	if pred != nil {
		fmt.Fprintf(stdout, "\nP(%s > %s) = %.4f  (std err %.4f)\n", pred.A, pred.B, pred.P, pred.StdErr)
	}
	return nil
}

func fmtCount(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func runBTProb(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bt prob", stderr)
	modelName := fs.String("model", "bt", "bt or thurstone")
	pos, helped, err := parseInterspersed(fs, args)
	if helped || err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return badInputf("bt prob takes two strengths S_A S_B, got %d arguments", len(pos))
	}
	model, err := bt.ParseModel(*modelName)
	if err != nil {
		return badInputf("--model: %v", err)
	}
	var s [2]float64
	for k, a := range pos {
		if s[k], err = strconv.ParseFloat(a, 64); err != nil {
			return badInputf("strength %q is not a number", a)
		}
	}
	fmt.Fprintf(stdout, "P(a > b) = %.4f  (%s, s_a - s_b = %.4f)\n", model.P(s[0]-s[1]), model.Formula(), s[0]-s[1])
	return nil
}
