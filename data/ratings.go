package data

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file turns per-response aspect ratings into preference pairs
// (`preftune data from-ratings`).
//
// Inputs, detected per row:
//
//   - UltraFeedback's raw layout (openbmb/UltraFeedback): {instruction, completions:
//     [{response, annotations: {helpfulness, honesty, instruction_following,
//     truthfulness: {Rating, ...}}}]}. Ratings are strings "1".."5" (numbers are
//     accepted too); "N/A" (which UltraFeedback's annotation script writes for
//     honesty and instruction_following when GPT-4 gave none) means "not rated".
//     One row is one prompt.
//   - HelpSteer-style rows (nvidia/HelpSteer, HelpSteer2): {prompt, response,
//     helpfulness, correctness, coherence, complexity, verbosity}, each rating an
//     integer 0..4. Rows are grouped by their exact prompt text, in order of first
//     appearance.
//
// Scoring. Each rating is normalised to [0,1] — (r−1)/4 on UltraFeedback's 1..5
// scale, r/4 on HelpSteer's 0..4 — and mapped to one of the five aspects: HelpSteer's
// names are the aspects; UltraFeedback's honesty and truthfulness both map to
// correctness, instruction_following to coherence and helpfulness to helpfulness.
// When two ratings map to one aspect (honesty and truthfulness) the aspect is their
// mean; a rating that is N/A or absent is left out of that mean. A response's score is
// the weighted mean over the aspects it has a value for:
//
//	score = Σ w_a·s_a / Σ w_a   (a: aspects with a value and w_a > 0)
//
// so UltraFeedback responses, which have no complexity or verbosity rating, are scored
// on correctness, helpfulness and coherence with weights 0.4/0.9, 0.3/0.9, 0.2/0.9.
// A response with no usable rating is dropped.
//
// Filtering. Before pairing, a response is dropped when it is empty, shorter than
// MinChars characters (runes, after trimming spaces), or template-like: it has no
// letter or digit at all ("...", "—"), it only repeats the prompt, it is a bare
// placeholder ("[Your Name]", "<answer>", "{output}") or a non-answer ("N/A", "None",
// "null", "No response").
//
// Pairing. By default the best response (highest score; the first one on a tie) is
// paired with the worst (lowest score; the first one on a tie). With AllPairs, every
// two responses of a prompt make a pair, the higher-scored one chosen. A pair is kept
// only when the chosen score exceeds the rejected score by more than Margin (so ties
// are always dropped; scores closer than 1e-9 count as tied) and the two texts differ.

// Aspects lists the five aspects in the order the defaults are written.
var Aspects = []string{"correctness", "helpfulness", "coherence", "complexity", "verbosity"}

// DefaultAspectWeights are the weights of the five aspects.
func DefaultAspectWeights() map[string]float64 {
	return map[string]float64{"correctness": 0.4, "helpfulness": 0.3, "coherence": 0.2, "complexity": 0.05, "verbosity": 0.05}
}

// UltraFeedbackAspects maps UltraFeedback's annotation names to the aspects.
var UltraFeedbackAspects = map[string]string{
	"helpfulness":           "helpfulness",
	"honesty":               "correctness",
	"truthfulness":          "correctness",
	"instruction_following": "coherence",
}

// ultraFeedbackOrder is the order UltraFeedback's annotations are read in (errors
// name the first bad one).
var ultraFeedbackOrder = []string{"helpfulness", "honesty", "instruction_following", "truthfulness"}

// RatingsOptions control [PairsFromRatings].
type RatingsOptions struct {
	Weights  map[string]float64 // aspect → weight; nil: DefaultAspectWeights
	Margin   float64            // chosen score − rejected score must exceed it
	AllPairs bool               // every pair above the margin instead of best vs worst
	MinChars int                // responses shorter than this (runes, trimmed) are dropped
	Policy   Policy             // invalid rows: stop (strict) or record and skip
	// MaxRowBytes: see [Options.MaxRowBytes].
	MaxRowBytes int
}

