package data

import (
	"errors"
	"fmt"
)

// errLFTools marks a row whose tools or function calls cannot be formatted the way
// LLaMA-Factory formats them.
var errLFTools = errors.New("tools")

// formatLFTools is ToolFormatter.apply for the template's tool_format.
func formatLFTools(format, tools string) (string, error) {
	return "", fmt.Errorf("%w: LLaMA-Factory's %q tool format is not implemented in preftune; drop the tools column or use TRL's rules (no stage:)", errLFTools, format)
}

// formatLFFunction is FunctionFormatter.apply's content for the template's tool_format.
func formatLFFunction(format, content string, thought [2]string) (string, error) {
	return "", fmt.Errorf("%w: LLaMA-Factory's %q function-call format is not implemented in preftune; use TRL's rules (no stage:)", errLFTools, format)
}
