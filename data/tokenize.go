package data

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/preftune/preftune/hf/chattemplate"
)

// Encoder is what tokenization needs from a tokenizer; *hf/tokenizer.Tokenizer
// satisfies it.
type Encoder interface {
	Encode(text string, addSpecialTokens bool) []int
	BOS() (int, bool)
	EOS() (int, bool)
}

// specialAdder is implemented by tokenizers that can say which ids Encode(text, true)
// adds around a text (*hf/tokenizer.Tokenizer does).
type specialAdder interface {
	SpecialTokensAdded() (prefix, suffix []int)
}

// ChatRenderer renders a conversation to text with a chat template
// (apply_chat_template with tokenize=False). Messages are {"role", "content"} maps;
// tools is nil or the row's tool list.
type ChatRenderer interface {
	Render(messages []map[string]any, addGenerationPrompt bool, tools []any) (string, error)
}

// ChatRendererFunc adapts a function to ChatRenderer (e.g. around hf/chattemplate).
type ChatRendererFunc func(messages []map[string]any, addGenerationPrompt bool, tools []any) (string, error)

// Render calls f.
func (f ChatRendererFunc) Render(m []map[string]any, gen bool, tools []any) (string, error) {
	return f(m, gen, tools)
}

// Truncation modes (TRL's DPOConfig.truncation_mode).
const (
	KeepEnd   = "keep_end"
	KeepStart = "keep_start"
)

// BOSPolicy says whether plain-text prompts get a BOS token.
type BOSPolicy int

const (
	// BOSAuto prepends what the tokenizer's own post-processor puts before a text
	// (BOS for Llama 2/3 and Mistral, nothing for GPT-2 and Qwen), unless the prompt
	// already starts with it: the legacy TRL tokenize_row rule.
	BOSAuto BOSPolicy = iota
	// BOSNever adds nothing (current TRL for decoder-only models).
	BOSNever
	// BOSAlways prepends the tokenizer's BOS token when it has one.
	BOSAlways
)

// TokenizeOptions are TRL's DPOConfig length settings.
type TokenizeOptions struct {
	MaxLength           int    // prompt+completion; 0: no limit. LLaMA-Factory's cutoff_len is an alias.
	MaxPromptLength     int    // prompt, keeping its end; 0: no limit
	MaxCompletionLength int    // each completion (EOS included), keeping its start; 0: no limit
	TruncationMode      string // keep_end (default) or keep_start, applied with MaxLength
	// DropLongPrompts drops rows whose prompt alone is longer than MaxPromptLength
	// (or at least MaxLength) instead of truncating it.
	DropLongPrompts bool
	BOS             BOSPolicy
	// NoEOS leaves completions without the EOS token TRL appends.
	NoEOS bool
	// InferSeqlen applies MaxLength as LLaMA-Factory applies cutoff_len instead of
	// with TruncationMode: [InferSeqlen] splits it between the prompt and the longest
	// completion in proportion to their lengths, and both keep their start
	// (prompt_ids[:source_len], as LLaMA-Factory's pairwise/feedback processors do).
	InferSeqlen bool
	// Rules says whose tokenization rules apply: RulesTRL (the default: current TRL's
	// DPOTrainer), RulesLlamaFactory (LLaMA-Factory's processors: its template,
	// infer_seqlen, its EOS rules) or RulesTRLLegacy (TRL's older tokenize_row).
	Rules string
	// Template is LLaMA-Factory's `template:` name under RulesLlamaFactory; empty: the
	// template is parsed from the model's chat template (LLaMA-Factory's parse_template).
	Template string
	// EnableThinking is LLaMA-Factory's enable_thinking for reasoning templates (nil: true).
	EnableThinking *bool
	// DefaultSystem overrides the LLaMA-Factory template's default system message.
	DefaultSystem *string
}

// Tokenization rule sets ([TokenizeOptions.Rules]).
const (
	RulesTRL          = "trl"
	RulesLlamaFactory = "llamafactory"
	RulesTRLLegacy    = "trl-legacy"
)

