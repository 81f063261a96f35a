package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/preftune/preftune/hf/tokenizer"
)

func init() {
	register(&command{
		name:    "tokenize",
		summary: "encode UTF-8 text from stdin to a JSON array of token ids",
		run:     runTokenize,
	})
}

// runTokenize: preftune tokenize --tokenizer DIR [--add-special-tokens] < text
// Reads all of stdin exactly (no trimming) and prints one JSON array of ids and a newline.
func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", stderr)
	setUsage(fs, tokenizeUsage)
	dir := fs.String("tokenizer", "", "directory holding tokenizer.json (and tokenizer_config.json)")
	addSpecial := fs.Bool("add-special-tokens", false, "add the tokens the tokenizer's post-processor adds (e.g. Llama-2's BOS)")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	text, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	if !utf8.Valid(text) {
		return badInputf("stdin is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(text))
	}
	tok, err := loadTokenizerFlag(*dir, fs.Args())
	if err != nil {
		return err
	}
	ids := tok.Encode(string(text), *addSpecial)
	w := bufio.NewWriter(stdout)
	buf := make([]byte, 0, 16)
	w.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(strconv.AppendInt(buf[:0], int64(id), 10))
	}
	w.WriteString("]\n")
	return w.Flush()
}

// loadTokenizerFlag loads the --tokenizer directory; a missing or unreadable one is bad input.
func loadTokenizerFlag(dir string, extra []string) (*tokenizer.Tokenizer, error) {
	if len(extra) > 0 {
		return nil, badInputf("unexpected arguments %q (text is read from stdin)", extra)
	}
	if dir == "" {
		return nil, badInputf("--tokenizer DIR is required")
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, badInput(err) // the directory and its files are the user's input
	}
	return tok, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
