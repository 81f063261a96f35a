package data

import (
	"fmt"
	"strings"
)

// This file converts TRL's dataset formats (https://huggingface.co/docs/trl/dataset_formats).

// issues collects the problems found in one row.
type issues []Issue

func (is *issues) add(sev Severity, e *RowError) {
	*is = append(*is, Issue{Severity: sev, RowError: e})
}

func (is issues) invalid() bool {
	for _, i := range is {
		if i.Severity != Warning {
			return true
		}
	}
	return false
}

// trlRoles are the roles accepted in TRL conversational data.
var trlRoles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// messages parses a TRL conversation: a list of {role, content} objects ({from, value}
// is accepted too, as trl.maybe_convert_to_chatml does). Content may be a string or a
// list of {type: text, text} blocks.
func (r *row) messages(name string, v any) ([]Message, *RowError) {
	field := r.col(name)
	l, ok := v.([]any)
	if !ok {
		return nil, fieldErr(ErrWrongType, field, "expected a list of messages, got %s", describe(v))
	}
	out := make([]Message, 0, len(l))
	for i, e := range l {
		at := fmt.Sprintf("%s[%d]", field, i)
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fieldErr(ErrWrongType, at, "expected a message object {role, content}, got %s", describe(e))
		}
		roleKey, contentKey := "role", "content"
		if _, has := m["role"]; !has {
			if _, has := m["from"]; has {
				roleKey, contentKey = "from", "value"
			}
		}
		rv, ok := m[roleKey]
		if !ok || rv == nil {
			return nil, fieldErr(ErrMissingField, at+"."+roleKey, "message has no role (keys: %s)", strings.Join(sortedKeys(m), ", "))
		}
		role, ok := rv.(string)
		if !ok {
			return nil, fieldErr(ErrWrongType, at+"."+roleKey, "expected a string, got %s", describe(rv))
		}
		if !trlRoles[role] {
			return nil, fieldErr(ErrBadRole, at+"."+roleKey, "bad role %q (expected system, user, assistant or tool)", role)
		}
		msg := Message{Role: role}
		if tc, has := m["tool_calls"]; has && tc != nil {
			text, rerr := toolCallsText(at+".tool_calls", tc)
			if rerr != nil {
				return nil, rerr
			}
			msg.ToolCalls = text
		}
		if n, ok := m["name"].(string); ok {
			msg.Name = n
		}
		if v, present := m[contentKey]; (!present || v == nil) && msg.ToolCalls != "" {
			msg.NoContent = true // {"role": "assistant", "tool_calls": [...]}: no content
		} else {
			content, rerr := messageContent(at+"."+contentKey, contentKey, m)
			if rerr != nil {
				return nil, rerr
			}
			msg.Content = content
		}
		out = append(out, msg)
	}
	return out, nil
}

// messageContent reads a message's content: a string or a list of text blocks.
func messageContent(field, key string, m map[string]any) (string, *RowError) {
	v, present := m[key]
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		if !present {
			return "", fieldErr(ErrMissingField, field, "message has no content (keys: %s)", strings.Join(sortedKeys(m), ", "))
		}
		return "", fieldErr(ErrWrongType, field, "content is null")
	case []any:
		var b strings.Builder
		for i, blk := range x {
			bm, ok := blk.(map[string]any)
			if !ok {
				return "", fieldErr(ErrWrongType, fmt.Sprintf("%s[%d]", field, i), "expected a content block {type, text}, got %s", describe(blk))
			}
			if t, _ := bm["type"].(string); t != "text" {
				return "", fieldErr(ErrInvalidValue, fmt.Sprintf("%s[%d].type", field, i), "content block of type %q: only text is supported", t)
			}
			s, ok := bm["text"].(string)
			if !ok {
				return "", fieldErr(ErrWrongType, fmt.Sprintf("%s[%d].text", field, i), "expected a string, got %s", describe(bm["text"]))
			}
			b.WriteString(s)
		}
		return b.String(), nil
	}
	return "", fieldErr(ErrWrongType, field, "expected a string, got %s", describe(v))
}

