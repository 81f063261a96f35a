package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
)

func init() {
	register(&command{
		name:    "detokenize",
		summary: "decode a JSON array of token ids from stdin to text",
		run:     runDetokenize,
	})
}

// runDetokenize: preftune detokenize --tokenizer DIR [--skip-special-tokens] < ids.json
// Prints the decoded text exactly, without a trailing newline.
func runDetokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("detokenize", stderr)
	setUsage(fs, detokenizeUsage)
	dir := fs.String("tokenizer", "", "directory holding tokenizer.json (and tokenizer_config.json)")
	skipSpecial := fs.Bool("skip-special-tokens", false, "leave out special tokens (BOS, EOS, <|im_end|>, ...)")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	ids, err := parseIDArray(data)
	if err != nil {
		return badInput(err)
	}
	tok, err := loadTokenizerFlag(*dir, fs.Args())
	if err != nil {
		return err
	}
	for i, id := range ids {
		if _, ok := tok.IDToken(id); !ok {
			return badInputf("stdin: id %d at index %d is not a token of %s (vocabulary size %d)", id, i, *dir, tok.VocabSize())
		}
	}
	_, err = io.WriteString(stdout, tok.Decode(ids, *skipSpecial))
	return err
}

// parseIDArray reads exactly one JSON array of integers (whitespace around it allowed).
func parseIDArray(data []byte) ([]int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("stdin: want a JSON array of token ids: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("stdin: want a JSON array of token ids, got null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("stdin: trailing data after the JSON array")
	}
	ids := make([]int, len(raw))
	for i, n := range raw {
		v, err := strconv.ParseInt(string(n), 10, 64) // rejects "1", 1.0, 1e3, true
		if err != nil || v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("stdin: element %d (%s) is not an integer token id", i, n)
		}
		ids[i] = int(v)
	}
	return ids, nil
}
