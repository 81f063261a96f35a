package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/train/config"
)

func init() {
	register(&command{
		name:    "data",
		summary: "check or convert preference datasets (TRL, LLaMA-Factory; JSON, JSONL, Parquet)",
		run:     runData,
	})
}

const dataUsage = `usage:
  preftune data check FILE|DIR|NAME[,...] [--dataset-dir DIR] [--format F] [--columns prompt=COL,...] [--tokenizer DIR]
                     [--rules trl|llamafactory|trl-legacy] [--template NAME] [--cutoff-len N] [--config TRAIN.yaml]
  preftune data convert IN OUT --to trl|trl-conversational|alpaca|sharegpt|jsonl-tokenized [--tokenizer DIR]
  preftune data from-ratings IN OUT [--weights correctness=0.4,...] [--margin M] [--all-pairs] [--min-chars N]
  preftune data sample IN OUT --total N --ratio en=0.7,zh=0.3 [--seed S] [--allow-short] [--to FORMAT]

Invalid rows are listed (file:row:field) and make the command exit with 2 without
writing OUT, unless --drop-invalid. Pairs with chosen == rejected are skipped with a
warning (--keep-identical keeps them). A row over --max-row-bytes (default 16 MiB) is
invalid. data check streams: it holds one row at a time plus about 40 bytes a row (a
content hash for duplicates, the token counts) and the problems it lists.`

func runData(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, dataUsage)
		return badInputf("data: missing verb (check, convert, from-ratings or sample)")
	}
	switch args[0] {
	case "check":
		return runDataCheck(args[1:], stdout, stderr)
	case "convert":
		return runDataConvert(args[1:], stdout, stderr)
	case "from-ratings":
		return runDataFromRatings(args[1:], stdout, stderr)
	case "sample":
		return runDataSample(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, dataUsage)
		return nil
	}
	fmt.Fprintln(stderr, dataUsage)
	return badInputf("data: unknown verb %q (check, convert, from-ratings or sample)", args[0])
}

// dataFlags are the loading flags shared by check and convert.
type dataFlags struct {
	datasetDir, format, columns, tokenizer string
	strict, dropInvalid, keepIdentical     bool
	inferSeqlen                            bool
	maxLength, maxPromptLength, maxCompl   int
	maxRowBytes                            int
	truncation                             string
	rules, template, configPath            string
	cfg                                    *config.Loaded // --config
}

func (f *dataFlags) options() (data.Options, error) {
	opts := data.Options{DatasetDir: f.datasetDir, Format: data.Format(f.format), Policy: data.PolicyDrop,
		DropIdentical: !f.keepIdentical, MaxRowBytes: f.maxRowBytes}
	if f.columns != "" {
		opts.Columns = map[string]string{}
		for _, kv := range strings.Split(f.columns, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" || v == "" {
				return opts, fmt.Errorf("--columns: %q is not CANONICAL=COLUMN (e.g. prompt=question,chosen=response_j,rejected=response_k)", kv)
			}
			opts.Columns[k] = v
		}
	}
	return opts, nil
}

