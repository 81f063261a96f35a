package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/preftune/preftune/hf/chattemplate"
	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/model"
)

const generateUsage = `usage: preftune generate --model DIR [--adapter DIR] (--prompt TEXT | --messages FILE)
                        [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]
       preftune generate --model DIR [--adapter DIR] --data prompts.jsonl --out gens.jsonl
                        [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S] [--batch-size B]

Continues a prompt with a Hugging Face causal LM (optionally with a PEFT LoRA adapter),
using a KV cache: one pass over the prompt, then one incremental step per token. With
--temperature 0 (the default) it decodes greedily; otherwise it samples from
softmax(logits/T), restricted to the top-p nucleus when --top-p < 1, with a seeded
stream (the same seed gives the same text). Generation stops at the tokenizer's EOS
token or after --max-new-tokens tokens. The continuation is printed to stdout; with
--json, one object {"prompt", "completion", "token_ids", "stopped"}.

--prompt is encoded as the tokenizer does with special tokens (e.g. Llama's BOS);
--messages is a JSON array of {"role", "content"} messages rendered with the model's
chat template and an assistant generation prompt.

--data reads JSON Lines prompt rows, {"prompt": TEXT} or {"prompt": [messages]} (or
{"messages": [...]}), the latter rendered with the chat template as in training, and
writes one row per prompt to --out (atomically, in input order):
{"prompt", "completion", "token_ids", "stopped"} plus the row's "reference", "answer"
and "id" fields, which is what ` + "`preftune judge`" + ` reads. Prompts run --batch-size at a time
through one batched KV cache; row i samples from a stream of (--seed, i), so the
output does not depend on --batch-size. Without --max-new-tokens each row stops at
the end of the model's context at the latest.

flags:
`

func init() {
	register(&command{
		name:    "generate",
		summary: "generate text from a model (and LoRA adapter) with a KV cache: greedy or top-p sampling",
		run:     runGenerate,
	})
}

