package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/preftune/preftune/rowerr"
	"io"
	"math"

	"github.com/preftune/preftune/atomicfile"

	"github.com/preftune/preftune/data"
	"github.com/preftune/preftune/kernels"
	"github.com/preftune/preftune/model"
	"github.com/preftune/preftune/preflight"
	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

const scoreUsage = `usage: preftune score --model DIR (--ref-model DIR | --adapter DIR) --data FILE [--beta B] [--out FILE.jsonl]

Scores responses with DPO's implicit reward r = beta·(log πθ(y|x) − log πref(y|x)), the
log-probs summed over the response tokens. The policy πθ is --model, or --model with the
PEFT --adapter on top; the reference πref is --ref-model, or --model with the adapter
disabled. FILE is any dataset preftune reads (TRL standard/conversational, implicit
prompt, pre-tokenized, unpaired {prompt, completion, label}, listwise, LLaMA-Factory).
One JSON line per example, in input order:
  pairs:    {"row", "chosen_reward", "rejected_reward", "margin", "p_chosen", "chosen_logps", ...}
            where p_chosen = σ(chosen_reward − rejected_reward), the Bradley–Terry
            probability that chosen is preferred;
  unpaired: {"row", "reward", "logps", "ref_logps", "label"};
  listwise: {"row", "rewards", "logps", "ref_logps"}.
Text is tokenized with the tokenizer and chat template of --tokenizer (default --model).
For pairs, the last line on stderr is the mean reward accuracy (chosen reward >
rejected) and mean margin. Without --beta, β is read from the training_args.yaml of
the adapter (or, with --ref-model, of --model: a fully fine-tuned output_dir) — beta or
pref_beta; for a checkpoint-N dir, the run dir's — when present, else 0.1.

flags:
`

func init() {
	register(&command{
		name:    "score",
		summary: "implicit DPO reward beta·(log πθ − log πref) of responses, and P(chosen ≻ rejected)",
		run:     runScore,
	})
}

// scoredSeq is one (prompt, completion) to score, pointing back at its example.
type scoredSeq struct {
	example, completion int
	seq                 promptCompletion
}

