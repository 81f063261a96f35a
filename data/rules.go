package data

import (
	"errors"
	"fmt"
	"github.com/preftune/preftune/hf/chattemplate"
	"strings"
)

// The two tokenization rule sets a drop-in replacement has to reproduce token for
// token:
//
//   - current TRL (trl/trainer/dpo_trainer.py, DPOTrainer._prepare_dataset and
//     DataCollatorForPreference): conversational rows are rendered with the chat
//     template and tokenized whole — prompt_ids = tokenize(render(prompt, generation
//     prompt)), completion ids = tokenize(render(prompt+completion))[len(prompt_ids):];
//     no EOS is added to them (the template's own turn end closes the completion).
//     Plain-string rows get the EOS token's text appended to each completion (unless it
//     already ends with it) and are tokenized with the tokenizer's special tokens, i.e.
//     with whatever its post-processor adds (BOS for Llama 2 and Mistral, nothing for
//     Qwen). Truncation is per sequence to max_length, keeping the start (rows whose
//     prompt alone fills max_length are dropped) or, deprecated, the end.
//   - LLaMA-Factory (src/llamafactory/data/processor/{pairwise,feedback}.py,
//     data/template.py): the template's slots encoded message by message
//     ([LFTemplate.EncodeOneTurn]), EOS only where the template puts it, and cutoff_len
//     split by infer_seqlen with both sides keeping their start.

// Prepare resolves Opts.Rules (and, for LLaMA-Factory, the template). It is called by
// Tokenize and TokenizeAll; calling it first reports a bad template name before any
// row is read.
func (t *Tokenizer) Prepare() error {
	switch t.Opts.Rules {
	case "", RulesTRL, RulesTRLLegacy:
		if t.Opts.Template != "" {
			return fmt.Errorf("template %q: a LLaMA-Factory template needs LLaMA-Factory's rules (a stage: config, or --rules llamafactory)", t.Opts.Template)
		}
		return nil
	case RulesLlamaFactory:
	default:
		return fmt.Errorf("tokenization rules %q: want %s, %s or %s", t.Opts.Rules, RulesTRL, RulesLlamaFactory, RulesTRLLegacy)
	}
	if t.LF != nil || t.Enc == nil {
		return nil
	}
	var lf *LFTemplate
	var err error
	switch {
	case t.Opts.Template != "":
		lf, err = LookupLFTemplate(t.Opts.Template)
	case t.Chat != nil:
		lf, err = parseLFTemplate(t.Enc, t.Chat)
	default: // LLaMA-Factory: "`template` was not specified, use `empty` template."
		lf, err = LookupLFTemplate("empty")
	}
	if err != nil {
		return err
	}
	if t.Opts.EnableThinking != nil {
		lf.EnableThinking = *t.Opts.EnableThinking
	}
	if t.Opts.DefaultSystem != nil {
		lf.DefaultSystem = *t.Opts.DefaultSystem
	}
	if _, err := lf.eosID(t.Enc); err != nil {
		return err
	}
	t.LF = lf
	return nil
}

// inferSeqlen reports whether MaxLength is applied as LLaMA-Factory's cutoff_len.
func (o *TokenizeOptions) inferSeqlen() bool {
	return o.InferSeqlen || o.Rules == RulesLlamaFactory
}

func completions(ex *Example) []Segment {
	switch ex.Kind {
	case KindPair:
		return []Segment{ex.Chosen, ex.Rejected}
	case KindUnpaired:
		return []Segment{ex.Completion}
	case KindListwise:
		return ex.Responses
	}
	return nil
}

func pretokenized(ex *Example) Tokenized {
	return Tokenized{Kind: KindPair, Label: ex.Label, Scores: ex.Scores, Source: ex.Source, Row: ex.Row,
		PromptIDs:   toInt32(ex.PromptIDs),
		Completions: [][]int32{toInt32(ex.ChosenIDs), toInt32(ex.RejectedIDs)}}
}