// checkConversation validates the roles of prompt+completion: a system message only
// first, tool messages only after an assistant (or another tool) message, user and
// assistant alternating otherwise, and the completion starting with an assistant turn.
// Names are the fields for error messages; the completion may be empty.
func checkConversation(promptField string, prompt []Message, complField string, compl []Message) *RowError {
	last := "" // last of user/assistant/tool seen
	check := func(field string, i int, m Message, first bool) *RowError {
		at := fmt.Sprintf("%s[%d].role", field, i)
		switch m.Role {
		case "system":
			if !first {
				return fieldErr(ErrRoleOrder, at, "system message must come first")
			}
		case "user":
			if last == "user" {
				return fieldErr(ErrRoleOrder, at, "roles do not alternate: user follows user")
			}
		case "assistant":
			if last == "assistant" {
				return fieldErr(ErrRoleOrder, at, "roles do not alternate: assistant follows assistant")
			}
		case "tool":
			if last != "assistant" && last != "tool" {
				return fieldErr(ErrRoleOrder, at, "tool message must follow an assistant message")
			}
		}
		if m.Role != "system" {
			last = m.Role
		}
		return nil
	}
	for i, m := range prompt {
		if err := check(promptField, i, m, i == 0); err != nil {
			return err
		}
	}
	if len(compl) > 0 && compl[0].Role != "assistant" {
		return fieldErr(ErrRoleOrder, complField+"[0].role", "completion must start with an assistant message, got %q", compl[0].Role)
	}
	for i, m := range compl {
		if err := check(complField, i, m, false); err != nil {
			return err
		}
	}
	return nil
}

// segment reads a field that is either a string or a conversation.
func (r *row) segment(name string) (Segment, bool, *RowError) {
	v, err := r.required(name)
	if err != nil {
		return Segment{}, false, err
	}
	switch x := v.(type) {
	case string:
		return Segment{Text: x}, false, nil
	case []any:
		msgs, err := r.messages(name, x)
		if err != nil {
			return Segment{}, true, err
		}
		return Segment{Messages: msgs}, true, nil
	}
	return Segment{}, false, fieldErr(ErrWrongType, r.col(name), "expected a string or a list of messages, got %s", describe(v))
}

// convertPair converts a TRL preference row: explicit prompt (standard or
// conversational) or implicit prompt.
func convertPair(r *row, ex *Example, is *issues) {
	tools, terr := toolsText(r)
	if terr != nil {
		is.add(Invalid, terr)
		return
	}
	ex.Tools = tools
	ex.Kind = KindPair
	chosen, chosenConv, err := r.segment("chosen")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	rejected, rejConv, err := r.segment("rejected")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	if chosenConv != rejConv {
		is.add(Invalid, fieldErr(ErrWrongType, r.col("rejected"), "chosen and rejected must both be strings or both be message lists"))
		return
	}
	ex.Conversational = chosenConv
	// As trl.maybe_extract_prompt: an explicit prompt is used when it has the same
	// type as the completions; otherwise the prompt is implicit in chosen/rejected.
	explicit := false
	if r.has("prompt") {
		_, promptIsString := r.fields["prompt"].(string)
		promptConv := isMessageList(r.fields["prompt"])
		explicit = (chosenConv && promptConv) || (!chosenConv && promptIsString)
		if !explicit && !promptConv && !promptIsString {
			// Neither a string nor a conversation: report the type rather than ignore it.
			if _, _, err := r.segment("prompt"); err != nil {
				is.add(Invalid, err)
				return
			}
		}
	}
	if explicit {
		prompt, _, err := r.segment("prompt")
		if err != nil {
			is.add(Invalid, err)
			return
		}
		ex.Prompt, ex.Chosen, ex.Rejected = prompt, chosen, rejected
		ex.Format = FormatTRL
		if chosenConv {
			ex.Format = FormatTRLConversational
		}
	} else if chosenConv {
		ex.Format = FormatTRLImplicit
		ex.Prompt, ex.Chosen, ex.Rejected = extractPromptMessages(chosen.Messages, rejected.Messages)
	} else {
		ex.Format = FormatTRLImplicit
		if isHHTranscript(chosen.Text) && isHHTranscript(rejected.Text) {
			ex.Format = FormatHHRLHF
		}
		ex.Prompt, ex.Chosen, ex.Rejected = extractPromptText(chosen.Text, rejected.Text, ex.Format == FormatHHRLHF)
	}
	finishPair(r, ex, is)
}

// finishPair runs the checks shared by every pair format.
func finishPair(r *row, ex *Example, is *issues) {
	if ex.Conversational {
		if err := checkConversation(r.col("prompt"), ex.Prompt.Messages, r.col("chosen"), ex.Chosen.Messages); err != nil {
			is.add(Invalid, err)
			return
		}
		if err := checkConversation(r.col("prompt"), ex.Prompt.Messages, r.col("rejected"), ex.Rejected.Messages); err != nil {
			is.add(Invalid, err)
			return
		}
	}
	if ex.Chosen.IsEmpty() {
		is.add(Invalid, fieldErr(ErrEmpty, r.col("chosen"), "empty completion"))
		return
	}
	if ex.Rejected.IsEmpty() {
		is.add(Invalid, fieldErr(ErrEmpty, r.col("rejected"), "empty completion"))
		return
	}
	if ex.Chosen.Equal(ex.Rejected) {
		is.add(Warning, fieldErr(ErrIdentical, r.col("rejected"), "chosen and rejected are identical (the pair carries no preference)"))
	}
	if ex.Prompt.IsEmpty() {
		is.add(Warning, fieldErr(ErrEmpty, r.col("prompt"), "empty prompt"))
	}
}