func runGenerate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, generateUsage)
		fs.PrintDefaults()
	}
	modelDir := fs.String("model", "", "Hugging Face model dir (config.json, safetensors, tokenizer.json)")
	adapterDir := fs.String("adapter", "", "PEFT LoRA adapter dir (optional)")
	prompt := fs.String("prompt", "", "prompt text")
	messagesPath := fs.String("messages", "", "JSON file: an array of {\"role\", \"content\"} messages (uses the chat template)")
	maxNew := fs.Int("max-new-tokens", 64, "tokens to generate at most (by default no further than the model's context)")
	temperature := fs.Float64("temperature", 0, "sampling temperature (0: greedy)")
	topP := fs.Float64("top-p", 1, "nucleus sampling mass in (0,1] (1: off)")
	seed := fs.Uint64("seed", 0, "sampling seed")
	asJSON := fs.Bool("json", false, "print a JSON object instead of the text")
	threads := fs.Int("threads", 0, "worker threads (0 = all cores)")
	computeDType := computeDTypeFlag(fs)
	dataPath := fs.String("data", "", "JSONL prompt rows to generate for (batch mode; needs --out)")
	outPath := fs.String("out", "", "JSONL file the --data generations are written to")
	batchSize := fs.Int("batch-size", 8, "prompts decoded together with --data")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	baseFromAdapter(modelDir, *adapterDir, stderr)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	promptSet := set["prompt"]
	switch {
	case fs.NArg() > 0:
		return badInputf("unexpected argument %q", fs.Arg(0))
	case *modelDir == "":
		return badInputf("--model is required")
	case *dataPath != "" && (promptSet || *messagesPath != ""):
		return badInputf("give exactly one of --prompt, --messages and --data")
	case *dataPath == "" && *outPath != "":
		return badInputf("--out is for --data (batch mode); single prompts print to stdout")
	case *dataPath == "" && set["batch-size"]:
		return badInputf("--batch-size is for --data (batch mode)")
	case *dataPath == "" && promptSet == (*messagesPath != ""):
		return badInputf("give exactly one of --prompt and --messages (or --data for a file of prompts)")
	case *maxNew <= 0:
		return badInputf("--max-new-tokens: %d must be positive", *maxNew)
	case !(*temperature >= 0):
		return badInputf("--temperature: %v must be ≥ 0", *temperature)
	case !(*topP > 0 && *topP <= 1):
		return badInputf("--top-p: %v must be in (0,1]", *topP)
	}
	if err := resolveHubArgs(stderr, hubArg{"model", modelDir, "model", ""}, hubArg{"adapter", adapterDir, "adapter", ""}); err != nil {
		return err
	}
	if err := model.CheckNotAdapter(*modelDir); err != nil {
		return badInputf("--model: %w", err)
	}
	if *dataPath != "" {
		return runGenerateData(generateDataArgs{
			modelDir: *modelDir, adapterDir: *adapterDir, data: *dataPath, out: *outPath,
			maxNew: *maxNew, maxNewSet: set["max-new-tokens"], temperature: *temperature, topP: *topP,
			seed: *seed, batchSize: *batchSize, threads: *threads, computeDType: *computeDType,
		}, stdout)
	}
	tok, err := tokenizer.Load(*modelDir)
	if err != nil {
		return badInputf("--model: %w", err)
	}
	text := *prompt
	addSpecial := true
	if *messagesPath != "" {
		messages, err := readJSONArray(*messagesPath, "messages")
		if err != nil {
			return err
		}
		for i, m := range messages {
			if _, ok := m.(*chattemplate.Dict); !ok {
				return badInputf("%s: message %d is not a JSON object", *messagesPath, i)
			}
		}
		tpl, err := chattemplate.Load(*modelDir)
		if err != nil {
			return badInputf("--model: %w", err)
		}
		if text, err = tpl.RenderValues(messages, chattemplate.RenderOptions{AddGenerationPrompt: true}); err != nil {
			return badInputf("%s: %w", *messagesPath, err)
		}
		addSpecial = false // the template writes its own special tokens
	}
	ids := tok.Encode(text, addSpecial)
	if len(ids) == 0 {
		return badInputf("the prompt encodes to no tokens")
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
	// the preflight: the prompt's forward and a KV cache for prompt and new tokens
	m, err := loadModelFor(be, *modelDir, *adapterDir, mopt, len(ids), 0, len(ids)+*maxNew)
	if err != nil {
		return err
	}
	if tok.VocabSize() > m.Arch().Vocab {
		return badInputf("--model: the tokenizer has %d tokens, the model's vocabulary only %d", tok.VocabSize(), m.Arch().Vocab)
	}
	if room := m.Arch().MaxPos - len(ids) + 1; !set["max-new-tokens"] && *maxNew > room && room > 0 {
		*maxNew = room // the default stops at the end of the model's context
	}
	if n := len(ids) + *maxNew - 1; n > m.Arch().MaxPos {
		return badInputf("the prompt (%d tokens) plus --max-new-tokens %d exceeds the model's max_position_embeddings %d", len(ids), *maxNew, m.Arch().MaxPos)
	}
	p32 := make([]int32, len(ids))
	for i, id := range ids {
		p32[i] = int32(id)
	}
	gopt := model.GenerateOptions{MaxNewTokens: *maxNew, Temperature: *temperature, TopP: *topP, Seed: *seed}
	if eos, ok := tok.EOS(); ok {
		gopt.StopIDs = []int32{int32(eos)}
	}
	g, err := m.Generate(p32, gopt, nil)
	if err != nil {
		return badInput(err)
	}
	out := make([]int, len(g.IDs))
	for i, id := range g.IDs {
		out[i] = int(id)
	}
	completion := tok.Decode(out, true)
	if !*asJSON {
		_, err := fmt.Fprintln(stdout, completion)
		return err
	}
	raw, err := json.Marshal(map[string]any{"prompt": text, "completion": completion, "token_ids": g.IDs, "stopped": g.Stopped})
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", raw)
	return err
}
