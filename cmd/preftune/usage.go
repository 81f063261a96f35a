package main

import (
	"flag"
	"fmt"
)

// setUsage makes -h print text (a usage line and what the command does) and then the
// flags, instead of Go's bare "Usage of …" dump.
func setUsage(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), text)
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
}

const judgeUsage = `usage: preftune judge --a A.jsonl --b B.jsonl --judge exact|regex|length|NAME [--pattern RE] [--ref REF.jsonl] [--json]

Judges generations A against B prompt by prompt (rows aligned by "prompt") and prints
the win rate of A with a bootstrap confidence interval: wins, ties and losses, as
TRL's judges and AlpacaEval's win rate count them (a tie counts half).
`

const tokenizeUsage = `usage: preftune tokenize --tokenizer DIR [--add-special-tokens] < text.txt

Encodes all of stdin (UTF-8, exactly as given: no trimming) with DIR/tokenizer.json and
prints one JSON array of token ids, as Hugging Face tokenizers'
encode(text, add_special_tokens=...) does.
`

const detokenizeUsage = `usage: preftune detokenize --tokenizer DIR [--skip-special-tokens] < ids.json

Decodes a JSON array of token ids from stdin with DIR/tokenizer.json and prints the
text exactly, without a trailing newline, as Hugging Face tokenizers'
decode(ids, skip_special_tokens=...) does.
`