func runScore(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("score", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, scoreUsage)
		fs.PrintDefaults()
	}
	modelDir := fs.String("model", "", "policy: Hugging Face model dir")
	refDir := fs.String("ref-model", "", "reference: a separate Hugging Face model dir")
	adapterDir := fs.String("adapter", "", "policy = --model + this PEFT LoRA adapter; reference = --model alone")
	dataPath := fs.String("data", "", "dataset to score")
	datasetDir := fs.String("dataset-dir", "", "LLaMA-Factory dataset_dir (for dataset names)")
	tokDir := fs.String("tokenizer", "", "tokenizer dir (default: --model)")
	beta := fs.Float64("beta", 0.1, "DPO beta (default: the adapter's training_args.yaml beta/pref_beta when present, else 0.1)")
	outPath := fs.String("out", "", "output JSON Lines file (default: stdout)")
	batchSize := fs.Int("batch-size", 8, "sequences per forward pass")
	maxLength := fs.Int("max-length", 0, "truncate prompt+response to this many tokens (TRL max_length; 0: no limit), as train does")
	truncation := fs.String("truncation-mode", config.Default().TruncationMode, "with --max-length: keep_start or keep_end, as train's truncation_mode")
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
	case (*refDir == "") == (*adapterDir == ""):
		return badInputf("give exactly one of --ref-model and --adapter (the reference is the model without the adapter)")
	case *batchSize <= 0:
		return badInputf("--batch-size: %d must be positive", *batchSize)
	case *beta <= 0 || math.IsNaN(*beta) || math.IsInf(*beta, 0):
		return badInputf("--beta: %v must be positive", *beta)
	}
	if err := resolveHubArgs(stderr, hubArg{"model", modelDir, "model", ""}, hubArg{"ref-model", refDir, "model", ""},
		hubArg{"adapter", adapterDir, "adapter", ""}, hubArg{"tokenizer", tokDir, "tokenizer", ""}, hubArg{"data", dataPath, "data", *datasetDir}); err != nil {
		return err
	}
	if err := model.CheckNotAdapter(*modelDir); err != nil {
		return badInputf("--model: %w", err)
	}
	if *tokDir == "" {
		*tokDir = *modelDir
	}
	betaFrom := "--beta"
	if !flagSet(fs, "beta") {
		betaFrom = "default"
		trained, flagName := *adapterDir, "--adapter"
		if trained == "" {
			trained, flagName = *modelDir, "--model" // a fully fine-tuned output_dir
		}
		{
			b, from, ok, err := adapterBeta(trained)
			if err != nil {
				return badInputf("%s: %w", flagName, err)
			}
			if ok {
				*beta, betaFrom = b, "from "+from
			}
		}
	}

	ds, err := data.Load(*dataPath, data.Options{DatasetDir: *datasetDir, Policy: data.PolicyStrict, Hub: hubSplitFiles(stderr)})
	if err != nil {
		return badInput(err)
	}
	tok, err := scoreTokenizer(*tokDir, ds.Examples, lengthRule(*maxLength, 0, 0, *truncation, false))
	if err != nil {
		return badInputf("--tokenizer %s: %w", *tokDir, err)
	}
	tks, trep, err := tok.TokenizeAll(ds.Examples, data.PolicyStrict)
	if err != nil {
		return badInput(err)
	}
	if err := reportDropped(stderr, trep, len(tks), "--max-length"); err != nil {
		return err
	}
	if tks, err = skipEmptyPrompts(stderr, tks); err != nil {
		return err
	}
	if len(tks) == 0 {
		return badInputf("--data %s: no examples to score", *dataPath)
	}

	be, err := openBackend(*threads)
	if err != nil {
		return err
	}
	defer be.Close()
	tokens, rows := busiestScoreBatch(tks, *batchSize)
	policy, ref, err := loadScoreModels(be, *modelDir, *refDir, *adapterDir, *computeDType, tokens, rows)
	if err != nil {
		return err
	}

	var seqs []scoredSeq
	for i, tk := range tks {
		for j, c := range tk.Completions {
			seqs = append(seqs, scoredSeq{example: i, completion: j, seq: promptCompletion{prompt: tk.PromptIDs, completion: c}})
		}
	}
	logps, err := sequenceLogProbs(policy, seqs, *batchSize, model.ForwardOptions{Eval: true}, tks)
	if err != nil {
		return err
	}
	refModel, refOpt := ref, model.ForwardOptions{Eval: true}
	if ref == nil {
		refModel, refOpt.NoAdapters = policy, true
	}
	refLogps, err := sequenceLogProbs(refModel, seqs, *batchSize, refOpt, tks)
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	k := 0
	var sum pairSummary
	for _, tk := range tks {
		n := len(tk.Completions)
		row := scoreRow(tk, *beta, logps[k:k+n], refLogps[k:k+n])
		if c, ok := row["chosen_reward"].(float64); ok {
			sum.add(c, row["rejected_reward"].(float64))
		}
		k += n
		if err := enc.Encode(row); err != nil {
			return fmt.Errorf("encoding row %d: %w", tk.Row, err)
		}
	}
	if *outPath == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return err
		}
	} else {
		if err := atomicfile.WriteFile(*outPath, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "scored %d examples into %s\n", len(tks), *outPath)
	}
	sum.write(stderr, *beta, betaFrom)
	return nil
}

// scoreTokenizer loads the text tokenizer; pre-tokenized data needs none.
func scoreTokenizer(dir string, exs []data.Example, opts data.TokenizeOptions) (*data.Tokenizer, error) {
	tok, err := data.LoadTokenizer(dir, opts)
	if err == nil {
		return tok, nil
	}
	for _, ex := range exs {
		if ex.Kind != data.KindPretokenized {
			return nil, err
		}
	}
	return &data.Tokenizer{Opts: opts}, nil
}