// RatedPair is one pair made from ratings. Scores are in [0,1].
type RatedPair struct {
	Prompt, Chosen, Rejected   string
	ScoreChosen, ScoreRejected float64
	Source                     string
	Row                        int // row of the prompt (UltraFeedback) or of the chosen response (HelpSteer)
	ChosenField, RejectedField string
}

// RatingsReport counts what [PairsFromRatings] did.
type RatingsReport struct {
	Rows      int // rows read
	Invalid   int // rows skipped as invalid
	Prompts   int // distinct prompts
	Responses int // rated responses read
	// Responses dropped before pairing, by reason.
	Empty, Short, Template, Unrated int
	// Candidate pairs not made.
	Ties, BelowMargin, Identical int
	NoPair                       int // prompts that gave no pair
	Pairs                        int
	Issues                       []Issue
}

// rated is one response with its score.
type rated struct {
	text   string
	score  float64
	source string
	row    int
	field  string
}

type promptGroup struct {
	prompt    string
	source    string
	row       int
	responses []rated
}

// ParseWeights parses "correctness=0.4,helpfulness=0.3,...". The aspects not named get
// weight 0.
func ParseWeights(s string) (map[string]float64, error) {
	w := map[string]float64{}
	known := map[string]bool{}
	for _, a := range Aspects {
		known[a] = true
	}
	total := 0.0
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("weights: %q is not ASPECT=WEIGHT", kv)
		}
		k = strings.TrimSpace(k)
		if !known[k] {
			return nil, fmt.Errorf("weights: unknown aspect %q (aspects: %s)", k, strings.Join(Aspects, ", "))
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("weights: %s=%s: expected a number ≥ 0", k, v)
		}
		w[k] = f
		total += f
	}
	if total <= 0 {
		return nil, fmt.Errorf("weights: at least one weight must be positive")
	}
	return w, nil
}

// PairsFromRatings reads rated responses from spec (files, directories, comma
// separated) and makes preference pairs. See the comment at the top of ratings.go for
// the rules.
func PairsFromRatings(spec string, opts RatingsOptions) ([]RatedPair, *RatingsReport, error) {
	if opts.Weights == nil {
		opts.Weights = DefaultAspectWeights()
	}
	if opts.Margin < 0 {
		return nil, nil, fmt.Errorf("margin %v: must be ≥ 0", opts.Margin)
	}
	rep := &RatingsReport{}
	files, err := specFiles(spec)
	if err != nil {
		return nil, rep, err
	}
	var groups []*promptGroup
	byPrompt := map[string]*promptGroup{} // HelpSteer grouping
	record := func(sev Severity, e *RowError) error {
		rep.Issues = append(rep.Issues, Issue{Severity: sev, RowError: e})
		if sev == Invalid {
			if opts.Policy == PolicyStrict {
				return e
			}
			rep.Invalid++
		}
		return nil
	}
	for _, f := range files {
		err := ReadRecordsWith(f, ReadOptions{MaxRowBytes: opts.MaxRowBytes}, func(rec *Record) error {
			rep.Rows++
			if rec.Err != nil {
				return record(Invalid, rec.Err)
			}
			r := &row{fields: rec.Fields}
			var g *promptGroup
			var rs []rated
			var e *RowError
			switch {
			case r.has("completions") || r.has("instruction"):
				g, rs, e = ultraFeedbackRow(r, opts.Weights)
				if e == nil {
					g.source, g.row = rec.Source, rec.Row
					groups = append(groups, g)
				}
			case r.has("response") || r.has("prompt"):
				var prompt string
				prompt, rs, e = helpSteerRow(r, opts.Weights)
				if e == nil {
					if g = byPrompt[prompt]; g == nil {
						g = &promptGroup{prompt: prompt, source: rec.Source, row: rec.Row}
						byPrompt[prompt] = g
						groups = append(groups, g)
					}
				}
			default:
				e = fieldErr(ErrUnknownFormat, "", "unknown layout: row has keys {%s}; expected UltraFeedback rows {instruction, completions: [{response, annotations}]} or HelpSteer rows {prompt, response, helpfulness, correctness, coherence, complexity, verbosity}",
					strings.Join(sortedKeys(rec.Fields), ", "))
			}
			if e != nil {
				e.Source, e.Row = rec.Source, rec.Row
				return record(Invalid, e)
			}
			for i := range rs {
				rs[i].source, rs[i].row = rec.Source, rec.Row
				rep.Responses++
				if math.IsNaN(rs[i].score) {
					rep.Unrated++
					if err := record(Dropped, &RowError{Source: rec.Source, Row: rec.Row, Field: rs[i].field, Err: ErrDropped, Msg: "dropped: no usable rating"}); err != nil {
						return err
					}
					continue
				}
				if reason, counter := responseFilter(g.prompt, rs[i].text, opts.MinChars, rep); reason != "" {
					*counter++
					if err := record(Dropped, &RowError{Source: rec.Source, Row: rec.Row, Field: rs[i].field, Err: ErrDropped, Msg: "dropped: " + reason}); err != nil {
						return err
					}
					continue
				}
				g.responses = append(g.responses, rs[i])
			}
			return nil
		})
		if err != nil {
			return nil, rep, err
		}
	}
	rep.Prompts = len(groups)
	var pairs []RatedPair
	for _, g := range groups {
		n := len(pairs)
		pairs = appendPairs(pairs, g, opts, rep)
		if len(pairs) == n {
			rep.NoPair++
		}
	}
	rep.Pairs = len(pairs)
	return pairs, rep, nil
}