// splitArgs separates positional arguments from flags so flags may follow them.
func splitArgs(args []string, valued map[string]bool) (pos, flags []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if valued[name] && !strings.Contains(name, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return pos, flags
}

var dataValuedFlags = map[string]bool{"dataset-dir": true, "format": true, "columns": true, "tokenizer": true, "to": true,
	"max-length": true, "max-prompt-length": true, "max-completion-length": true, "cutoff-len": true, "truncation-mode": true,
	"max-row-bytes": true, "rules": true, "template": true, "config": true, "weights": true, "margin": true, "min-chars": true, "total": true, "ratio": true, "seed": true, "show": true}

func (f *dataFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	IntVar(*int, string, int, string)
}) {
	fs.StringVar(&f.datasetDir, "dataset-dir", "", "LLaMA-Factory dataset_dir holding dataset_info.json (names in the spec are looked up there)")
	fs.StringVar(&f.format, "format", "", "force a format instead of detecting it")
	fs.StringVar(&f.columns, "columns", "", "map columns: prompt=COL,chosen=COL,rejected=COL")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "model directory with tokenizer.json (adds token statistics)")
	fs.BoolVar(&f.strict, "strict", false, "treat rows LLaMA-Factory would silently drop as errors (exit 2)")
	fs.BoolVar(&f.dropInvalid, "drop-invalid", false, "skip invalid rows (listed) instead of failing with exit 2")
	fs.BoolVar(&f.keepIdentical, "keep-identical", false, "keep pairs whose chosen and rejected are identical (skipped, with a warning, by default)")
	fs.IntVar(&f.maxRowBytes, "max-row-bytes", data.DefaultMaxRowBytes, "largest row accepted, in bytes (a larger one is invalid); -1: no limit")
	fs.IntVar(&f.maxLength, "max-length", 0, "max prompt+completion tokens (0: no limit)")
	fs.IntVar(&f.maxLength, "cutoff-len", 0, "alias of --max-length (LLaMA-Factory's name)")
	fs.BoolVar(&f.inferSeqlen, "infer-seqlen", false, "apply --max-length as LLaMA-Factory applies cutoff_len: split in proportion between prompt and completion, both keeping their start")
	fs.IntVar(&f.maxPromptLength, "max-prompt-length", 0, "max prompt tokens (0: no limit)")
	fs.IntVar(&f.maxCompl, "max-completion-length", 0, "max completion tokens (0: no limit)")
	fs.StringVar(&f.truncation, "truncation-mode", config.Default().TruncationMode, "keep_start or keep_end, as train's truncation_mode (keep_end cuts the prompt's start first)")
	fs.StringVar(&f.rules, "rules", data.RulesTRL, "tokenization rules: trl (current TRL DPOTrainer), llamafactory (LLaMA-Factory's template, infer_seqlen and EOS rules) or trl-legacy (TRL's older tokenize_row)")
	fs.StringVar(&f.template, "template", "", "LLaMA-Factory template name (implies --rules llamafactory)")
	fs.StringVar(&f.configPath, "config", "", "a training config (YAML): tokenize exactly as `preftune train` would with it (its model's tokenizer, rules, template and lengths; dataset and dataset_dir as defaults)")
}

// loadConfig reads --config and fills the flags it provides defaults for.
func (f *dataFlags) loadConfig(pos []string) ([]string, error) {
	if f.configPath == "" {
		return pos, nil
	}
	l, err := config.LoadFile(f.configPath, nil)
	if err != nil {
		return nil, err
	}
	f.cfg = l
	if f.tokenizer == "" {
		f.tokenizer = l.ModelNameOrPath
	}
	if f.datasetDir == "" {
		f.datasetDir = l.DatasetDir
	}
	if len(pos) == 0 {
		pos = []string{l.Dataset}
	}
	return pos, nil
}

func runDataCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data check", stderr)
	var f dataFlags
	f.register(fs)
	maxShow := fs.Int("show", 20, "how many problems to list")
	pos, flags := splitArgs(args, dataValuedFlags)
	if helped, err := parseFlags(fs, flags); helped || err != nil {
		return err
	}
	pos, err := f.loadConfig(pos)
	if err != nil {
		return badInput(err)
	}
	if len(pos) != 1 {
		return badInputf("data check: want one dataset (FILE, DIR or NAME, comma-separated for several), got %d arguments", len(pos))
	}
	opts, err := f.options()
	if err != nil {
		return badInput(err)
	}
	if err := resolveHubArgs(stderr, hubArg{"dataset", &pos[0], "data", opts.DatasetDir}); err != nil {
		return err
	}
	opts.Hub = hubSplitFiles(stderr)
	// Streaming: each example is counted (and tokenized) as it is read and then let go,
	// so memory is O(rows × ~40 B) — a content hash for duplicates and the token counts —
	// plus one row and the issues, whatever the file's size.
	var stats *tokenStats
	if f.tokenizer != "" {
		tok, err := f.tokenizerFor()
		if err != nil {
			return badInput(err)
		}
		stats = newTokenStats(tok)
	}
	conversational := 0
	opts.Each = func(ex *data.Example) error {
		if ex.Conversational {
			conversational++
		}
		if stats != nil {
			return stats.add(ex)
		}
		return nil
	}
	ds, err := data.Load(pos[0], opts)
	if err != nil {
		return badInput(err)
	}
	rep := &ds.Report
	printReport(stdout, rep, *maxShow, !f.keepIdentical)
	if stats != nil {
		if err := stats.print(stdout, f.tokenizer); err != nil {
			return err
		}
	} else {
		warnUntemplated(stderr, conversational)
	}
	if rep.Invalid > 0 && !f.dropInvalid {
		return badInputf("%d invalid row(s); first: %v", rep.Invalid, firstIssue(rep, data.Invalid))
	}
	if f.strict && rep.Dropped > 0 {
		return badInputf("%d dropped row(s) (--strict); first: %v", rep.Dropped, firstIssue(rep, data.Dropped))
	}
	return nil
}