// InferSeqlen is LLaMA-Factory's infer_seqlen (data/processor/processor_utils.py): the
// lengths a source (prompt) and a target (completion) are cut to so that they fit in
// cutoff tokens, the target favoured: it keeps all of its length when it is under half
// the cutoff, the source keeps all of its when it is, and otherwise the cutoff is
// shared in proportion (target share int(cutoff·target/(source+target))).
func InferSeqlen(source, target, cutoff int) (newSource, newTarget int) {
	var maxTarget int
	switch {
	case target*2 < cutoff: // truncate the source
		maxTarget = cutoff
	case source*2 < cutoff: // truncate the target
		maxTarget = cutoff - source
	default: // truncate both
		maxTarget = int(float64(cutoff) * (float64(target) / float64(source+target)))
	}
	newTarget = min(maxTarget, target)
	newSource = min(max(cutoff-newTarget, 0), source)
	return newSource, newTarget
}

// Pair is one tokenized preference pair. The chosen and rejected sequences are
// PromptIDs+ChosenIDs and PromptIDs+RejectedIDs; only completion tokens carry loss.
type Pair struct {
	PromptIDs, ChosenIDs, RejectedIDs []int32
	Source                            string
	Row                               int
}

// Tokenized is one tokenized example of any kind: for pairs, Completions holds
// chosen then rejected; for unpaired rows one completion and Label; for listwise rows
// every response with Scores.
type Tokenized struct {
	Kind        Kind
	PromptIDs   []int32
	Completions [][]int32
	Label       bool
	Scores      []float64
	Source      string
	Row         int
}

// Pair returns the pair view of a tokenized pair (the first two completions; missing
// ones are empty).
func (t *Tokenized) Pair() Pair {
	p := Pair{PromptIDs: t.PromptIDs, Source: t.Source, Row: t.Row}
	if len(t.Completions) > 0 {
		p.ChosenIDs = t.Completions[0]
	}
	if len(t.Completions) > 1 {
		p.RejectedIDs = t.Completions[1]
	}
	return p
}

// TokenizeReport counts what tokenization did.
type TokenizeReport struct {
	Tokenized       int
	DroppedLong     int // rows dropped because the prompt left no room for a completion
	TruncatedPrompt int // rows whose prompt was shortened
	TruncatedCompl  int // rows with a shortened completion
	// Collapsed counts pairs whose chosen and rejected differed but are the same tokens
	// after truncation: they carry no preference signal (a DPO loss stays at log 2).
	Collapsed      int
	Pairs          int    // pairs kept (the denominator of Collapsed)
	FirstCollapsed string // file:row of the first collapsed pair
	Issues         []Issue
}

// ErrTemplate marks chat-template problems (render failure, no round trip).
var ErrTemplate = errors.New("chat template")

// Tokenizer turns examples into token ids.
type Tokenizer struct {
	Enc  Encoder
	Chat ChatRenderer // needed for conversational examples
	Opts TokenizeOptions
	// LF is the LLaMA-Factory template used under RulesLlamaFactory (set by
	// [Tokenizer.Prepare] from Opts.Template or the chat template).
	LF *LFTemplate
}

// TokenizeAll tokenizes every example. A row that cannot be tokenized (template
// error) is an Invalid issue; under PolicyStrict it stops with that error.
func (t *Tokenizer) TokenizeAll(exs []Example, policy Policy) ([]Tokenized, *TokenizeReport, error) {
	if err := t.checkOpts(); err != nil {
		return nil, nil, err
	}
	rep := &TokenizeReport{}
	out := make([]Tokenized, 0, len(exs))
	for i := range exs {
		tk, err := t.tokenizeInto(rep, &exs[i], policy)
		if err != nil {
			return out, rep, err
		}
		if tk != nil {
			out = append(out, *tk)
		}
	}
	return out, rep, nil
}

// checkOpts validates the options and resolves rules and template (Prepare).
func (t *Tokenizer) checkOpts() error {
	if t.Opts.TruncationMode != "" && t.Opts.TruncationMode != KeepEnd && t.Opts.TruncationMode != KeepStart {
		return fmt.Errorf("truncation_mode %q: expected keep_end or keep_start", t.Opts.TruncationMode)
	}
	return t.Prepare()
}