// hhAssistant is the turn marker of Anthropic's hh-rlhf transcripts.
const hhAssistant = "\n\nAssistant:"

func isHHTranscript(s string) bool { return strings.HasPrefix(s, "\n\nHuman:") }

// extractPromptText splits two strings into their shared prompt and the two
// completions, as trl.data_utils.extract_prompt does: the prompt is the longest common
// prefix, and a space just before the first difference goes to the completions. When
// one string is a prefix of the other (or they are equal) the prompt is that whole
// common prefix (TRL's loop leaves it one character short; we do not copy that).
//
// With hh set (hh-rlhf transcripts), the prompt is cut back to the end of the last
// "\n\nAssistant:" inside the common prefix, so each completion is the whole final
// assistant turn (" I'm sorry…") rather than what follows a shared first word.
func extractPromptText(chosen, rejected string, hh bool) (Segment, Segment, Segment) {
	n := min(len(chosen), len(rejected))
	idx := n
	for i := 0; i < n; i++ {
		if chosen[i] != rejected[i] {
			idx = i
			if i > 0 && chosen[i-1] == ' ' {
				idx = i - 1
			}
			break
		}
	}
	// Never cut inside a UTF-8 sequence.
	for idx > 0 && idx < len(chosen) && chosen[idx]&0xC0 == 0x80 {
		idx--
	}
	if hh {
		if k := strings.LastIndex(chosen[:idx], hhAssistant); k >= 0 {
			idx = k + len(hhAssistant)
		}
	}
	return Segment{Text: chosen[:idx]}, Segment{Text: chosen[idx:]}, Segment{Text: rejected[idx:]}
}

// extractPromptMessages is extract_prompt for conversations: the prompt is the longest
// common prefix of messages. We cut it back so the completions start with an assistant
// message (TRL does not, which leaves completions that a chat template cannot render
// after a generation prompt).
func extractPromptMessages(chosen, rejected []Message) (Segment, Segment, Segment) {
	n := min(len(chosen), len(rejected))
	idx := n
	for i := 0; i < n; i++ {
		if chosen[i] != rejected[i] {
			idx = i
			break
		}
	}
	for idx > 0 && idx < len(chosen) && chosen[idx].Role != "assistant" {
		idx--
	}
	return Segment{Messages: chosen[:idx]}, Segment{Messages: chosen[idx:]}, Segment{Messages: rejected[idx:]}
}

// convertUnpaired converts a TRL unpaired-preference (KTO) row {prompt, completion, label}.
func convertUnpaired(r *row, ex *Example, is *issues) {
	tools, terr := toolsText(r)
	if terr != nil {
		is.add(Invalid, terr)
		return
	}
	ex.Tools = tools
	ex.Kind, ex.Format = KindUnpaired, FormatTRLUnpaired
	prompt, pConv, err := r.segment("prompt")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	compl, cConv, err := r.segment("completion")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	if pConv != cConv {
		is.add(Invalid, fieldErr(ErrWrongType, r.col("completion"), "prompt and completion must both be strings or both be message lists"))
		return
	}
	lv, err := r.required("label")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	label, ok := lv.(bool)
	if !ok {
		is.add(Invalid, fieldErr(ErrWrongType, r.col("label"), "expected a boolean (true: desirable), got %s", describe(lv)))
		return
	}
	ex.Conversational, ex.Prompt, ex.Completion, ex.Label = pConv, prompt, compl, label
	if pConv {
		if err := checkConversation(r.col("prompt"), prompt.Messages, r.col("completion"), compl.Messages); err != nil {
			is.add(Invalid, err)
			return
		}
	}
	if compl.IsEmpty() {
		is.add(Invalid, fieldErr(ErrEmpty, r.col("completion"), "empty completion"))
	}
}