// specFiles expands a comma-separated list of files and directories.
func specFiles(spec string) ([]string, error) {
	var files []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		fs, err := expandPath(item)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", item, err)
		}
		files = append(files, fs...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dataset given")
	}
	return files, nil
}

const scoreEps = 1e-9

// appendPairs makes the pairs of one prompt.
func appendPairs(pairs []RatedPair, g *promptGroup, opts RatingsOptions, rep *RatingsReport) []RatedPair {
	rs := g.responses
	if len(rs) < 2 {
		return pairs
	}
	try := func(i, j int) {
		hi, lo := i, j
		if rs[j].score > rs[i].score {
			hi, lo = j, i
		}
		d := rs[hi].score - rs[lo].score
		switch {
		case d <= scoreEps:
			rep.Ties++
		case d <= opts.Margin+scoreEps:
			rep.BelowMargin++
		case rs[hi].text == rs[lo].text:
			rep.Identical++
		default:
			row := g.row
			if rs[hi].row != 0 {
				row = rs[hi].row
			}
			pairs = append(pairs, RatedPair{
				Prompt: g.prompt, Chosen: rs[hi].text, Rejected: rs[lo].text,
				ScoreChosen: rs[hi].score, ScoreRejected: rs[lo].score,
				Source: rs[hi].source, Row: row, ChosenField: rs[hi].field, RejectedField: rs[lo].field,
			})
		}
	}
	if opts.AllPairs {
		for i := range rs {
			for j := i + 1; j < len(rs); j++ {
				try(i, j)
			}
		}
		return pairs
	}
	best, worst := 0, 0
	for i := range rs {
		if rs[i].score > rs[best].score {
			best = i
		}
		if rs[i].score < rs[worst].score {
			worst = i
		}
	}
	if best == worst { // every score equal
		rep.Ties++
		return pairs
	}
	try(best, worst)
	return pairs
}

var (
	placeholderRE = regexp.MustCompile(`^(\[[^\[\]]*\]|<[^<>]*>|\{\{?[^{}]*\}?\})$`)
	nonAnswers    = map[string]bool{"n/a": true, "na": true, "none": true, "null": true, "nil": true, "nan": true,
		"no response": true, "no answer": true, "empty": true, "undefined": true}
)

