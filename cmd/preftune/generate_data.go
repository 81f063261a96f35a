package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/preftune/preftune/atomicfile"
	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/rowerr"
)

// generateDataArgs are generate's flags in batch mode (--data).
type generateDataArgs struct {
	modelDir, adapterDir, data, out string
	maxNew                          int
	maxNewSet                       bool
	temperature, topP               float64
	seed                            uint64
	batchSize, threads              int
	computeDType                    string
}

// promptRow is one row of a --data file, tokenized.
type promptRow struct {
	line   int
	prompt json.RawMessage // the row's prompt value as given (compact JSON)
	ids    []int32
	copied []copiedField // reference, answer, id
}

type copiedField struct {
	name string
	raw  json.RawMessage
}

// generationRow is one output row, in the order judge's reader and people expect.
type generationRow struct {
	Prompt     json.RawMessage `json:"prompt"`
	Completion string          `json:"completion"`
	TokenIDs   []int32         `json:"token_ids"`
	Stopped    bool            `json:"stopped"`
}

// copiedFields are the input fields carried over to the output rows.
var copiedFields = []string{"reference", "answer", "id"}

// runGenerateData is `preftune generate --data FILE --out FILE`: every prompt row is
// read and checked first (a bad row exits 2 naming file:row:field, before any
// compute), then the prompts are generated --batch-size at a time, sorted by length
// so a batch pads little, and the rows are written in input order in one atomic write.
func runGenerateData(a generateDataArgs, stdout io.Writer) error {
	switch {
	case a.out == "":
		return badInputf("--data needs --out (the JSONL file the generations are written to)")
	case a.batchSize <= 0:
		return badInputf("--batch-size: %d must be positive", a.batchSize)
	}
	tk, err := data.LoadTokenizer(a.modelDir, data.TokenizeOptions{})
	if err != nil {
		return badInputf("--model: %w", err)
	}
	tok, ok := tk.Enc.(*tokenizer.Tokenizer)
	if !ok {
		return fmt.Errorf("internal: tokenizer of type %T", tk.Enc)
	}
	be, err := openBackend(a.threads)
	if err != nil {
		return err
	}
	defer be.Close()
	mopt, err := inferenceOptions(a.computeDType)
	if err != nil {
		return err
	}
	m, err := loadModel(be, a.modelDir, a.adapterDir, mopt)
	if err != nil {
		return err
	}
	defer m.Close()
	arch := m.Arch()
	if tok.VocabSize() > arch.Vocab {
		return badInputf("--model: the tokenizer has %d tokens, the model's vocabulary only %d", tok.VocabSize(), arch.Vocab)
	}
	rows, err := readPromptRows(a.data, tk, tok)
	if err != nil {
		return err
	}
	// per-row limits: the flag, or by default the end of the model's context
	limits := make([]int, len(rows))
	for i, r := range rows {
		limits[i] = a.maxNew
		room := arch.MaxPos - len(r.ids) + 1
		if !a.maxNewSet && room > 0 {
			limits[i] = min(limits[i], room)
		}
		if len(r.ids)+limits[i]-1 > arch.MaxPos {
			return badInput(&rowerr.Error{Source: a.data, Row: r.line, Field: "prompt",
				Msg: fmt.Sprintf("the prompt (%d tokens) plus --max-new-tokens %d exceeds the model's max_position_embeddings %d", len(r.ids), limits[i], arch.MaxPos)})
		}
	}
	opt := model.GenerateOptions{MaxNewTokens: a.maxNew, Temperature: a.temperature, TopP: a.topP, Seed: a.seed}
	if eos, ok := tok.EOS(); ok {
		opt.StopIDs = []int32{int32(eos)}
	}
	// batches of similar lengths (stable: equal lengths keep file order)
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return len(rows[x].ids) - len(rows[y].ids) })
	gens := make([]*model.Generation, len(rows))
	start := time.Now()
	tokens := 0
	for b0 := 0; b0 < len(order); b0 += a.batchSize {
		idx := order[b0:min(b0+a.batchSize, len(order))]
		prompts := make([][]int32, len(idx))
		o := opt
		o.Rows, o.RowMaxNewTokens = make([]int, len(idx)), make([]int, len(idx))
		for k, i := range idx {
			prompts[k], o.Rows[k], o.RowMaxNewTokens[k] = rows[i].ids, i, limits[i]
		}
		gs, err := m.GenerateBatch(prompts, o)
		if err != nil {
			return fmt.Errorf("generating rows %d…: %w", rows[idx[0]].line, err)
		}
		for k, i := range idx {
			gens[i] = gs[k]
			tokens += len(gs[k].IDs)
		}
	}
	elapsed := time.Since(start).Seconds()
	var buf bytes.Buffer
	for i, r := range rows {
		g := gens[i]
		ids := make([]int, len(g.IDs))
		for k, id := range g.IDs {
			ids[k] = int(id)
		}
		line, err := marshalGeneration(generationRow{Prompt: r.prompt, Completion: tok.Decode(ids, true), TokenIDs: g.IDs, Stopped: g.Stopped}, r.copied)
		if err != nil {
			return fmt.Errorf("encoding row %d: %w", r.line, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(a.out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(tokens) / elapsed
	}
	fmt.Fprintf(stdout, "wrote %d generations to %s: %d tokens in %.2f s (%.1f tokens/s, batch size %d)\n",
		len(rows), a.out, tokens, elapsed, rate, a.batchSize)
	return nil
}

// marshalGeneration is the row's JSON with the copied input fields appended.
func marshalGeneration(g generationRow, copied []copiedField) ([]byte, error) {
	line, err := json.Marshal(g)
	if err != nil || len(copied) == 0 {
		return line, err
	}
	line = line[:len(line)-1] // drop '}'
	for _, c := range copied {
		name, _ := json.Marshal(c.name)
		line = append(append(append(append(line, ','), name...), ':'), c.raw...)
	}
	return append(line, '}'), nil
}

// readPromptRows reads and tokenizes every row of a --data file: {"prompt": TEXT},
// {"prompt": [messages]} or {"messages": [messages]}. A text prompt is encoded as
// training encodes prompts (the tokenizer's own leading special tokens, e.g. BOS,
// unless the text starts with them); messages are rendered with the chat template and
// an assistant generation prompt (data's renderer, as in training).
func readPromptRows(path string, tk *data.Tokenizer, tok *tokenizer.Tokenizer) ([]promptRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badInputf("--data: %w", err)
	}
	defer f.Close()
	prefix, _ := tok.SpecialTokensAdded()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	var rows []promptRow
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		if len(text) == 0 {
			continue
		}
		bad := func(field, format string, args ...any) error {
			return badInput(&rowerr.Error{Source: path, Row: line, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil || obj == nil {
			msg := "not a JSON object"
			if err != nil {
				msg += ": " + err.Error()
			}
			return nil, bad("", "%s", msg)
		}
		field := "prompt"
		raw, ok := obj["prompt"]
		if !ok || string(raw) == "null" {
			if raw, ok = obj["messages"]; !ok || string(raw) == "null" {
				return nil, bad("prompt", `missing (want "prompt": text or a list of messages, or "messages")`)
			}
			field = "messages"
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, bad(field, "%v", err)
		}
		r := promptRow{line: line, prompt: compact.Bytes()}
		var ptext string
		if err := json.Unmarshal(raw, &ptext); err == nil {
			if field == "messages" {
				return nil, bad(field, "must be a list of messages, not a string")
			}
			ids := tok.Encode(ptext, false)
			if len(prefix) > 0 && !slices.Equal(ids[:min(len(prefix), len(ids))], prefix) {
				ids = append(slices.Clone(prefix), ids...)
			}
			r.ids = toIDs32(ids)
		} else {
			msgs, err := decodeMessages(raw)
			if err != nil {
				return nil, bad(field, "%v", err)
			}
			if tk.Chat == nil {
				return nil, bad(field, "a list of messages needs a chat template, and --model has none (chat_template.jinja or tokenizer_config.json's chat_template)")
			}
			rendered, err := tk.Chat.Render(msgs, true, nil)
			if err != nil {
				return nil, bad(field, "chat template: %v", err)
			}
			r.ids = toIDs32(tok.Encode(rendered, false)) // the template writes its own special tokens
		}
		if len(r.ids) == 0 {
			return nil, bad(field, "encodes to no tokens")
		}
		for _, name := range copiedFields {
			if v, ok := obj[name]; ok && string(v) != "null" {
				var c bytes.Buffer
				if err := json.Compact(&c, v); err != nil {
					return nil, bad(name, "%v", err)
				}
				r.copied = append(r.copied, copiedField{name, c.Bytes()})
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, badInputf("--data: %s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, badInputf("--data: %s: no prompt rows", path)
	}
	return rows, nil
}

// decodeMessages reads a non-empty list of {"role": string, "content": ...} objects.
func decodeMessages(raw json.RawMessage) ([]map[string]any, error) {
	var msgs []map[string]any
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, errors.New("must be a string or a list of {\"role\", \"content\"} messages")
	}
	if len(msgs) == 0 {
		return nil, errors.New("empty list of messages")
	}
	for i, m := range msgs {
		if m == nil {
			return nil, fmt.Errorf("message %d is not an object", i)
		}
		if _, ok := m["role"].(string); !ok {
			return nil, fmt.Errorf("message %d: \"role\" must be a string", i)
		}
		if _, ok := m["content"]; !ok {
			return nil, fmt.Errorf("message %d: \"content\" is missing", i)
		}
	}
	return msgs, nil
}

func toIDs32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