// TokenizeInto is one step of TokenizeAll, for callers that stream (data check): it
// tokenizes and truncates ex, counts it in rep, and returns the kept row, or nil for a
// row dropped or (PolicyDrop) invalid. Under PolicyStrict an invalid row is the error.
func (t *Tokenizer) TokenizeInto(rep *TokenizeReport, ex *Example, policy Policy) (*Tokenized, error) {
	if err := t.checkOpts(); err != nil {
		return nil, err
	}
	return t.tokenizeInto(rep, ex, policy)
}

// tokenizeInto is TokenizeInto once the options are checked.
func (t *Tokenizer) tokenizeInto(rep *TokenizeReport, ex *Example, policy Policy) (*Tokenized, error) {
	tk, err := t.Tokenize(ex)
	if err != nil {
		var re *RowError
		if !errors.As(err, &re) {
			re = &RowError{Source: ex.Source, Row: ex.Row, Err: err, Msg: err.Error()}
		}
		if policy == PolicyStrict {
			return nil, re
		}
		rep.Issues = append(rep.Issues, Issue{Severity: Invalid, RowError: re})
		return nil, nil
	}
	differed := tk.Kind == KindPair && len(tk.Completions) == 2 && !slices.Equal(tk.Completions[0], tk.Completions[1])
	dropped, tp, tc := t.truncate(&tk)
	if dropped == "" && differed && slices.Equal(tk.Completions[0], tk.Completions[1]) {
		rep.Collapsed++
		if rep.FirstCollapsed == "" {
			rep.FirstCollapsed = fmt.Sprintf("%s:%d", tk.Source, tk.Row)
		}
	}
	if tp {
		rep.TruncatedPrompt++
	}
	if tc {
		rep.TruncatedCompl++
	}
	if dropped != "" {
		rep.DroppedLong++
		rep.Issues = append(rep.Issues, Issue{Severity: Dropped, RowError: &RowError{Source: tk.Source, Row: tk.Row, Err: ErrDropped, Msg: dropped}})
		return nil, nil
	}
	rep.Tokenized++
	if tk.Kind == KindPair {
		rep.Pairs++
	}
	return &tk, nil
}

// Pairs tokenizes the pair examples (pairs and pre-tokenized pairs) and returns them.
func (t *Tokenizer) Pairs(exs []Example, policy Policy) ([]Pair, *TokenizeReport, error) {
	var pairs []Example
	for _, ex := range exs {
		if ex.Kind == KindPair || ex.Kind == KindPretokenized {
			pairs = append(pairs, ex)
		}
	}
	tks, rep, err := t.TokenizeAll(pairs, policy)
	out := make([]Pair, len(tks))
	for i := range tks {
		out[i] = tks[i].Pair()
	}
	return out, rep, err
}

// Tokenize turns one example into ids, before length limits, with the rules of
// Opts.Rules.
func (t *Tokenizer) Tokenize(ex *Example) (Tokenized, error) {
	if err := t.Prepare(); err != nil {
		return Tokenized{}, err
	}
	switch t.Opts.Rules {
	case RulesTRLLegacy:
		return t.tokenizeLegacy(ex)
	case RulesLlamaFactory:
		return t.tokenizeLF(ex)
	}
	return t.tokenizeTRL(ex)
}

