package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fx = "testdata/fixtures"

func txt(s string) Segment { return Segment{Text: s} }

// conv builds a conversation from role, content pairs.
// functionCallAt marks message i as a LLaMA-Factory function_call turn.
func functionCallAt(s Segment, i int) Segment {
	s.Messages[i].FunctionCall = true
	return s
}

func conv(rc ...string) Segment {
	var s Segment
	for i := 0; i+1 < len(rc); i += 2 {
		s.Messages = append(s.Messages, Message{Role: rc[i], Content: rc[i+1]})
	}
	return s
}

// want is the part of an Example a test pins.
type want struct {
	Row                          int
	Format                       Format
	Kind                         Kind
	Conv                         bool
	Prompt, Chosen, Rejected     Segment
	Completion                   Segment
	Label                        bool
	Responses                    []Segment
	Scores                       []float64
	PromptIDs, ChosenIDs, RejIDs []int
	Tools                        string
}

func gotOf(ex *Example) want {
	return want{Row: ex.Row, Format: ex.Format, Kind: ex.Kind, Conv: ex.Conversational,
		Prompt: ex.Prompt, Chosen: ex.Chosen, Rejected: ex.Rejected, Completion: ex.Completion, Label: ex.Label,
		Responses: ex.Responses, Scores: ex.Scores, PromptIDs: ex.PromptIDs, ChosenIDs: ex.ChosenIDs, RejIDs: ex.RejectedIDs, Tools: ex.Tools}
}

