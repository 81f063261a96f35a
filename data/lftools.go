package data

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/preftune/preftune/hf/chattemplate"
)

// LLaMA-Factory's tool formats (src/llamafactory/data/tool_utils.py, formatter.py
// ToolFormatter / FunctionFormatter) for the templates preftune ships: "qwen" (qwen,
// qwen3, qwen3_nothink) and "default" (default, empty, chatml, llama2). The llama3 and
// mistral formats are refused.

// errLFTools marks a row whose tools or function calls cannot be formatted the way
// LLaMA-Factory formats them.
var errLFTools = errors.New("tools")

const qwenToolPrompt = "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
	"You are provided with function signatures within <tools></tools> XML tags:\n<tools>%s" +
	"\n</tools>\n\nFor each function call, return a json object with function name and arguments within " +
	"<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, " +
	"\"arguments\": <args-json-object>}\n</tool_call>"

const defaultToolPrompt = "You have access to the following tools:\n%s" +
	"Use the following format if using a tool:\n" +
	"```\n" +
	"Action: tool name (one of [%s])\n" +
	"Action Input: the input to the tool, in a JSON format representing the kwargs " +
	"(e.g. ```{\"input\": \"hello world\", \"num_beams\": 5}```)\n" +
	"```\n"

var (
	pyJSONOnce sync.Once
	pyJSONTmpl *chattemplate.Template
)

// pyJSON is Python's json.dumps(v, ensure_ascii=False) (separators ", " and ": ", key
// order kept), through the chat-template renderer's tojson, which is exactly that.
func pyJSON(v any) (string, error) {
	pyJSONOnce.Do(func() { pyJSONTmpl, _ = chattemplate.Parse("{{ x | tojson }}", nil) })
	if pyJSONTmpl == nil {
		return "", errors.New("internal: tojson template")
	}
	return pyJSONTmpl.RenderValues(nil, chattemplate.RenderOptions{Extra: map[string]any{"x": v}})
}

func dictGet(v any, key string) (any, bool) {
	if d, ok := v.(*chattemplate.Dict); ok {
		return d.Get(key)
	}
	return nil, false
}

func dictString(v any, key string) string {
	x, _ := dictGet(v, key)
	s, _ := x.(string)
	return s
}

// formatLFTools is ToolFormatter.apply for the template's tool_format.
func formatLFTools(format, tools string) (string, error) {
	v, err := decodeOrdered(tools)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errLFTools, err)
	}
	list, ok := v.([]any)
	if !ok {
		return "", fmt.Errorf("%w: expected a list of tools", errLFTools)
	}
	if len(list) == 0 {
		return "", nil
	}
	switch format {
	case "qwen":
		var b strings.Builder
		for _, tool := range list {
			js, err := pyJSON(tool)
			if err != nil {
				return "", fmt.Errorf("%w: %v", errLFTools, err)
			}
			if dictString(tool, "type") != "function" {
				js = `{"type": "function", "function": ` + js + `}`
			}
			b.WriteString("\n" + js)
		}
		return fmt.Sprintf(qwenToolPrompt, b.String()), nil
	case "default":
		var text strings.Builder
		var names []string
		for _, tool := range list {
			if dictString(tool, "type") == "function" {
				tool, _ = dictGet(tool, "function")
			}
			params, _ := dictGet(tool, "parameters")
			props, _ := dictGet(params, "properties")
			pd, ok := props.(*chattemplate.Dict)
			if !ok {
				return "", fmt.Errorf("%w: a tool without parameters.properties", errLFTools)
			}
			reqV, _ := dictGet(params, "required")
			req, _ := reqV.([]any)
			var pt strings.Builder
			for _, name := range pd.Keys() {
				param, _ := pd.Get(name)
				required, enum, items := "", "", ""
				for _, r := range req {
					if r == name {
						required = ", required"
					}
				}
				if ev, ok := dictGet(param, "enum"); ok {
					if el, ok := ev.([]any); ok && len(el) > 0 {
						parts := make([]string, len(el))
						for i, e := range el {
							s, ok := e.(string)
							if !ok {
								return "", fmt.Errorf("%w: enum values must be strings", errLFTools)
							}
							parts[i] = s
						}
						enum = ", should be one of [" + strings.Join(parts, ", ") + "]"
					}
				}
				if iv, ok := dictGet(param, "items"); ok && iv != nil {
					if d, ok := iv.(*chattemplate.Dict); ok && d.Len() > 0 {
						items = ", where each item should be " + dictString(iv, "type")
					}
				}
				fmt.Fprintf(&pt, "  - %s (%s%s): %s%s%s\n", name, dictString(param, "type"), required, dictString(param, "description"), enum, items)
			}
			name := dictString(tool, "name")
			fmt.Fprintf(&text, "> Tool Name: %s\nTool Description: %s\nTool Args:\n%s\n", name, dictString(tool, "description"), pt.String())
			names = append(names, name)
		}
		return fmt.Sprintf(defaultToolPrompt, text.String(), strings.Join(names, ", ")), nil
	}
	return "", fmt.Errorf("%w: LLaMA-Factory's %q tool format is not implemented in preftune (qwen and default are); drop the tools column or use TRL's rules (no stage:)", errLFTools, format)
}

// formatLFFunction is FunctionFormatter.apply's content for the template's tool_format:
// the function-call JSON (one call or a list, optionally inside tool-call words or
// after a thought) rewritten as the format writes calls.
func formatLFFunction(format, content string, thought [2]string) (string, error) {
	if format != "qwen" && format != "default" {
		return "", fmt.Errorf("%w: LLaMA-Factory's %q function-call format is not implemented in preftune; use TRL's rules (no stage:)", errLFTools, format)
	}
	prefix, jsonPart := "", content
	callRE := regexp.MustCompile(`(?s)` + regexp.QuoteMeta("<tool_call>") + `(.*?)` + regexp.QuoteMeta("</tool_call>"))
	if m := callRE.FindStringSubmatchIndex(content); m != nil {
		prefix = strings.Replace(content, content[m[0]:m[1]], "", -1)
		jsonPart = content[m[2]:m[3]]
	} else {
		thRE := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(thought[0]) + `(.*?)` + regexp.QuoteMeta(thought[1]))
		if m := thRE.FindStringIndex(content); m != nil {
			prefix = content[m[0]:m[1]]
			jsonPart = strings.Replace(content, prefix, "", -1)
		}
	}
	v, err := decodeOrdered(jsonPart)
	if err != nil {
		return "", fmt.Errorf("%w: invalid JSON format in function message: %v", errLFTools, err)
	}
	calls, ok := v.([]any)
	if !ok {
		calls = []any{v}
	}
	var texts []string
	for _, c := range calls {
		name, okN := dictGet(c, "name")
		args, okA := dictGet(c, "arguments")
		if !okN || !okA {
			return "", fmt.Errorf("%w: a function call needs name and arguments", errLFTools)
		}
		ns, _ := name.(string)
		aj, err := pyJSON(args)
		if err != nil {
			return "", fmt.Errorf("%w: %v", errLFTools, err)
		}
		if format == "qwen" {
			nj, _ := pyJSON(ns)
			texts = append(texts, "<tool_call>\n{\"name\": "+nj+", \"arguments\": "+aj+"}\n</tool_call>")
		} else {
			texts = append(texts, "Action: "+ns+"\nAction Input: "+aj)
		}
	}
	return prefix + strings.Join(texts, "\n"), nil
}