// tokenizeLegacy is TRL's older DPOTrainer.tokenize_row: the prompt encoded without
// special tokens (BOS per Opts.BOS), each completion encoded on its own (conversational
// ones as the rendered text after the rendered prompt) with EOS appended.
func (t *Tokenizer) tokenizeLegacy(ex *Example) (Tokenized, error) {
	tk := Tokenized{Kind: ex.Kind, Label: ex.Label, Scores: ex.Scores, Source: ex.Source, Row: ex.Row}
	if ex.Kind == KindPretokenized {
		tk.Kind = KindPair
		tk.PromptIDs = toInt32(ex.PromptIDs)
		tk.Completions = [][]int32{toInt32(ex.ChosenIDs), toInt32(ex.RejectedIDs)}
		return tk, nil
	}
	var compls []Segment
	switch ex.Kind {
	case KindPair:
		compls = []Segment{ex.Chosen, ex.Rejected}
	case KindUnpaired:
		compls = []Segment{ex.Completion}
	case KindListwise:
		compls = ex.Responses
	}
	var promptText string
	var complTexts []string
	if ex.Conversational {
		if t.Chat == nil {
			return tk, &RowError{Source: ex.Source, Row: ex.Row, Err: ErrTemplate, Msg: "conversational row: " + chattemplate.ErrMissing.Error() + ": " + chattemplate.MissingHint}
		}
		var err error
		promptText, complTexts, err = t.render(ex, compls)
		if err != nil {
			return tk, err
		}
	} else {
		promptText = ex.Prompt.Text
		for _, c := range compls {
			complTexts = append(complTexts, c.Text)
		}
	}
	prompt := t.Enc.Encode(promptText, false)
	if !ex.Conversational {
		prompt = t.addBOS(prompt)
	}
	tk.PromptIDs = toInt32(prompt)
	eos, hasEOS := t.Enc.EOS()
	for _, c := range complTexts {
		ids := t.Enc.Encode(c, false)
		if !t.Opts.NoEOS && hasEOS && (len(ids) == 0 || ids[len(ids)-1] != eos) {
			ids = append(ids, eos)
		}
		tk.Completions = append(tk.Completions, toInt32(ids))
	}
	return tk, nil
}

func (t *Tokenizer) addBOS(prompt []int) []int {
	var prefix []int
	switch t.Opts.BOS {
	case BOSNever:
		return prompt
	case BOSAlways:
		if b, ok := t.Enc.BOS(); ok {
			prefix = []int{b}
		}
	default:
		if sa, ok := t.Enc.(specialAdder); ok {
			prefix, _ = sa.SpecialTokensAdded()
		}
	}
	if len(prefix) == 0 || hasPrefix(prompt, prefix) {
		return prompt
	}
	return append(append([]int{}, prefix...), prompt...)
}

func hasPrefix(s, p []int) bool {
	if len(s) < len(p) {
		return false
	}
	for i := range p {
		if s[i] != p[i] {
			return false
		}
	}
	return true
}

// render applies the chat template as TRL's maybe_apply_chat_template does: the prompt
// with add_generation_prompt, and each completion as render(prompt+completion) minus
// the rendered prompt, which must be a prefix of it.
func (t *Tokenizer) render(ex *Example, compls []Segment) (string, []string, error) {
	tools, err := rowTools(ex)
	if err != nil {
		return "", nil, err
	}
	prompt, err := t.Chat.Render(toMaps(ex.Prompt.Messages), true, tools)
	if err != nil {
		return "", nil, &RowError{Source: ex.Source, Row: ex.Row, Field: "prompt", Err: ErrTemplate, Msg: "chat template: " + err.Error()}
	}
	out := make([]string, len(compls))
	for i, c := range compls {
		msgs := append(append([]Message{}, ex.Prompt.Messages...), c.Messages...)
		full, err := t.Chat.Render(toMaps(msgs), false, tools)
		if err != nil {
			return "", nil, &RowError{Source: ex.Source, Row: ex.Row, Field: complField(ex.Kind, i), Err: ErrTemplate, Msg: "chat template: " + err.Error()}
		}
		if !strings.HasPrefix(full, prompt) {
			k := 0
			for k < len(full) && k < len(prompt) && full[k] == prompt[k] {
				k++
			}
			return "", nil, &RowError{Source: ex.Source, Row: ex.Row, Field: complField(ex.Kind, i), Err: ErrTemplate,
				Msg: fmt.Sprintf("template does not round-trip: the rendered prompt (with generation prompt) is not a prefix of prompt+completion; they differ at byte %d: %q vs %q",
					k, excerpt(prompt[k:], 30), excerpt(full[k:], 30))}
		}
		out[i] = full[len(prompt):]
	}
	return prompt, out, nil
}

