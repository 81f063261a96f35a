package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
	"io"
	"os"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/train"
)

const logpsUsage = `usage: preftune logps --model DIR [--adapter DIR] --data FILE --out FILE.jsonl [--batch-size N]

Computes, for every preference pair of FILE, the log-probabilities of the chosen and the
rejected completion given the prompt: next-token log-probs summed over completion tokens
only (prompt and padding masked), as TRL's DPOTrainer computes them. FILE is JSON Lines
with pre-tokenized rows {"prompt_input_ids": [...], "chosen_input_ids": [...],
"rejected_input_ids": [...]}. The output has one line per input row, in input order:
{"chosen_logps": f, "rejected_logps": f, "chosen_tokens": n, "rejected_tokens": n}.
It is written atomically: on any error no output file is left behind.

--model is a Hugging Face dir (config.json + safetensors); --adapter a PEFT LoRA adapter
dir (adapter_config.json + adapter_model.safetensors) applied on top of it.

flags:
`

func init() {
	register(&command{
		name:    "logps",
		summary: "log-probs of the chosen/rejected completions of pre-tokenized pairs",
		run:     runLogps,
	})
}

// tokenPair is one pre-tokenized preference row.
type tokenPair struct {
	Prompt   []int32 `json:"prompt_input_ids"`
	Chosen   []int32 `json:"chosen_input_ids"`
	Rejected []int32 `json:"rejected_input_ids"`
	line     int
}

type logpsRow struct {
	ChosenLogps    float64 `json:"chosen_logps"`
	RejectedLogps  float64 `json:"rejected_logps"`
	ChosenTokens   int     `json:"chosen_tokens"`
	RejectedTokens int     `json:"rejected_tokens"`
}

func runLogps(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("logps", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, logpsUsage)
		fs.PrintDefaults()
	}
	modelDir := fs.String("model", "", "Hugging Face model dir (config.json + model.safetensors)")
	adapterDir := fs.String("adapter", "", "PEFT LoRA adapter dir (optional)")
	dataPath := fs.String("data", "", "pre-tokenized preference pairs (JSON Lines)")
	outPath := fs.String("out", "", "output JSON Lines file")
	batchSize := fs.Int("batch-size", 8, "pairs per forward pass")
	threads := fs.Int("threads", 0, "worker threads (0 = all cores)")
	computeDType := computeDTypeFlag(fs)
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	baseFromAdapter(modelDir, *adapterDir, stderr)
	switch {
	case fs.NArg() > 0:
		return badInputf("unexpected argument %q", fs.Arg(0))
	case *modelDir == "":
		return badInputf("--model is required")
	case *dataPath == "":
		return badInputf("--data is required")
	case *outPath == "":
		return badInputf("--out is required")
	case *batchSize <= 0:
		return badInputf("--batch-size: %d must be positive", *batchSize)
	}
	if err := resolveHubArgs(stderr, hubArg{"model", modelDir, "model", ""}, hubArg{"adapter", adapterDir, "adapter", ""}); err != nil {
		return err
	}
	if err := model.CheckNotAdapter(*modelDir); err != nil {
		return badInputf("--model: %w", err)
	}
	arch, err := model.ReadArch(*modelDir)
	if err != nil {
		return badInputf("--model: %w", err)
	}
	pairs, err := readTokenPairs(*dataPath, &arch)
	if err != nil {
		return badInput(err)
	}
	be, err := openBackend(*threads)
	if err != nil {
		return err
	}
	defer be.Close()
	mopt, err := inferenceOptions(*computeDType)
	if err != nil {
		return err
	}
	tokens, rows := busiestPairBatch(pairs, *batchSize)
	m, err := loadModelFor(be, *modelDir, *adapterDir, mopt, tokens, rows, 0)
	if err != nil {
		return err
	}
	results, err := computeLogps(m, pairs, *batchSize, *dataPath)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, r := range results {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding a result: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(*outPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d rows to %s\n", len(results), *outPath)
	return nil
}

// readTokenPairs reads and validates every row before any compute, so a bad row stops
// the command before it writes anything. Errors read FILE:ROW: field: message, rows
// numbered from 1 (the line number).
func readTokenPairs(path string, arch *model.Arch) ([]tokenPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var pairs []tokenPair
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(text, &raw); err != nil {
			return nil, fmt.Errorf("%s:%d: invalid JSON: %v", path, line, err)
		}
		p := tokenPair{line: line}
		for _, fld := range []struct {
			name string
			dst  *[]int32
		}{{"prompt_input_ids", &p.Prompt}, {"chosen_input_ids", &p.Chosen}, {"rejected_input_ids", &p.Rejected}} {
			v, ok := raw[fld.name]
			if !ok {
				return nil, fmt.Errorf("%s:%d: %s: missing (want pre-tokenized rows with prompt_input_ids, chosen_input_ids, rejected_input_ids)", path, line, fld.name)
			}
			if err := json.Unmarshal(v, fld.dst); err != nil {
				return nil, fmt.Errorf("%s:%d: %s: want a list of token ids: %v", path, line, fld.name, err)
			}
		}
		if err := checkPair(&p, arch); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		pairs = append(pairs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return pairs, nil
}

func checkPair(p *tokenPair, a *model.Arch) error {
	if len(p.Prompt) == 0 {
		return errors.New("prompt_input_ids: empty (the first completion token needs a prompt token to be predicted from)")
	}
	for _, f := range []struct {
		name string
		ids  []int32
	}{{"prompt_input_ids", p.Prompt}, {"chosen_input_ids", p.Chosen}, {"rejected_input_ids", p.Rejected}} {
		for i, id := range f.ids {
			if id < 0 || int(id) >= a.Vocab {
				return fmt.Errorf("%s[%d]: token id %d outside the vocabulary [0,%d)", f.name, i, id, a.Vocab)
			}
		}
		if f.name == "prompt_input_ids" {
			continue
		}
		if len(f.ids) == 0 {
			return fmt.Errorf("%s: empty completion", f.name)
		}
		if n := len(p.Prompt) + len(f.ids); n > a.MaxPos {
			return fmt.Errorf("%s: prompt + completion is %d tokens, longer than max_position_embeddings %d", f.name, n, a.MaxPos)
		}
	}
	return nil
}

// computeLogps runs the pairs batch by batch in TRL's concatenated layout (the chosen
// rows, then the rejected rows) and sums the completion log-probs of each row.
func computeLogps(m *model.Model, pairs []tokenPair, batchSize int, path string) ([]logpsRow, error) {
	out := make([]logpsRow, 0, len(pairs))
	mp := make([]model.Pair, 0, batchSize)
	for start := 0; start < len(pairs); start += batchSize {
		chunk := pairs[start:min(start+batchSize, len(pairs))]
		mp = mp[:0]
		for _, p := range chunk {
			mp = append(mp, model.Pair{Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected})
		}
		sums, err := train.SequenceLogProbs(m, model.PairGroups(mp), model.ForwardOptions{Eval: true})
		if err != nil {
			var re *rowerr.Error
			if errors.As(err, &re) && re.Row >= 1 && re.Row <= len(chunk) {
				c := chunk[re.Row-1]
				return nil, badInputf("%s:%d: %v", path, c.line, re.Err)
			}
			return nil, err
		}
		n := len(chunk)
		for i, p := range chunk {
			out = append(out, logpsRow{ChosenLogps: sums[i], RejectedLogps: sums[n+i], ChosenTokens: len(p.Chosen), RejectedTokens: len(p.Rejected)})
		}
	}
	return out, nil
}
