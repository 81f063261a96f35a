package data

import (
	"strings"
)

// Kind says what an [Example] holds.
type Kind int

const (
	// KindPair is a preference pair: a prompt, a chosen and a rejected completion.
	KindPair Kind = iota
	// KindUnpaired is one completion with a desirable/undesirable label (KTO).
	KindUnpaired
	// KindListwise is a prompt with several scored completions (LiPO).
	KindListwise
	// KindPretokenized is a pair given directly as token ids.
	KindPretokenized
)

func (k Kind) String() string {
	switch k {
	case KindPair:
		return "pair"
	case KindUnpaired:
		return "unpaired"
	case KindListwise:
		return "listwise"
	case KindPretokenized:
		return "pretokenized"
	}
	return "unknown"
}

// Format names a dataset layout. Detection picks one per file.
type Format string

// The formats this package reads.
const (
	FormatAuto              Format = ""
	FormatTRL               Format = "trl"                   // {prompt, chosen, rejected} strings
	FormatTRLConversational Format = "trl-conversational"    // same keys, lists of messages
	FormatTRLImplicit       Format = "trl-implicit-prompt"   // {chosen, rejected}: prompt is the common prefix
	FormatHHRLHF            Format = "hh-rlhf"               // implicit prompt, Human/Assistant transcripts
	FormatTRLPretokenized   Format = "trl-pretokenized"      // {prompt,chosen,rejected}_input_ids
	FormatTRLUnpaired       Format = "trl-unpaired"          // {prompt, completion, label} (KTO)
	FormatListwise          Format = "listwise"              // {prompt, responses, scores|ranking}
	FormatAlpaca            Format = "llamafactory-alpaca"   // instruction/input/chosen/rejected
	FormatShareGPT          Format = "llamafactory-sharegpt" // conversations + chosen/rejected objects
)

// Formats lists the formats accepted by [Options.Format] and the CLI's --format.
func Formats() []Format {
	return []Format{FormatTRL, FormatTRLConversational, FormatTRLImplicit, FormatHHRLHF,
		FormatTRLPretokenized, FormatTRLUnpaired, FormatListwise, FormatAlpaca, FormatShareGPT}
}

// Message is one chat turn. Roles are normalised to system, user, assistant and tool.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ToolCalls is an assistant message's tool_calls list as JSON text (key order as
	// in the file), empty when it has none.
	ToolCalls string `json:"tool_calls,omitempty"`
	// Name is a tool message's name (the tool that answered), if given.
	Name string `json:"name,omitempty"`
	// NoContent: the message has no content key (an assistant message with only
	// tool_calls); the chat template then sees no content, as transformers passes it.
	NoContent bool `json:"-"`
	// FunctionCall marks a LLaMA-Factory function_call turn (an assistant message whose
	// content is the call's JSON), formatted by the template's tool format.
	FunctionCall bool `json:"-"`
}

// Segment is a prompt or a completion: plain text, or a list of messages for
// conversational data ([Example.Conversational] says which one is meaningful).
type Segment struct {
	Text     string
	Messages []Message
}

// IsEmpty reports whether the segment has no text and no message with content.
func (s Segment) IsEmpty() bool {
	if strings.TrimSpace(s.Text) != "" {
		return false
	}
	for _, m := range s.Messages {
		if strings.TrimSpace(m.Content) != "" || m.ToolCalls != "" {
			return false
		}
	}
	return true
}

// Equal reports whether two segments hold the same text and messages.
func (s Segment) Equal(o Segment) bool {
	if s.Text != o.Text || len(s.Messages) != len(o.Messages) {
		return false
	}
	for i := range s.Messages {
		if s.Messages[i] != o.Messages[i] {
			return false
		}
	}
	return true
}

// key is a collision-free string form of the segment, for duplicate detection.
func (s Segment) key() string {
	var b strings.Builder
	b.WriteString(s.Text)
	for _, m := range s.Messages {
		b.WriteByte(0)
		b.WriteString(m.Role)
		b.WriteByte(1)
		b.WriteString(m.Content)
		b.WriteByte(2)
		b.WriteString(m.ToolCalls)
	}
	return b.String()
}

// Example is one row of any supported format, in canonical form.
type Example struct {
	Source string // file the row came from
	Row    int    // 1-based row number in Source
	Format Format // format the row was read as
	Kind   Kind

	// Conversational is true when the segments hold messages (rendered through a chat
	// template) rather than plain text. LLaMA-Factory rows are always conversational.
	Conversational bool

	// Prompt is shared by every kind. For conversational data it may start with a
	// system message.
	Prompt Segment
	// Chosen and Rejected are set for KindPair.
	Chosen, Rejected Segment
	// Completion and Label are set for KindUnpaired (Label true: desirable).
	Completion Segment
	Label      bool
	// Responses and Scores are set for KindListwise; a higher score is better.
	Responses []Segment
	Scores    []float64
	// PromptIDs, ChosenIDs and RejectedIDs are set for KindPretokenized.
	PromptIDs, ChosenIDs, RejectedIDs []int

	// Tools is the tool description of the row (LLaMA-Factory's or TRL's tools column), as JSON text.
	Tools string
	// SFT marks a LLaMA-Factory supervised row (no ranking, no kto_tag), read as an
	// unpaired desirable example for stage: sft; the preference stages skip it.
	SFT bool
}

// Where returns "file:row".
func (e *Example) Where() string { return where(e.Source, e.Row) }
