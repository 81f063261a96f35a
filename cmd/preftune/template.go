package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/preftune/preftune/hf/chattemplate"
)

func init() {
	register(&command{
		name:    "template",
		summary: "render a model's chat template for a conversation (like transformers' apply_chat_template)",
		run:     runTemplate,
	})
}

func runTemplate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("template", stderr)
	model := fs.String("model", "", "model or tokenizer directory (tokenizer_config.json / chat_template.jinja), or a .jinja file")
	messagesPath := fs.String("messages", "", "JSON file holding the conversation: an array of {\"role\": ..., \"content\": ...} messages")
	addGen := fs.Bool("add-generation-prompt", false, "append the assistant turn header (add_generation_prompt=True)")
	toolsPath := fs.String("tools", "", "JSON file holding an array of tool schemas (passed as tools=...)")
	name := fs.String("template-name", "", "named template to use (default: tool_use when --tools is given and it exists, else default)")
	now := fs.String("now", "", "date/time for strftime_now, as 2006-01-02 or 2006-01-02T15:04:05 (default: the current time)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: preftune template --model DIR --messages FILE.json [--add-generation-prompt] [--tools FILE.json]")
		fs.PrintDefaults()
	}
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q", fs.Arg(0))
	}
	if *model == "" || *messagesPath == "" {
		return badInputf("--model and --messages are required")
	}
	messages, err := readJSONArray(*messagesPath, "messages")
	if err != nil {
		return err
	}
	for i, m := range messages {
		if _, ok := m.(*chattemplate.Dict); !ok {
			return badInputf("%s: message %d is not a JSON object", *messagesPath, i)
		}
	}
	opts := chattemplate.RenderOptions{AddGenerationPrompt: *addGen, TemplateName: *name}
	if *toolsPath != "" {
		if opts.Tools, err = readJSONArray(*toolsPath, "tools"); err != nil {
			return err
		}
	}
	if *now != "" {
		t, err := parseNow(*now)
		if err != nil {
			return badInput(err)
		}
		opts.Now = func() time.Time { return t }
	}
	tpl, err := chattemplate.Load(*model)
	if err != nil {
		return badInput(err)
	}
	out, err := tpl.RenderValues(messages, opts)
	if err != nil {
		// the template and the conversation are both the user's input
		return badInput(err)
	}
	_, err = io.WriteString(stdout, out)
	return err
}

// readJSONArray reads a JSON array (key order and int/float kept, as Python's
// json.load would) from path.
func readJSONArray(path, what string) ([]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, badInputf("read %s: %w", what, err)
	}
	v, err := chattemplate.DecodeJSON(data)
	if err != nil {
		return nil, badInputf("%s: %w", path, err)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, badInputf("%s: %s must be a JSON array", path, what)
	}
	return arr, nil
}

func parseNow(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--now %q: want 2006-01-02 or 2006-01-02T15:04:05", s)
}