func TestFormats(t *testing.T) {
	lfdir := filepath.Join(fx, "lfdir")
	tests := []struct {
		name    string
		spec    string
		opts    Options
		want    []want
		dropped []string // expected Dropped issues, in order
	}{
		{"trl standard", fx + "/trl_standard.jsonl", Options{}, []want{
			{Row: 1, Format: FormatTRL, Prompt: txt("The sky is"), Chosen: txt(" blue."), Rejected: txt(" green.")},
			{Row: 2, Format: FormatTRL, Prompt: txt("The sun is"), Chosen: txt(" in the sky."), Rejected: txt(" in the sea.")},
			{Row: 3, Format: FormatTRL, Prompt: txt("Água é"), Chosen: txt(" molhada."), Rejected: txt(" seca.")},
		}, nil},
		{"trl conversational", fx + "/trl_conversational.jsonl", Options{}, []want{
			{Row: 1, Format: FormatTRLConversational, Conv: true, Prompt: conv("user", "What color is the sky?"),
				Chosen: conv("assistant", "It is blue."), Rejected: conv("assistant", "It is green.")},
			{Row: 2, Format: FormatTRLConversational, Conv: true,
				Prompt: conv("system", "Be brief.", "user", "Hi", "assistant", "Hello.", "user", "Where is the sun?"),
				Chosen: conv("assistant", "In the sky."), Rejected: conv("assistant", "In the sea.")},
		}, nil},
		{"trl implicit prompt", fx + "/trl_implicit.jsonl", Options{}, []want{
			// the space before the first difference goes to the completions
			{Row: 1, Format: FormatTRLImplicit, Prompt: txt("The sky is"), Chosen: txt(" blue."), Rejected: txt(" green.")},
			{Row: 2, Format: FormatTRLImplicit, Conv: true, Prompt: conv("user", "What color is the sky?"),
				Chosen: conv("assistant", "It is blue."), Rejected: conv("assistant", "It is green.")},
			// differing at an assistant turn: completions are the rest of the conversation
			{Row: 3, Format: FormatTRLImplicit, Conv: true, Prompt: conv("user", "Q"),
				Chosen: conv("assistant", "A1", "user", "Q2", "assistant", "good"), Rejected: conv("assistant", "A2", "user", "Q2", "assistant", "bad")},
			// a string prompt beside conversational completions is ignored (trl.maybe_extract_prompt)
			{Row: 4, Format: FormatTRLImplicit, Conv: true, Prompt: conv("user", "What color is the sky?"),
				Chosen: conv("assistant", "It is blue."), Rejected: conv("assistant", "It is green.")},
		}, nil},
		{"hh-rlhf transcript", fx + "/hh.jsonl", Options{}, []want{
			// TRL's character prefix would end at "Assistant: I"; the hh rule cuts at the turn.
			{Row: 1, Format: FormatHHRLHF, Prompt: txt("\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant:"),
				Chosen: txt(" I know a good one about cats."), Rejected: txt(" I refuse.")},
		}, nil},
		{"pretokenized", fx + "/pretokenized.jsonl", Options{}, []want{
			{Row: 1, Format: FormatTRLPretokenized, Kind: KindPretokenized, PromptIDs: []int{1, 2, 3}, ChosenIDs: []int{4, 5}, RejIDs: []int{6}},
			{Row: 2, Format: FormatTRLPretokenized, Kind: KindPretokenized, PromptIDs: []int{}, ChosenIDs: []int{7}, RejIDs: []int{8, 9, 10}},
		}, nil},
		{"unpaired kto", fx + "/unpaired.jsonl", Options{}, []want{
			{Row: 1, Format: FormatTRLUnpaired, Kind: KindUnpaired, Prompt: txt("The sky is"), Completion: txt(" blue."), Label: true},
			{Row: 2, Format: FormatTRLUnpaired, Kind: KindUnpaired, Conv: true, Prompt: conv("user", "What color is the sky?"),
				Completion: conv("assistant", "It is green.")},
		}, nil},
		{"listwise", fx + "/listwise.jsonl", Options{}, []want{
			{Row: 1, Format: FormatListwise, Kind: KindListwise, Prompt: txt("The sky is"),
				Responses: []Segment{txt(" blue."), txt(" green."), txt(" red.")}, Scores: []float64{0.9, 0.2, -1}},
			{Row: 2, Format: FormatListwise, Kind: KindListwise, Prompt: txt("The sun is"),
				Responses: []Segment{txt(" hot."), txt(" cold.")}, Scores: []float64{-1, -2}},
		}, nil},
		{"column mapping", fx + "/columns.jsonl", Options{Columns: map[string]string{"prompt": "question", "chosen": "response_j", "rejected": "response_k"}}, []want{
			{Row: 1, Format: FormatTRL, Prompt: txt("Best editor?"), Chosen: txt("The one you know."), Rejected: txt("Notepad.")},
		}, nil},
		{"alpaca ranking (detected)", fx + "/alpaca_ranking.json", Options{}, []want{
			{Row: 1, Format: FormatAlpaca, Conv: true,
				Prompt: conv("system", "You translate.", "user", "Hi", "assistant", "Hello!", "user", "Translate to French\ncat"),
				Chosen: conv("assistant", "chat"), Rejected: conv("assistant", "chien")},
			{Row: 2, Format: FormatAlpaca, Conv: true, Prompt: conv("user", "Say hi"), Chosen: conv("assistant", "Hi!"), Rejected: conv("assistant", "Bye.")},
		}, nil},
		{"alpaca kto (detected)", fx + "/alpaca_kto.json", Options{}, []want{
			{Row: 1, Format: FormatAlpaca, Kind: KindUnpaired, Conv: true, Prompt: conv("user", "2+2?"), Completion: conv("assistant", "4"), Label: true},
			{Row: 2, Format: FormatAlpaca, Kind: KindUnpaired, Conv: true, Prompt: conv("user", "2+2?"), Completion: conv("assistant", "5")},
		}, nil},
		{"sharegpt ranking (detected)", fx + "/sharegpt_ranking.json", Options{}, []want{
			{Row: 1, Format: FormatShareGPT, Conv: true, Prompt: conv("system", "Be kind.", "user", "Hi", "assistant", "Hello", "user", "How are you?"),
				Chosen: conv("assistant", "Fine, thanks."), Rejected: conv("assistant", "Go away.")},
			{Row: 2, Format: FormatShareGPT, Conv: true, Prompt: conv("user", "Name a colour"), Chosen: conv("assistant", "Blue"), Rejected: conv("assistant", "Seven")},
		}, nil},
		{"sharegpt kto, openai tags (detected)", fx + "/sharegpt_kto.json", Options{}, []want{
			{Row: 1, Format: FormatShareGPT, Kind: KindUnpaired, Conv: true, Prompt: conv("user", "Hi"), Completion: conv("assistant", "Hello"), Label: true},
			{Row: 2, Format: FormatShareGPT, Kind: KindUnpaired, Conv: true, Prompt: conv("user", "Q1", "assistant", "A1", "user", "Q2"), Completion: conv("assistant", "rude")},
		}, nil},
		{"registry: alpaca with custom columns", "custom_alpaca", Options{DatasetDir: lfdir}, []want{
			{Row: 1, Format: FormatAlpaca, Conv: true, Prompt: conv("system", "Be terse.", "user", "Summarise\nA long text."),
				Chosen: conv("assistant", "Short."), Rejected: conv("assistant", "A long text.")},
			{Row: 2, Format: FormatAlpaca, Conv: true, Prompt: conv("user", "Only question"), Chosen: conv("assistant", "yes"), Rejected: conv("assistant", "no")},
		}, []string{"custom_alpaca.jsonl:3:good: dropped (as LLaMA-Factory drops it): good is null, expected a string"}},
		{"registry: sharegpt with custom tags", "custom_sharegpt", Options{DatasetDir: lfdir}, []want{
			{Row: 1, Format: FormatShareGPT, Conv: true, Tools: `[{"name": "weather"}]`,
				Prompt: functionCallAt(conv("system", "Use tools.", "user", "Weather?", "assistant", `{"name": "weather"}`, "tool", "sunny"), 2),
				Chosen: conv("assistant", "It is sunny."), Rejected: conv("assistant", "No idea.")},
		}, []string{
			`custom_sharegpt.json:2:dialog[1].speaker: dropped (as LLaMA-Factory drops it): invalid role tag "U" at turn 2: even positions must be "A" or "FN"`,
			`custom_sharegpt.json:3:dialog: dropped (as LLaMA-Factory drops it): invalid message count 2: must be odd (the conversation must end with a user turn)`,
		}},
		{"registry: folder of files, two names", "folder_set,custom_alpaca", Options{DatasetDir: lfdir}, []want{
			{Row: 1, Format: FormatShareGPT, Conv: true, Prompt: conv("user", "one"), Chosen: conv("assistant", "1"), Rejected: conv("assistant", "2")},
			{Row: 1, Format: FormatShareGPT, Conv: true, Prompt: conv("user", "two"), Chosen: conv("assistant", "2"), Rejected: conv("assistant", "3")},
			{Row: 1, Format: FormatAlpaca, Conv: true, Prompt: conv("system", "Be terse.", "user", "Summarise\nA long text."),
				Chosen: conv("assistant", "Short."), Rejected: conv("assistant", "A long text.")},
			{Row: 2, Format: FormatAlpaca, Conv: true, Prompt: conv("user", "Only question"), Chosen: conv("assistant", "yes"), Rejected: conv("assistant", "no")},
		}, []string{"custom_alpaca.jsonl:3:good: dropped (as LLaMA-Factory drops it): good is null, expected a string"}},
		{"registry file named by path", lfdir + "/custom_alpaca.jsonl", Options{}, []want{
			{Row: 1, Format: FormatAlpaca, Conv: true, Prompt: conv("system", "Be terse.", "user", "Summarise\nA long text."),
				Chosen: conv("assistant", "Short."), Rejected: conv("assistant", "A long text.")},
			{Row: 2, Format: FormatAlpaca, Conv: true, Prompt: conv("user", "Only question"), Chosen: conv("assistant", "yes"), Rejected: conv("assistant", "no")},
		}, []string{"custom_alpaca.jsonl:3:good: dropped (as LLaMA-Factory drops it): good is null, expected a string"}},
		{"two files comma-separated", fx + "/trl_standard.jsonl, " + fx + "/hh.jsonl", Options{}, []want{
			{Row: 1, Format: FormatTRL, Prompt: txt("The sky is"), Chosen: txt(" blue."), Rejected: txt(" green.")},
			{Row: 2, Format: FormatTRL, Prompt: txt("The sun is"), Chosen: txt(" in the sky."), Rejected: txt(" in the sea.")},
			{Row: 3, Format: FormatTRL, Prompt: txt("Água é"), Chosen: txt(" molhada."), Rejected: txt(" seca.")},
			{Row: 1, Format: FormatHHRLHF, Prompt: txt("\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant:"),
				Chosen: txt(" I know a good one about cats."), Rejected: txt(" I refuse.")},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Load(tc.spec, tc.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(ds.Examples) != len(tc.want) {
				t.Fatalf("%d examples, want %d; issues %v", len(ds.Examples), len(tc.want), ds.Report.Issues)
			}
			for i := range tc.want {
				got := gotOf(&ds.Examples[i])
				if !reflect.DeepEqual(got, tc.want[i]) {
					t.Errorf("example %d:\n got %+v\nwant %+v", i, got, tc.want[i])
				}
			}
			var dropped []string
			for _, is := range ds.Report.Issues {
				if is.Severity == Dropped {
					dropped = append(dropped, strings.TrimPrefix(is.Error(), lfdir+"/"))
				} else if is.Severity == Invalid {
					t.Errorf("unexpected invalid row: %v", is.RowError)
				}
			}
			if !reflect.DeepEqual(dropped, tc.dropped) {
				t.Errorf("dropped:\n got %q\nwant %q", dropped, tc.dropped)
			}
		})
	}
}

// TestErrors feeds one small file per problem and checks the file:row:field message,
// the sentinel error and the severity.
func TestErrors(t *testing.T) {
	const okRow = `{"prompt": "p", "chosen": "a", "rejected": "b"}`
	const okConv = `{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`
	tests := []struct {
		name     string
		file     string // name of the file written in a temp dir
		content  string
		opts     Options
		want     string // the issue's message with the temp dir removed
		sentinel error
		severity Severity
		loaded   int // examples still loaded under PolicyDrop
	}{
		{"missing field", "x.jsonl", okRow + "\n" + `{"prompt": "p", "chosen": "a"}`, Options{},
			"x.jsonl:2:rejected: missing field (row has: chosen, prompt)", ErrMissingField, Invalid, 1},
		{"null field", "x.jsonl", `{"prompt": "p", "chosen": null, "rejected": "b"}`, Options{},
			"x.jsonl:1:chosen: field is null", ErrMissingField, Invalid, 0},
		{"wrong type", "x.jsonl", `{"prompt": 5, "chosen": "a", "rejected": "b"}`, Options{},
			"x.jsonl:1:prompt: expected a string or a list of messages, got number 5", ErrWrongType, Invalid, 0},
		{"string vs messages", "x.jsonl", `{"prompt": "p", "chosen": "a", "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			"x.jsonl:1:rejected: chosen and rejected must both be strings or both be message lists", ErrWrongType, Invalid, 0},
		{"empty completion", "x.jsonl", `{"prompt": "p", "chosen": "  ", "rejected": "b"}`, Options{},
			"x.jsonl:1:chosen: empty completion", ErrEmpty, Invalid, 0},
		{"empty conversational completion", "x.jsonl", `{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": ""}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			"x.jsonl:1:chosen: empty completion", ErrEmpty, Invalid, 0},
		{"chosen == rejected", "x.jsonl", `{"prompt": "p", "chosen": "same", "rejected": "same"}`, Options{},
			"x.jsonl:1:rejected: chosen and rejected are identical (the pair carries no preference)", ErrIdentical, Warning, 1},
		{"empty prompt", "x.jsonl", `{"prompt": "", "chosen": "a", "rejected": "b"}`, Options{},
			"x.jsonl:1:prompt: empty prompt", ErrEmpty, Warning, 1},
		{"bad role", "x.jsonl", `{"prompt": [{"role": "bot", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			`x.jsonl:1:prompt[0].role: bad role "bot" (expected system, user, assistant or tool)`, ErrBadRole, Invalid, 0},
		{"message without role", "x.jsonl", `{"prompt": [{"content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			"x.jsonl:1:prompt[0].role: message has no role (keys: content)", ErrMissingField, Invalid, 0},
		{"non-text content block", "x.jsonl", `{"prompt": [{"role": "user", "content": [{"type": "image"}]}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			`x.jsonl:1:prompt[0].content[0].type: content block of type "image": only text is supported`, ErrInvalidValue, Invalid, 0},
		{"non-alternating roles", "x.jsonl", `{"prompt": [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			"x.jsonl:1:prompt[1].role: roles do not alternate: user follows user", ErrRoleOrder, Invalid, 0},
		{"system not first", "x.jsonl", `{"prompt": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			"x.jsonl:1:prompt[1].role: system message must come first", ErrRoleOrder, Invalid, 0},
		{"tool after user", "x.jsonl", `{"prompt": [{"role": "user", "content": "q"}, {"role": "tool", "content": "t"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			"x.jsonl:1:prompt[1].role: tool message must follow an assistant message", ErrRoleOrder, Invalid, 0},
		{"completion starts with user", "x.jsonl", `{"prompt": [{"role": "system", "content": "s"}], "chosen": [{"role": "user", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, Options{},
			`x.jsonl:1:chosen[0].role: completion must start with an assistant message, got "user"`, ErrRoleOrder, Invalid, 0},
		{"invalid JSON line", "x.jsonl", okRow + "\n" + `{"prompt": "p", "chosen": ` + "\n" + okConv, Options{},
			"x.jsonl:2:chosen: invalid JSON: unexpected end of line (is the object split over several lines? JSON Lines needs one row per line)", ErrInvalidJSON, Invalid, 2},
		{"JSON syntax error in a line", "x.jsonl", `{"prompt": "p", "chosen": x}`, Options{},
			"x.jsonl:1:chosen: invalid JSON at column 27: invalid character 'x' looking for beginning of value", ErrInvalidJSON, Invalid, 0},
		{"row is not an object", "x.jsonl", `[1, 2]` + "\n" + okRow, Options{},
			"x.jsonl:1: row is a JSON array, expected an object", ErrWrongType, Invalid, 1},
		{"JSON array element not an object", "x.json", `[` + okRow + `, "oops"]`, Options{},
			"x.json:2: row is a JSON string, expected an object", ErrWrongType, Invalid, 1},
		{"listwise length mismatch", "x.jsonl", `{"prompt": "p", "responses": ["a", "b"], "scores": [1]}`, Options{},
			"x.jsonl:1:scores: has 1 entries but responses has 2", ErrInvalidValue, Invalid, 0},
		{"listwise bad rank", "x.jsonl", `{"prompt": "p", "responses": ["a", "b"], "ranking": [0, 1]}`, Options{},
			"x.jsonl:1:ranking[0]: rank 0: ranks start at 1 (best)", ErrInvalidValue, Invalid, 0},
		{"negative token id", "x.jsonl", `{"prompt_input_ids": [1], "chosen_input_ids": [-3], "rejected_input_ids": [2]}`, Options{},
			"x.jsonl:1:chosen_input_ids[0]: expected a token id (an integer ≥ 0), got number -3", ErrInvalidValue, Invalid, 0},
		{"fractional token id", "x.jsonl", `{"prompt_input_ids": [1.5], "chosen_input_ids": [3], "rejected_input_ids": [2]}`, Options{},
			"x.jsonl:1:prompt_input_ids[0]: expected a token id (an integer ≥ 0), got number 1.5", ErrInvalidValue, Invalid, 0},
		{"kto label not boolean", "x.jsonl", `{"prompt": "p", "completion": "c", "label": "yes"}`, Options{},
			`x.jsonl:1:label: expected a boolean (true: desirable), got string "yes"`, ErrWrongType, Invalid, 0},
		{"mapped column missing", "x.jsonl", `{"question": "q", "response_j": "a"}`, Options{Columns: map[string]string{"prompt": "question", "chosen": "response_j", "rejected": "response_k"}},
			"x.jsonl:1:response_k: missing field (row has: question, response_j)", ErrMissingField, Invalid, 0},
		{"sharegpt message without role", "x.json", `[{"conversations": [{"value": "hi"}], "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}]`, Options{},
			"x.json:1:conversations[0].from: missing field (message has: value)", ErrMissingField, Invalid, 0},
		{"sharegpt response from user", "x.json", `[{"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "human", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}]`, Options{},
			`x.json:1:chosen.from: role "human": a response must be "gpt" or "function_call"`, ErrBadRole, Invalid, 0},
		{"sharegpt role order", "x.json", `[{"conversations": [{"from": "gpt", "value": "hi"}], "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}]`, Options{},
			`x.json:1:conversations[0].from: dropped (as LLaMA-Factory drops it): invalid role tag "gpt" at turn 1: odd positions must be "human" or "observation"`, ErrDropped, Dropped, 0},
		{"sharegpt chosen not an object", "x.json", `[{"conversations": [{"from": "human", "value": "hi"}], "chosen": "a", "rejected": {"from": "gpt", "value": "b"}}]`, Options{},
			`x.json:1:chosen: dropped (as LLaMA-Factory drops it): chosen is string "a", expected a message object`, ErrDropped, Dropped, 0},
		{"missing column in the first row", "x.jsonl", `{"prompt": "p", "chosen": "a"}`, Options{},
			"x.jsonl:1:rejected: missing field (row has: chosen, prompt)", ErrMissingField, Invalid, 0},
		{"unpaired row without label", "x.jsonl", `{"prompt": "p", "completion": "c"}`, Options{},
			"x.jsonl:1:label: missing field (row has: completion, prompt)", ErrMissingField, Invalid, 0},
		// Invalid UTF-8 (columns counted by hand): `{"prompt": "p", "chosen": "caf` is 30
		// bytes, so 0xff is at column 31.
		{"invalid UTF-8", "x.jsonl", okRow + "\n" + "{\"prompt\": \"p\", \"chosen\": \"caf\xff\", \"rejected\": \"b\"}", Options{},
			"x.jsonl:2:chosen: invalid UTF-8: byte 0xff at column 31 (the file must be UTF-8 encoded)", ErrInvalidUTF8, Invalid, 1},
		// `{"prompt": ` 11 + `[{"role": "user", "content": "q"}` 33 + `, ` 2 +
		// `{"role": "assistant", "content": "` 34 = 80 bytes before 0xc3.
		{"invalid UTF-8 in a nested message", "x.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"\xc3(\"}], \"chosen\": \"a\", \"rejected\": \"b\"}", Options{},
			"x.jsonl:1:prompt[1].content: invalid UTF-8: byte 0xc3 at column 81 (the file must be UTF-8 encoded)", ErrInvalidUTF8, Invalid, 0},
		{"invalid UTF-8 in a key", "x.jsonl", "{\"pr\xffompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}", Options{},
			"x.jsonl:1:pr\ufffdompt: invalid UTF-8: byte 0xff at column 5 (the file must be UTF-8 encoded)", ErrInvalidUTF8, Invalid, 0},
		// The element's `{"prompt": "p", ` 16 + `"chosen": "a", ` 15 + `"rejected": "` 13 = 44.
		{"invalid UTF-8 in a JSON array", "x.json", "[" + okRow + ",\n{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"\xfe\"}]", Options{},
			"x.json:2:rejected: invalid UTF-8: byte 0xfe at byte 45 of the row (the file must be UTF-8 encoded)", ErrInvalidUTF8, Invalid, 1},
		// A 64-byte limit: the row is `{"prompt": "p", "chosen": "` 27 + 50 + `", "rejected": "b"}`
		// 19 = 96 bytes (the newline not counted); byte 64 falls inside chosen.
		{"row over the size limit", "x.jsonl", `{"prompt": "p", "chosen": "` + strings.Repeat("a", 50) + `", "rejected": "b"}` + "\n" + okRow, Options{MaxRowBytes: 64},
			"x.jsonl:1:chosen: row too large: 96 bytes, over the 64 bytes limit (--max-row-bytes)", ErrTooLarge, Invalid, 1},
		// 44 + 50 + `"}` 2 = 96 bytes; byte 64 falls inside rejected.
		{"JSON array element over the size limit", "x.json", `[{"prompt": "p", "chosen": "a", "rejected": "` + strings.Repeat("b", 50) + `"}, ` + okRow + `]`, Options{MaxRowBytes: 64},
			"x.json:1:rejected: row too large: 96 bytes, over the 64 bytes limit (--max-row-bytes)", ErrTooLarge, Invalid, 1},
		{"JSON array: reading goes on after a malformed element", "x.json", "[\n" + okRow + ",\n{\"prompt\": \"p\", \"chosen\": x},\n" + okRow + "\n]", Options{},
			"x.json:2:chosen: invalid JSON: invalid character 'x' looking for beginning of value (the row starts on line 3)", ErrInvalidJSON, Invalid, 2},
		{"alpaca history malformed", "x.json", `[{"instruction": "i", "chosen": "a", "rejected": "b", "history": [["only one"]]}]`, Options{},
			`x.json:1:history[0]: expected a [prompt, response] pair, got array of 1`, ErrWrongType, Invalid, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.file)
			opts := tc.opts
			opts.Policy = PolicyDrop
			ds, err := Load(path, opts)
			if err != nil {
				t.Fatalf("Load (drop policy): %v", err)
			}
			var found *Issue
			for i := range ds.Report.Issues {
				if strings.TrimPrefix(ds.Report.Issues[i].Error(), dir+"/") == tc.want {
					found = &ds.Report.Issues[i]
				}
			}
			if found == nil {
				t.Fatalf("no issue %q; got %v", tc.want, ds.Report.Issues)
			}
			if !errors.Is(found.RowError, tc.sentinel) {
				t.Errorf("issue does not wrap %v", tc.sentinel)
			}
			if found.Severity != tc.severity {
				t.Errorf("severity %v, want %v", found.Severity, tc.severity)
			}
			if len(ds.Examples) != tc.loaded {
				t.Errorf("%d examples loaded, want %d", len(ds.Examples), tc.loaded)
			}
			// Strict policy: an invalid row is the returned error.
			opts.Policy = PolicyStrict
			_, err = Load(path, opts)
			if tc.severity == Invalid {
				var re *RowError
				if !errors.As(err, &re) || strings.TrimPrefix(re.Error(), dir+"/") != tc.want {
					t.Errorf("strict: error %v, want %q", err, tc.want)
				}
			} else if err != nil {
				t.Errorf("strict: unexpected error %v", err)
			}
		})
	}
}

// TestFileErrors covers problems with whole files and specs.
func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, spec string
		opts       Options
		want       string // substring of the error
		sentinel   error
	}{
		{"unknown format", write("u.jsonl", `{"foo": 1, "bar": 2}`), Options{},
			"u.jsonl:1: unknown format: row has keys {bar, foo}; expected one of: {prompt, chosen, rejected}", ErrUnknownFormat},
		{"unknown forced format", write("f.jsonl", `{"prompt": "p"}`), Options{Format: "csv"},
			`unknown format "csv" (known:`, ErrUnknownFormat},
		{"JSON array syntax error", write("a.json", "[\n  {\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"},\n  {\"prompt\": }\n]"), Options{},
			"a.json:2:prompt: invalid JSON: invalid character '}' looking for beginning of value", ErrInvalidJSON},
		{"JSON array syntax error has a line", write("b.json", "[\n  {\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"},\n  {\"prompt\": }\n]"), Options{},
			"(the row starts on line 3)", ErrInvalidJSON},
		{"top-level scalar", write("s.json", `"hello"`), Options{}, "file starts with '\"'", ErrInvalidJSON},
		{"unsupported extension", write("d.csv", "a,b"), Options{}, "unsupported file type", nil},
		{"missing file", filepath.Join(dir, "nope.jsonl"), Options{}, "no such file", nil},
		{"remote registry entry", "hub_set", Options{DatasetDir: filepath.Join(fx, "lfdir")}, "is remote (hf_hub_url someone/somedata)", nil},
		{"unknown registry name", "nope", Options{DatasetDir: filepath.Join(fx, "lfdir")}, "has no dataset of that name (registered: custom_alpaca, custom_sharegpt, folder_set, hub_set)", nil},
		{"dataset dir given as a file spec", filepath.Join(fx, "lfdir"), Options{}, "is a LLaMA-Factory dataset_dir: name its datasets with --dataset-dir", nil},
		{"corrupt parquet", write("c.parquet", "PAR1 this is not parquet"), Options{}, "not a readable Parquet file", nil},
		{"empty directory", func() string { d := filepath.Join(dir, "empty"); os.Mkdir(d, 0o755); return d }(), Options{}, "has no dataset files", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.spec, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error does not wrap %v", tc.sentinel)
			}
		})
	}
}

func TestGzipAndJSONLinesInJSON(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(fx, "trl_standard.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(src)
	zw.Close()
	os.WriteFile(filepath.Join(dir, "a.jsonl.gz"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b.json"), append([]byte("\xef\xbb\xbf\n"), src...), 0o644) // BOM, blank line, JSON Lines
	want, err := Load(filepath.Join(fx, "trl_standard.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.jsonl.gz", "b.json"} {
		ds, err := Load(filepath.Join(dir, name), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ds.Examples) != len(want.Examples) {
			t.Fatalf("%s: %d examples, want %d", name, len(ds.Examples), len(want.Examples))
		}
		for i := range ds.Examples {
			g, w := gotOf(&ds.Examples[i]), gotOf(&want.Examples[i])
			if name == "b.json" {
				w.Row++ // the blank line after the BOM
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s example %d: %+v, want %+v", name, i, g, w)
			}
		}
	}
}

func TestDuplicatesAndDropIdentical(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.jsonl")
	os.WriteFile(p, []byte(`{"prompt": "p", "chosen": "a", "rejected": "b"}
{"prompt": "p", "chosen": "a", "rejected": "b"}
{"prompt": "p", "chosen": "s", "rejected": "s"}
`), 0o644)
	ds, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ds.Report; r.Duplicates != 1 || r.Identical != 1 || r.Loaded != 3 {
		t.Errorf("duplicates %d identical %d loaded %d, want 1 1 3", r.Duplicates, r.Identical, r.Loaded)
	}
	ds, err = Load(p, Options{DropIdentical: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Report.Loaded != 2 {
		t.Errorf("DropIdentical: loaded %d, want 2", ds.Report.Loaded)
	}
}