// convertListwise converts {prompt, responses, scores | ranking}. scores: higher is
// better. ranking: the rank of each response, 1 = best (stored as score = -rank).
func convertListwise(r *row, ex *Example, is *issues) {
	tools, terr := toolsText(r)
	if terr != nil {
		is.add(Invalid, terr)
		return
	}
	ex.Tools = tools
	ex.Kind, ex.Format = KindListwise, FormatListwise
	prompt, pConv, err := r.segment("prompt")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	rv, err := r.required("responses")
	if err != nil {
		is.add(Invalid, err)
		return
	}
	rl, ok := rv.([]any)
	if !ok {
		is.add(Invalid, fieldErr(ErrWrongType, r.col("responses"), "expected a list of responses, got %s", describe(rv)))
		return
	}
	if len(rl) < 2 {
		is.add(Invalid, fieldErr(ErrInvalidValue, r.col("responses"), "need at least 2 responses, got %d", len(rl)))
		return
	}
	ex.Conversational, ex.Prompt = pConv, prompt
	for i, e := range rl {
		at := fmt.Sprintf("%s[%d]", r.col("responses"), i)
		var seg Segment
		switch x := e.(type) {
		case string:
			if pConv {
				is.add(Invalid, fieldErr(ErrWrongType, at, "expected a list of messages (the prompt is a conversation), got a string"))
				return
			}
			seg.Text = x
		case []any:
			if !pConv {
				is.add(Invalid, fieldErr(ErrWrongType, at, "expected a string (the prompt is a string), got a list"))
				return
			}
			msgs, err := (&row{source: map[string]string{"r": at}}).messages("r", x)
			if err != nil {
				is.add(Invalid, err)
				return
			}
			if err := checkConversation(r.col("prompt"), prompt.Messages, at, msgs); err != nil {
				is.add(Invalid, err)
				return
			}
			seg.Messages = msgs
		default:
			is.add(Invalid, fieldErr(ErrWrongType, at, "expected a string or a list of messages, got %s", describe(e)))
			return
		}
		if seg.IsEmpty() {
			is.add(Invalid, fieldErr(ErrEmpty, at, "empty completion"))
			return
		}
		ex.Responses = append(ex.Responses, seg)
	}
	name, sign := "scores", 1.0
	if !r.has("scores") {
		name, sign = "ranking", -1.0
	}
	sv, err := r.required(name)
	if err != nil {
		is.add(Invalid, fieldErr(ErrMissingField, r.col("scores"), "missing field: listwise rows need scores or ranking"))
		return
	}
	sl, ok := sv.([]any)
	if !ok {
		is.add(Invalid, fieldErr(ErrWrongType, r.col(name), "expected a list of numbers, got %s", describe(sv)))
		return
	}
	if len(sl) != len(rl) {
		is.add(Invalid, fieldErr(ErrInvalidValue, r.col(name), "has %d entries but responses has %d", len(sl), len(rl)))
		return
	}
	for i, e := range sl {
		f, ok := asFloat(e)
		if !ok {
			is.add(Invalid, fieldErr(ErrWrongType, fmt.Sprintf("%s[%d]", r.col(name), i), "expected a number, got %s", describe(e)))
			return
		}
		if name == "ranking" && f < 1 {
			is.add(Invalid, fieldErr(ErrInvalidValue, fmt.Sprintf("%s[%d]", r.col(name), i), "rank %v: ranks start at 1 (best)", f))
			return
		}
		ex.Scores = append(ex.Scores, sign*f)
	}
}

// convertPretokenized converts {prompt_input_ids, chosen_input_ids, rejected_input_ids}.
func convertPretokenized(r *row, ex *Example, is *issues) {
	ex.Kind, ex.Format = KindPretokenized, FormatTRLPretokenized
	for _, f := range []struct {
		name string
		dst  *[]int
	}{{"prompt_input_ids", &ex.PromptIDs}, {"chosen_input_ids", &ex.ChosenIDs}, {"rejected_input_ids", &ex.RejectedIDs}} {
		v, err := r.required(f.name)
		if err != nil {
			is.add(Invalid, err)
			return
		}
		l, ok := v.([]any)
		if !ok {
			is.add(Invalid, fieldErr(ErrWrongType, r.col(f.name), "expected a list of token ids, got %s", describe(v)))
			return
		}
		ids := make([]int, len(l))
		for i, e := range l {
			id, ok := asInt(e)
			if !ok || id < 0 || id > 1<<31-1 {
				is.add(Invalid, fieldErr(ErrInvalidValue, fmt.Sprintf("%s[%d]", r.col(f.name), i), "expected a token id (an integer ≥ 0), got %s", describe(e)))
				return
			}
			ids[i] = int(id)
		}
		*f.dst = ids
	}
	if len(ex.ChosenIDs) == 0 {
		is.add(Invalid, fieldErr(ErrEmpty, r.col("chosen_input_ids"), "empty completion"))
		return
	}
	if len(ex.RejectedIDs) == 0 {
		is.add(Invalid, fieldErr(ErrEmpty, r.col("rejected_input_ids"), "empty completion"))
		return
	}
	if equalInts(ex.ChosenIDs, ex.RejectedIDs) {
		is.add(Warning, fieldErr(ErrIdentical, r.col("rejected_input_ids"), "chosen and rejected are identical (the pair carries no preference)"))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
