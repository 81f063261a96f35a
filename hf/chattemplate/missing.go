package chattemplate

import "errors"

// ErrMissing is the error of a model directory without a chat template.
var ErrMissing = errors.New("the model has no chat template")

// MissingHint names the fix for ErrMissing. Every command that needs a chat template
// (train, data check --tokenizer, generate --messages, template) says the same.
const MissingHint = "add a chat_template.jinja file to the model directory, or a chat_template entry to its " +
	"tokenizer_config.json (a LLaMA-Factory `template:` name is not built in: put that template's Jinja text in chat_template.jinja)"