func complField(k Kind, i int) string {
	switch k {
	case KindPair:
		return [2]string{"chosen", "rejected"}[i]
	case KindUnpaired:
		return "completion"
	}
	return fmt.Sprintf("responses[%d]", i)
}

func toMaps(ms []Message) []map[string]any {
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		d := map[string]any{"role": m.Role}
		if !m.NoContent {
			d["content"] = m.Content
		}
		if m.ToolCalls != "" {
			if v, err := decodeOrdered(m.ToolCalls); err == nil {
				d["tool_calls"] = v
			}
		}
		if m.Name != "" {
			d["name"] = m.Name
		}
		out[i] = d
	}
	return out
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// truncate applies the length limits with TRL's semantics: the prompt keeps its last
// MaxPromptLength tokens, each completion its first MaxCompletionLength; then each
// sequence prompt+completion is cut to MaxLength, keeping its end (keep_end: prompt
// tokens go first) or its start (keep_start: completion tokens go). TRL truncates
// chosen and rejected sequences separately; sharing one prompt, keep_end here cuts the
// prompt by what the longest completion needs. It returns a reason when the row must
// be dropped.
func (t *Tokenizer) truncate(tk *Tokenized) (drop string, promptCut, complCut bool) {
	o := t.Opts
	if o.MaxPromptLength > 0 && len(tk.PromptIDs) > o.MaxPromptLength {
		if o.DropLongPrompts {
			return fmt.Sprintf("prompt has %d tokens, more than max_prompt_length %d", len(tk.PromptIDs), o.MaxPromptLength), false, false
		}
		tk.PromptIDs = tk.PromptIDs[len(tk.PromptIDs)-o.MaxPromptLength:]
		promptCut = true
	}
	if o.MaxCompletionLength > 0 {
		for i, c := range tk.Completions {
			if len(c) > o.MaxCompletionLength {
				tk.Completions[i] = c[:o.MaxCompletionLength]
				complCut = true
			}
		}
	}
	if o.MaxLength > 0 && o.inferSeqlen() {
		longest := 0
		for _, c := range tk.Completions {
			longest = max(longest, len(c))
		}
		src, tgt := InferSeqlen(len(tk.PromptIDs), longest, o.MaxLength)
		if src < len(tk.PromptIDs) {
			tk.PromptIDs = tk.PromptIDs[:src]
			promptCut = true
		}
		for i, c := range tk.Completions {
			if len(c) > tgt {
				tk.Completions[i] = c[:tgt]
				complCut = true
			}
		}
	} else if o.MaxLength > 0 {
		longest := 0
		for _, c := range tk.Completions {
			longest = max(longest, len(c))
		}
		p := len(tk.PromptIDs)
		if p >= o.MaxLength && (o.DropLongPrompts || o.TruncationMode == KeepStart) {
			return fmt.Sprintf("prompt has %d tokens, leaving no room for a completion within max_length %d", p, o.MaxLength), promptCut, complCut
		}
		if p+longest > o.MaxLength {
			if o.TruncationMode == KeepStart {
				room := o.MaxLength - p
				for i, c := range tk.Completions {
					if len(c) > room {
						tk.Completions[i] = c[:room]
						complCut = true
					}
				}
			} else {
				keep := max(0, o.MaxLength-longest)
				if keep == 0 && p > 0 {
					// the first completion token must be predicted from a prompt token
					return fmt.Sprintf("the longest completion (%d tokens) leaves no prompt token within max_length %d", longest, o.MaxLength), promptCut, complCut
				}
				if keep < p {
					tk.PromptIDs = tk.PromptIDs[p-keep:]
					promptCut = true
				}
				for i, c := range tk.Completions {
					if len(c) > o.MaxLength {
						tk.Completions[i] = c[len(c)-o.MaxLength:]
						complCut = true
					}
				}
			}
		}
	}
	for i, c := range tk.Completions {
		if len(c) == 0 {
			return fmt.Sprintf("%s has no tokens left after truncation", complField(tk.Kind, i)), promptCut, complCut
		}
	}
	return "", promptCut, complCut
}