// loadScoreModels loads the policy and, with --ref-model, the reference (nil when the
// reference is the policy with its adapter disabled).
func loadScoreModels(be kernels.Backend, modelDir, refDir, adapterDir, computeDType string, tokens, rows int) (policy, ref *model.Model, err error) {
	mopt, err := inferenceOptions(computeDType)
	if err != nil {
		return nil, nil, err
	}
	if policy, err = loadModelFor(be, modelDir, adapterDir, mopt, tokens, rows, 0); err != nil || adapterDir != "" {
		return policy, nil, err
	}
	pol, err := checkMemoryBeside("--model", modelDir, mopt, tokens, rows, 0, preflight.Estimate{})
	if err != nil {
		return nil, nil, err
	}
	if _, err := checkMemoryBeside("--ref-model", refDir, mopt, tokens, rows, 0, pol); err != nil {
		return nil, nil, err
	}
	mopt.Frozen, mopt.MaxTokens = true, tokens
	if ref, err = model.Load(refDir, be, mopt); err != nil {
		return nil, nil, badInputf("--ref-model: %w", err)
	}
	if pa, ra := policy.Arch(), ref.Arch(); pa.Vocab != ra.Vocab {
		return nil, nil, badInputf("--ref-model: vocabulary %d differs from --model's %d", ra.Vocab, pa.Vocab)
	}
	return policy, ref, nil
}

// promptCompletion is one scored sequence's tokens.
type promptCompletion struct{ prompt, completion []int32 }

// sequenceLogProbs returns Σ log p(completion token | prefix) for every sequence,
// batch by batch. A bad sequence (id outside the vocabulary, too long) becomes an
// error naming its example's file and row.
func sequenceLogProbs(m *model.Model, seqs []scoredSeq, batchSize int, opt model.ForwardOptions, tks []data.Tokenized) ([]float64, error) {
	out := make([]float64, 0, len(seqs))
	groups := make([]model.Group, 0, batchSize)
	for start := 0; start < len(seqs); start += batchSize {
		chunk := seqs[start:min(start+batchSize, len(seqs))]
		groups = groups[:0]
		for i, s := range chunk {
			groups = append(groups, model.Group{Prompt: s.seq.prompt, Completions: [][]int32{s.seq.completion}, Seqs: []int32{int32(i)}})
		}
		sums, err := train.SequenceLogProbs(m, groups, opt)
		if err != nil {
			var re *rowerr.Error
			if errors.As(err, &re) && re.Row >= 1 && re.Row <= len(chunk) {
				c := chunk[re.Row-1]
				tk := tks[c.example]
				return nil, badInputf("%s:%d: completion %d: %v", tk.Source, tk.Row, c.completion+1, re.Err)
			}
			return nil, err
		}
		out = append(out, sums...)
	}
	return out, nil
}

// scoreRow is one output line: rewards r = beta·(logps − ref_logps) per completion.
func scoreRow(tk data.Tokenized, beta float64, logps, refLogps []float64) map[string]any {
	rewards := make([]float64, len(logps))
	for i := range logps {
		rewards[i] = beta * (logps[i] - refLogps[i])
	}
	row := map[string]any{"row": tk.Row}
	switch tk.Kind {
	case data.KindPair, data.KindPretokenized:
		margin := rewards[0] - rewards[1]
		row["chosen_reward"], row["rejected_reward"], row["margin"] = rewards[0], rewards[1], margin
		row["p_chosen"] = 1 / (1 + math.Exp(-margin))
		row["chosen_logps"], row["rejected_logps"] = logps[0], logps[1]
		row["ref_chosen_logps"], row["ref_rejected_logps"] = refLogps[0], refLogps[1]
	case data.KindUnpaired:
		row["reward"], row["logps"], row["ref_logps"], row["label"] = rewards[0], logps[0], refLogps[0], tk.Label
	default:
		row["rewards"], row["logps"], row["ref_logps"] = rewards, logps, refLogps
	}
	return row
}