func firstIssue(rep *data.Report, sev data.Severity) error {
	for _, is := range rep.Issues {
		if is.Severity == sev {
			return is.RowError
		}
	}
	return errors.New("none")
}

func printReport(w io.Writer, rep *data.Report, maxShow int, skipIdentical bool) {
	for _, s := range rep.Sources {
		name := ""
		if s.Dataset != "" {
			name = fmt.Sprintf(" (dataset %s)", s.Dataset)
		}
		var fmts []string
		for f, n := range s.Formats {
			fmts = append(fmts, fmt.Sprintf("%s×%d", f, n))
		}
		sort.Strings(fmts)
		if len(fmts) == 0 {
			fmts = []string{"none"}
		}
		fmt.Fprintf(w, "%s%s: %d rows, %d loaded, format %s\n", s.Path, name, s.Rows, s.Loaded, strings.Join(fmts, ", "))
	}
	var kinds []string
	for k, n := range rep.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "total: %d rows, %d loaded (%s)\n", rep.Rows, rep.Loaded, strings.Join(kinds, ", "))
	fmt.Fprintf(w, "invalid: %d  dropped: %d  chosen==rejected: %d  empty fields: %d  duplicates: %d\n",
		rep.Invalid, rep.Dropped, rep.Identical, rep.EmptyField, rep.Duplicates)
	if skipIdentical && rep.Identical > 0 {
		fmt.Fprintf(w, "skipped %d pair(s) with chosen == rejected (--keep-identical keeps them)\n", rep.Identical)
	}
	reasons := rep.Reasons()
	if len(reasons) > 0 {
		fmt.Fprintln(w, "skipped rows by reason:")
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %5d  %s\n", reasons[k], k)
		}
	}
	if len(rep.Issues) > 0 {
		fmt.Fprintln(w, "problems:")
		for i, is := range rep.Issues {
			if i == maxShow {
				fmt.Fprintf(w, "  … %d more\n", len(rep.Issues)-maxShow)
				break
			}
			fmt.Fprintf(w, "  %s: %v\n", is.Severity, is.RowError)
		}
	}
}

// tokenizerFor loads --tokenizer with the length flags.
func (f *dataFlags) tokenizerFor() (*data.Tokenizer, error) {
	if f.cfg != nil {
		return f.prepared(data.LoadTokenizer(f.tokenizer, f.cfg.TokenizeOptions()))
	}
	rules := f.rules
	if f.template != "" && rules == data.RulesTRL {
		rules = data.RulesLlamaFactory
	}
	return f.prepared(data.LoadTokenizer(f.tokenizer, data.TokenizeOptions{
		MaxLength: f.maxLength, MaxPromptLength: f.maxPromptLength, MaxCompletionLength: f.maxCompl,
		TruncationMode: f.truncation, InferSeqlen: f.inferSeqlen, Rules: rules, Template: f.template,
	}))
}

// prepared resolves the rules and template before any row is tokenized.
func (f *dataFlags) prepared(tok *data.Tokenizer, err error) (*data.Tokenizer, error) {
	if err != nil {
		return nil, err
	}
	if err := tok.Prepare(); err != nil {
		return nil, err
	}
	return tok, nil
}

// tokenStats tokenizes each example as data check streams it: once without length
// limits (the token counts per field, 4 bytes each) and once with them (what they drop
// or cut), keeping only counts and the reports.
type tokenStats struct {
	unlimited *data.Tokenizer // tok without length limits: the counts
	limited   *data.Tokenizer // tok itself, when it has limits (else nil): what they drop or cut
	names     []string
	fields    map[string][]int32
	rows      int
	rep, lrep data.TokenizeReport
}