// responseFilter says why a response is dropped before pairing ("" to keep it), and
// which counter of rep to increment.
func responseFilter(prompt, text string, minChars int, rep *RatingsReport) (string, *int) {
	t := strings.TrimSpace(text)
	if t == "" {
		return "empty response", &rep.Empty
	}
	if n := utf8.RuneCountInString(t); n < minChars {
		return fmt.Sprintf("response of %d characters, shorter than --min-chars %d", n, minChars), &rep.Short
	}
	if !strings.ContainsFunc(t, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return "template-like response: no letter or digit", &rep.Template
	}
	if strings.EqualFold(t, strings.TrimSpace(prompt)) {
		return "template-like response: repeats the prompt", &rep.Template
	}
	if len(t) <= 64 && placeholderRE.MatchString(t) {
		return fmt.Sprintf("template-like response: placeholder %q", t), &rep.Template
	}
	if nonAnswers[strings.ToLower(strings.TrimRight(t, ".!"))] {
		return fmt.Sprintf("template-like response: non-answer %q", t), &rep.Template
	}
	return "", nil
}

// aspectScore combines normalised ratings: the mean per aspect, then the weighted mean
// over aspects (NaN when no weighted aspect has a value).
type aspectScore struct {
	sum map[string]float64
	n   map[string]int
}

func (a *aspectScore) add(aspect string, v float64) {
	if a.sum == nil {
		a.sum, a.n = map[string]float64{}, map[string]int{}
	}
	a.sum[aspect] += v
	a.n[aspect]++
}

func (a *aspectScore) score(w map[string]float64) float64 {
	num, den := 0.0, 0.0
	for _, asp := range Aspects {
		if a.n[asp] == 0 || w[asp] <= 0 {
			continue
		}
		num += w[asp] * a.sum[asp] / float64(a.n[asp])
		den += w[asp]
	}
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// parseRating reads one rating: a number or a numeric string; "N/A" (and null) mean
// not rated. lo..hi is the scale; the result is normalised to [0,1].
func parseRating(v any, field string, lo, hi float64) (float64, bool, *RowError) {
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case string:
		s := strings.TrimSpace(x)
		if strings.EqualFold(s, "N/A") || s == "" {
			return 0, false, nil
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false, fieldErr(ErrInvalidValue, field, "expected a rating %g..%g or \"N/A\", got %s", lo, hi, describe(v))
		}
	default:
		var ok bool
		if f, ok = asFloat(v); !ok {
			return 0, false, fieldErr(ErrWrongType, field, "expected a rating %g..%g, got %s", lo, hi, describe(v))
		}
	}
	if f < lo || f > hi {
		return 0, false, fieldErr(ErrInvalidValue, field, "rating %g is outside the scale %g..%g", f, lo, hi)
	}
	return (f - lo) / (hi - lo), true, nil
}