// tokenizeTRL follows current TRL (see the top of this file).
func (t *Tokenizer) tokenizeTRL(ex *Example) (Tokenized, error) {
	if ex.Kind == KindPretokenized {
		return pretokenized(ex), nil
	}
	tk := Tokenized{Kind: ex.Kind, Label: ex.Label, Scores: ex.Scores, Source: ex.Source, Row: ex.Row}
	compls := completions(ex)
	if ex.Conversational {
		if t.Chat == nil {
			return tk, &RowError{Source: ex.Source, Row: ex.Row, Err: ErrTemplate, Msg: "conversational row: " + chattemplate.ErrMissing.Error() + ": " + chattemplate.MissingHint}
		}
		tools, err := rowTools(ex)
		if err != nil {
			return tk, err
		}
		prompt, err := t.Chat.Render(toMaps(ex.Prompt.Messages), true, tools)
		if err != nil {
			return tk, &RowError{Source: ex.Source, Row: ex.Row, Field: "prompt", Err: ErrTemplate, Msg: "chat template: " + err.Error()}
		}
		pids := t.Enc.Encode(prompt, false)
		tk.PromptIDs = toInt32(pids)
		for i, c := range compls {
			msgs := append(append([]Message{}, ex.Prompt.Messages...), c.Messages...)
			full, err := t.Chat.Render(toMaps(msgs), false, tools)
			if err != nil {
				return tk, &RowError{Source: ex.Source, Row: ex.Row, Field: complField(ex.Kind, i), Err: ErrTemplate, Msg: "chat template: " + err.Error()}
			}
			if !strings.HasPrefix(full, prompt) {
				return tk, roundTripError(ex, i, prompt, full)
			}
			fids := t.Enc.Encode(full, false)
			tk.Completions = append(tk.Completions, toInt32(fids[min(len(pids), len(fids)):]))
		}
		return tk, nil
	}
	eosText, eosID, addEOSID := "", 0, false
	if id, ok := t.Enc.EOS(); ok && !t.Opts.NoEOS {
		if l, ok := t.Enc.(interface{ IDToken(int) (string, bool) }); ok {
			eosText, _ = l.IDToken(id)
		}
		// Without the token's text (an Encoder that cannot say it), the id is appended.
		eosID, addEOSID = id, eosText == ""
	}
	pids := t.encodePlain(ex.Prompt.Text)
	tk.PromptIDs = toInt32(pids)
	for _, c := range compls {
		text := c.Text
		if eosText != "" && !strings.HasSuffix(text, eosText) {
			text += eosText
		}
		fids := t.encodePlain(ex.Prompt.Text + text)
		cids := fids[min(len(pids), len(fids)):]
		if addEOSID && (len(cids) == 0 || cids[len(cids)-1] != eosID) {
			cids = append(cids, eosID)
		}
		tk.Completions = append(tk.Completions, toInt32(cids))
	}
	return tk, nil
}

// encodePlain encodes a plain-text row as TRL's processing_class(text=...) does: with
// the post-processor's special tokens (BOSAuto), without them (BOSNever), or with the
// BOS token put first (BOSAlways).
func (t *Tokenizer) encodePlain(text string) []int {
	switch t.Opts.BOS {
	case BOSNever:
		return t.Enc.Encode(text, false)
	case BOSAlways:
		return t.addBOS(t.Enc.Encode(text, false))
	}
	return t.Enc.Encode(text, true)
}

func roundTripError(ex *Example, i int, prompt, full string) error {
	k := 0
	for k < len(full) && k < len(prompt) && full[k] == prompt[k] {
		k++
	}
	return &RowError{Source: ex.Source, Row: ex.Row, Field: complField(ex.Kind, i), Err: ErrTemplate,
		Msg: fmt.Sprintf("template does not round-trip: the rendered prompt (with generation prompt) is not a prefix of prompt+completion; they differ at byte %d: %q vs %q",
			k, excerpt(prompt[k:], 30), excerpt(full[k:], 30))}
}

// rowTools parses the row's tools column (JSON) for the chat template.
func rowTools(ex *Example) ([]any, error) {
	if ex.Tools == "" {
		return nil, nil
	}
	v, err := decodeOrdered(ex.Tools)
	if err != nil {
		return nil, &RowError{Source: ex.Source, Row: ex.Row, Field: "tools", Err: ErrInvalidValue, Msg: "tools is not valid JSON: " + err.Error()}
	}
	if x, ok := v.([]any); ok {
		return x, nil
	}
	return []any{v}, nil
}

// lfRoles maps our message roles to LLaMA-Factory's.
var lfRoles = map[string]string{"user": "user", "assistant": "assistant", "tool": "observation",
	"observation": "observation", "function": "function", "function_call": "function"}