func newTokenStats(tok *data.Tokenizer) *tokenStats {
	u := *tok // a copy: Enc, Chat and the prepared LF template are shared, read only
	u.Opts.MaxLength, u.Opts.MaxPromptLength, u.Opts.MaxCompletionLength = 0, 0, 0
	s := &tokenStats{unlimited: &u, fields: map[string][]int32{}}
	if tok.Opts.MaxLength > 0 || tok.Opts.MaxPromptLength > 0 || tok.Opts.MaxCompletionLength > 0 {
		s.limited = tok
	}
	return s
}

func (s *tokenStats) count(name string, n int) {
	if _, ok := s.fields[name]; !ok {
		s.names = append(s.names, name)
	}
	s.fields[name] = append(s.fields[name], int32(n))
}

// add tokenizes one example; a row that cannot be tokenized is an issue, not an error.
func (s *tokenStats) add(ex *data.Example) error {
	t, err := s.unlimited.TokenizeInto(&s.rep, ex, data.PolicyDrop)
	if err != nil {
		return err
	}
	if t != nil {
		s.rows++
		s.count("prompt", len(t.PromptIDs))
		longest := 0
		for i, c := range t.Completions {
			switch t.Kind {
			case data.KindPair:
				s.count([]string{"chosen", "rejected"}[i], len(c))
			case data.KindUnpaired:
				s.count("completion", len(c))
			default:
				s.count("response", len(c))
			}
			longest = max(longest, len(c))
		}
		s.count("prompt+longest completion", len(t.PromptIDs)+longest)
	}
	if s.limited != nil {
		if _, err := s.limited.TokenizeInto(&s.lrep, ex, data.PolicyDrop); err != nil {
			return err
		}
	}
	return nil
}

// print writes the token counts per field, then what the length flags would drop or cut.
func (s *tokenStats) print(w io.Writer, tokenizer string) error {
	fmt.Fprintf(w, "tokens (%s, %d rows; completions as the rules end them):\n", tokenizer, s.rows)
	fmt.Fprintf(w, "  %-28s %7s %7s %7s %7s\n", "field", "min", "median", "p95", "max")
	for _, n := range s.names {
		v := s.fields[n]
		slices.Sort(v)
		fmt.Fprintf(w, "  %-28s %7d %7d %7d %7d\n", n, v[0], quantile(v, 0.5), quantile(v, 0.95), v[len(v)-1])
	}
	for _, is := range s.rep.Issues {
		fmt.Fprintf(w, "  %s: %v\n", is.Severity, is.RowError)
	}
	if s.limited != nil {
		fmt.Fprintf(w, "with the length limits: %d rows kept, %d dropped (prompt too long), %d prompts and %d completions truncated\n",
			s.lrep.Tokenized, s.lrep.DroppedLong, s.lrep.TruncatedPrompt, s.lrep.TruncatedCompl)
		if err := checkCollapsed(w, &s.lrep); err != nil {
			return err
		}
	}
	if len(s.rep.Issues) > 0 {
		return badInputf("%d row(s) could not be tokenized; first: %v", len(s.rep.Issues), s.rep.Issues[0].RowError)
	}
	return nil
}

// quantile is the nearest-rank quantile of sorted values.
func quantile[T int | int32](sorted []T, q float64) T {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func runDataConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data convert", stderr)
	var f dataFlags
	f.register(fs)
	to := fs.String("to", "", "output format: "+strings.Join(data.OutFormats(), ", "))
	pos, flags := splitArgs(args, dataValuedFlags)
	if helped, err := parseFlags(fs, flags); helped || err != nil {
		return err
	}
	if f.configPath != "" {
		if _, err := f.loadConfig(pos); err != nil {
			return badInput(err)
		}
	}
	if len(pos) != 2 {
		return badInputf("data convert: want IN and OUT, got %d arguments", len(pos))
	}
	if *to == "" {
		return badInputf("data convert: --to is required (%s)", strings.Join(data.OutFormats(), ", "))
	}
	opts, err := f.options()
	if err != nil {
		return badInput(err)
	}
	if err := resolveHubArgs(stderr, hubArg{"dataset", &pos[0], "data", opts.DatasetDir}); err != nil {
		return err
	}
	opts.Hub = hubSplitFiles(stderr)
	ds, err := data.Load(pos[0], opts)
	if err != nil {
		return badInput(err)
	}
	if ds.Report.Invalid > 0 && !f.dropInvalid {
		printReport(stderr, &ds.Report, 20, !f.keepIdentical)
		return badInputf("%d invalid row(s); first: %v", ds.Report.Invalid, firstIssue(&ds.Report, data.Invalid))
	}
	var tok *data.Tokenizer
	if f.tokenizer != "" {
		if tok, err = f.tokenizerFor(); err != nil {
			return badInput(err)
		}
	}
	if err := data.ConvertFile(pos[1], ds.Examples, *to, tok); err != nil {
		return inputOrWriteError(err)
	}
	fmt.Fprintf(stdout, "%s: %d rows written as %s (%d skipped by loading)\n", pos[1], len(ds.Examples), *to, ds.Report.Invalid+ds.Report.Dropped)
	return nil
}