// ultraFeedbackRow reads one UltraFeedback row.
func ultraFeedbackRow(r *row, w map[string]float64) (*promptGroup, []rated, *RowError) {
	prompt, err := r.str("instruction")
	if err != nil {
		return nil, nil, err
	}
	cv, err := r.required("completions")
	if err != nil {
		return nil, nil, err
	}
	cl, ok := cv.([]any)
	if !ok {
		return nil, nil, fieldErr(ErrWrongType, "completions", "expected a list of completions, got %s", describe(cv))
	}
	g := &promptGroup{prompt: prompt}
	var out []rated
	for i, c := range cl {
		at := fmt.Sprintf("completions[%d]", i)
		cm, ok := c.(map[string]any)
		if !ok {
			return nil, nil, fieldErr(ErrWrongType, at, "expected a completion object {response, annotations}, got %s", describe(c))
		}
		cr := &row{fields: cm, source: map[string]string{"response": at + ".response", "annotations": at + ".annotations"}}
		text, err := cr.str("response")
		if err != nil {
			return nil, nil, err
		}
		av, err := cr.required("annotations")
		if err != nil {
			return nil, nil, err
		}
		am, ok := av.(map[string]any)
		if !ok {
			return nil, nil, fieldErr(ErrWrongType, at+".annotations", "expected an object of ratings, got %s", describe(av))
		}
		var sc aspectScore
		for _, name := range ultraFeedbackOrder {
			v, present := am[name]
			if !present || v == nil {
				continue
			}
			field := at + ".annotations." + name
			var rv any = v
			if m, ok := v.(map[string]any); ok {
				if rv, ok = m["Rating"]; !ok {
					return nil, nil, fieldErr(ErrMissingField, field+".Rating", "missing field (annotation has: %s)", strings.Join(sortedKeys(m), ", "))
				}
				field += ".Rating"
			} else if _, isList := v.([]any); isList {
				return nil, nil, fieldErr(ErrWrongType, field, "expected an annotation object {Rating, ...}, got %s", describe(v))
			}
			f, ok, err := parseRating(rv, field, 1, 5)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				sc.add(UltraFeedbackAspects[name], f)
			}
		}
		out = append(out, rated{text: text, score: sc.score(w), field: at + ".response"})
	}
	return g, out, nil
}

// helpSteerRow reads one HelpSteer row: its prompt and one rated response.
func helpSteerRow(r *row, w map[string]float64) (string, []rated, *RowError) {
	prompt, err := r.str("prompt")
	if err != nil {
		return "", nil, err
	}
	text, err := r.str("response")
	if err != nil {
		return "", nil, err
	}
	var sc aspectScore
	found := false
	for _, a := range Aspects {
		v, present := r.fields[a]
		if !present {
			continue
		}
		found = true
		f, ok, err := parseRating(v, a, 0, 4)
		if err != nil {
			return "", nil, err
		}
		if ok {
			sc.add(a, f)
		}
	}
	if !found {
		return "", nil, fieldErr(ErrMissingField, "helpfulness", "missing ratings: a HelpSteer row needs at least one of %s (row has: %s)", strings.Join(Aspects, ", "), strings.Join(r.keys(), ", "))
	}
	return prompt, []rated{{text: text, score: sc.score(w), field: "response"}}, nil
}

// WriteRatedPairs writes pairs as TRL standard JSON Lines ({prompt, chosen, rejected,
// score_chosen, score_rejected}).
func WriteRatedPairs(w io.Writer, pairs []RatedPair) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, p := range pairs {
		if err := enc.Encode(kv("prompt", p.Prompt, "chosen", p.Chosen, "rejected", p.Rejected,
			"score_chosen", p.ScoreChosen, "score_rejected", p.ScoreRejected)); err != nil {
			return err
		}
	}
	return nil
}

// Reasons groups the report's issues by reason, as [Report.Reasons] does.
func (r *RatingsReport) Reasons() map[string]int {
	out := map[string]int{}
	for _, is := range r.Issues {
		msg := is.Msg
		if i := strings.Index(msg, " (row has:"); i >= 0 {
			msg = msg[:i]
		}
		if i := strings.Index(msg, " of "); i >= 0 && strings.HasPrefix(msg, "dropped: response of") {
			msg = "dropped: shorter than --min-chars"
		}
		if i := strings.Index(msg, ` "`); i >= 0 && strings.HasPrefix(msg, "dropped: template-like") {
			msg = msg[:i]
		}
		if is.Field != "" {
			msg = stripIndexes(is.Field) + ": " + msg
		}
		out[is.Severity.String()+": "+msg]++
	}
	return out
}

// sortedAspects lists the weights for display.
func sortedAspects(w map[string]float64) []string {
	var out []string
	for _, a := range Aspects {
		if w[a] > 0 {
			out = append(out, fmt.Sprintf("%s=%g", a, w[a]))
		}
	}
	sort.Strings(out)
	return out
}

// WeightsString formats weights as the --weights flag takes them.
func WeightsString(w map[string]float64) string { return strings.Join(sortedAspects(w), ",") }