// tokenizeLF follows LLaMA-Factory's pairwise/feedback processors: per completion,
// encode_oneturn(prompt + [completion], system, tools).
func (t *Tokenizer) tokenizeLF(ex *Example) (Tokenized, error) {
	if ex.Kind == KindPretokenized {
		return pretokenized(ex), nil
	}
	tk := Tokenized{Kind: ex.Kind, Label: ex.Label, Scores: ex.Scores, Source: ex.Source, Row: ex.Row}
	rowErr := func(field string, err error) error {
		return &RowError{Source: ex.Source, Row: ex.Row, Field: field, Err: ErrTemplate, Msg: err.Error()}
	}
	var system string
	var prompt []lfMsgT
	if ex.Conversational {
		for i, m := range ex.Prompt.Messages {
			if m.Role == "system" {
				if i != 0 {
					return tk, rowErr("prompt", fmt.Errorf("system message at turn %d: LLaMA-Factory takes the system prompt only before the first turn", i+1))
				}
				system = m.Content
				continue
			}
			if m.ToolCalls != "" {
				return tk, rowErr("prompt", fmt.Errorf("turn %d: tool_calls messages (TRL's format) under LLaMA-Factory's rules: LLaMA-Factory writes tool calls as function_call turns", i+1))
			}
			r, ok := lfRoles[m.Role]
			if m.FunctionCall {
				r = "function"
			}
			if !ok {
				return tk, rowErr("prompt", fmt.Errorf("role %q at turn %d: LLaMA-Factory templates take user, assistant, observation and function messages", m.Role, i+1))
			}
			prompt = append(prompt, lfMsgT{r, m.Content})
		}
	} else {
		prompt = []lfMsgT{{"user", ex.Prompt.Text}}
	}
	for i, c := range completions(ex) {
		var resp []lfMsgT
		if ex.Conversational {
			for _, m := range c.Messages {
				r, ok := lfRoles[m.Role]
				if m.FunctionCall {
					r = "function"
				}
				if !ok {
					return tk, rowErr(complField(ex.Kind, i), fmt.Errorf("role %q: a response must be an assistant or function message", m.Role))
				}
				resp = append(resp, lfMsgT{r, m.Content})
			}
		} else {
			resp = []lfMsgT{{"assistant", c.Text}}
		}
		if len(resp) != 1 {
			return tk, rowErr(complField(ex.Kind, i), fmt.Errorf("%d response messages: LLaMA-Factory's preference processors take one", len(resp)))
		}
		p, r, err := t.LF.EncodeOneTurn(t.Enc, append(append([]lfMsgT{}, prompt...), resp...), system, ex.Tools)
		if err != nil {
			field := complField(ex.Kind, i)
			if errors.Is(err, errLFTools) {
				field = "tools"
			}
			return tk, rowErr(field, err)
		}
		if i == 0 {
			tk.PromptIDs = toInt32(p)
		}
		tk.Completions = append(tk.Completions, toInt32(r))
	}
	return tk, nil
}

// parseLFTemplate is LLaMA-Factory's parse_template: the template a `stage:` config
// without `template:` gets, read off the model's chat template by rendering
// placeholder conversations.
func parseLFTemplate(enc Encoder, chat ChatRenderer) (*LFTemplate, error) {
	prefix := ""
	if d, ok := enc.(interface{ Decode([]int, bool) string }); ok {
		prefix = d.Decode(enc.Encode("", true), false)
	}
	render := func(gen bool, ms ...string) (string, error) {
		var msgs []map[string]any
		for i := 0; i+1 < len(ms); i += 2 {
			msgs = append(msgs, map[string]any{"role": ms[i], "content": ms[i+1]})
		}
		out, err := chat.Render(msgs, gen, nil)
		if err != nil {
			return "", fmt.Errorf("parsing the chat template as LLaMA-Factory does (no template: key): %w", err)
		}
		if !strings.HasPrefix(out, prefix) {
			return "", fmt.Errorf("parsing the chat template as LLaMA-Factory does (no template: key): the rendering does not start with the tokenizer's prefix %q", prefix)
		}
		return out[len(prefix):], nil
	}
	const ph = "{{content}}"
	systemSlot, err := render(false, "system", ph)
	if err != nil {
		return nil, err
	}
	userEmptySystem, err := render(true, "system", "", "user", ph)
	if err != nil {
		return nil, err
	}
	userSlot, err := render(true, "user", ph)
	if err != nil {
		return nil, err
	}
	asst, err := render(false, "user", ph, "assistant", ph)
	if err != nil {
		return nil, err
	}
	if len(asst) < len(userSlot) {
		return nil, errors.New("parsing the chat template as LLaMA-Factory does (no template: key): user+assistant renders shorter than user alone")
	}
	asst = asst[len(userSlot):]
	reasoning := strings.Contains(asst, "<think>")
	asst = strings.TrimLeft(strings.ReplaceAll(strings.ReplaceAll(asst, "<think>", ""), "</think>", ""), "\n")
	defaultSystem := ""
	if len([]rune(userSlot)) > len([]rune(userEmptySystem)) {
		defaultSystem = findDiff(userEmptySystem, userSlot)
		sole := strings.Replace(systemSlot, ph, defaultSystem, 1)
		if len(sole) <= len(userSlot) {
			userSlot = userSlot[len(sole):]
		}
	}
	t := &LFTemplate{Name: "(parsed from the chat template)", user: []lfSlot{s(userSlot)}, assistant: []lfSlot{s(asst)},
		system: []lfSlot{s(systemSlot)}, function: []lfSlot{s(asst)}, observation: []lfSlot{s(userSlot)},
		DefaultSystem: defaultSystem, Reasoning: reasoning, parsed: true}
	if prefix != "" {
		t.prefix = []lfSlot{s(prefix)}
	}
	t.fillDefaults()
	return t, nil
}

// findDiff is parse_template's find_diff: the characters of long that a greedy
// walk does not match against short.
func findDiff(short, long string) string {
	a, b := []rune(short), []rune(long)
	var diff []rune
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] == b[j] {
			i++
			j++
		} else {
			diff = append(diff, b[j])
			j++
		}
	}
	return string(diff)
}