func runDataFromRatings(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data from-ratings", stderr)
	weights := fs.String("weights", data.WeightsString(data.DefaultAspectWeights()), "aspect weights ASPECT=W,... (aspects: "+strings.Join(data.Aspects, ", ")+"); unnamed aspects weigh 0")
	margin := fs.Float64("margin", 0, "keep a pair only when the chosen score exceeds the rejected one by more than this (scores are in [0,1])")
	allPairs := fs.Bool("all-pairs", false, "every pair of a prompt's responses above the margin, instead of best vs worst")
	minChars := fs.Int("min-chars", 10, "drop responses shorter than this many characters (after trimming spaces)")
	dropInvalid := fs.Bool("drop-invalid", false, "skip invalid rows (listed) instead of failing with exit 2")
	maxRow := fs.Int("max-row-bytes", data.DefaultMaxRowBytes, "largest row accepted, in bytes; -1: no limit")
	maxShow := fs.Int("show", 20, "how many problems to list")
	pos, flags := splitArgs(args, dataValuedFlags)
	if helped, err := parseFlags(fs, flags); helped || err != nil {
		return err
	}
	if len(pos) != 2 {
		return badInputf("data from-ratings: want IN and OUT, got %d arguments", len(pos))
	}
	w, err := data.ParseWeights(*weights)
	if err != nil {
		return badInput(fmt.Errorf("--weights: %w", err))
	}
	if *margin < 0 {
		return badInputf("--margin %v: must be ≥ 0", *margin)
	}
	pairs, rep, err := data.PairsFromRatings(pos[0], data.RatingsOptions{
		Weights: w, Margin: *margin, AllPairs: *allPairs, MinChars: *minChars, Policy: data.PolicyDrop, MaxRowBytes: *maxRow,
	})
	if err != nil {
		return badInput(err)
	}
	out := stdout
	if rep.Invalid > 0 && !*dropInvalid {
		out = stderr
	}
	fmt.Fprintf(out, "%s: %d rows, %d prompts, %d rated responses (weights %s)\n", pos[0], rep.Rows, rep.Prompts, rep.Responses, data.WeightsString(w))
	fmt.Fprintf(out, "responses dropped: %d empty, %d shorter than %d characters, %d template-like, %d without a usable rating\n",
		rep.Empty, rep.Short, *minChars, rep.Template, rep.Unrated)
	fmt.Fprintf(out, "pairs not made: %d ties, %d within the margin, %d with identical texts; %d prompts gave no pair\n",
		rep.Ties, rep.BelowMargin, rep.Identical, rep.NoPair)
	printIssues(out, rep.Issues, rep.Reasons(), *maxShow)
	if rep.Invalid > 0 && !*dropInvalid {
		return badInputf("%d invalid row(s); first: %v", rep.Invalid, firstOf(rep.Issues, data.Invalid))
	}
	if len(pairs) == 0 {
		return badInputf("no pair made from %s (see the counts above)", pos[0])
	}
	if err := data.WriteFileAtomic(pos[1], func(w io.Writer) error { return data.WriteRatedPairs(w, pairs) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d pairs written (TRL standard JSON Lines, with score_chosen/score_rejected)\n", pos[1], len(pairs))
	return nil
}

// printIssues prints grouped reasons and the first maxShow issues.
func printIssues(w io.Writer, issues []data.Issue, reasons map[string]int, maxShow int) {
	if len(reasons) > 0 {
		fmt.Fprintln(w, "by reason:")
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %5d  %s\n", reasons[k], k)
		}
	}
	if len(issues) > 0 {
		fmt.Fprintln(w, "problems:")
		for i, is := range issues {
			if i == maxShow {
				fmt.Fprintf(w, "  … %d more\n", len(issues)-maxShow)
				break
			}
			fmt.Fprintf(w, "  %s: %v\n", is.Severity, is.RowError)
		}
	}
}

func firstOf(issues []data.Issue, sev data.Severity) error {
	for _, is := range issues {
		if is.Severity == sev {
			return is.RowError
		}
	}
	return errors.New("none")
}

func runDataSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data sample", stderr)
	var f dataFlags
	f.register(fs)
	total := fs.Int("total", 0, "rows to sample (required)")
	ratio := fs.String("ratio", "", "language shares LANG=R,... summing to 1 (languages: en (Latin script), zh, ja, ko, ru, ar, other, und)")
	seed := fs.Uint64("seed", 0, "random seed: the same input and seed give the same sample")
	allowShort := fs.Bool("allow-short", false, "take every row of a language short of its share instead of failing")
	to := fs.String("to", "", "output format (default: trl, or trl-conversational when rows are conversations): "+strings.Join(data.OutFormats(), ", "))
	pos, flags := splitArgs(args, dataValuedFlags)
	if helped, err := parseFlags(fs, flags); helped || err != nil {
		return err
	}
	if len(pos) != 2 {
		return badInputf("data sample: want IN and OUT, got %d arguments", len(pos))
	}
	if *total <= 0 {
		return badInputf("data sample: --total N is required (N ≥ 1)")
	}
	if *ratio == "" {
		return badInputf("data sample: --ratio is required (e.g. en=0.7,zh=0.3)")
	}
	ratios, err := data.ParseRatios(*ratio)
	if err != nil {
		return badInput(fmt.Errorf("--ratio: %w", err))
	}
	opts, err := f.options()
	if err != nil {
		return badInput(err)
	}
	if err := resolveHubArgs(stderr, hubArg{"dataset", &pos[0], "data", opts.DatasetDir}); err != nil {
		return err
	}
	opts.Hub = hubSplitFiles(stderr)
	ds, err := data.Load(pos[0], opts)
	if err != nil {
		return badInput(err)
	}
	if ds.Report.Invalid > 0 && !f.dropInvalid {
		printReport(stderr, &ds.Report, 20, !f.keepIdentical)
		return badInputf("%d invalid row(s); first: %v", ds.Report.Invalid, firstIssue(&ds.Report, data.Invalid))
	}
	out, rep, err := data.Sample(ds.Examples, data.SampleOptions{Total: *total, Ratios: ratios, Seed: *seed, AllowShort: *allowShort})
	printSampleReport(stdout, rep, ratios)
	if err != nil {
		return badInput(err)
	}
	format := *to
	if format == "" {
		format = data.OutTRL
		for i := range out {
			if out[i].Conversational {
				format = data.OutTRLConversational
				break
			}
		}
	}
	var tok *data.Tokenizer
	if f.tokenizer != "" {
		if tok, err = f.tokenizerFor(); err != nil {
			return badInput(err)
		}
	}
	if err := data.ConvertFile(pos[1], out, format, tok); err != nil {
		return inputOrWriteError(err)
	}
	fmt.Fprintf(stdout, "%s: %d rows written as %s\n", pos[1], len(out), format)
	return nil
}

func printSampleReport(w io.Writer, rep *data.SampleReport, ratios []data.LangRatio) {
	if rep == nil {
		return
	}
	langs := make([]string, 0, len(rep.Available))
	for l := range rep.Available {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	var avail []string
	for _, l := range langs {
		avail = append(avail, fmt.Sprintf("%s %d", l, rep.Available[l]))
	}
	fmt.Fprintf(w, "%d rows, %d exact duplicates removed; distinct rows by language: %s\n", rep.Input, rep.Duplicates, strings.Join(avail, ", "))
	for _, r := range ratios {
		fmt.Fprintf(w, "  %-6s ratio %.3g: %d wanted, %d available, %d taken\n", r.Lang, r.Ratio, rep.Target[r.Lang], rep.Available[r.Lang], rep.Taken[r.Lang])
	}
	if rep.Excluded > 0 {
		fmt.Fprintf(w, "  %d rows in other languages left out\n", rep.Excluded)
	}
}
