package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

const evalUsage = `usage: preftune eval CONFIG.yaml [--key value ...]
       preftune eval --config CONFIG.yaml [--key value ...]

Evaluation only: the config of preftune train with do_train: false and do_eval: true
(which this command sets). The policy — model_name_or_path, with adapter_name_or_path
on top under finetuning_type: lora — and its reference are run over eval_dataset (or
the val_size part of dataset that training holds out) with the training loss, and
output_dir/eval_results.json gets TRL's eval_loss, eval_rewards/chosen, /rejected,
/accuracies, /margins, eval_logps/chosen, /rejected, eval_logits/chosen, /rejected
(the metrics the loss reports), eval_runtime and eval_samples_per_second. Nothing
else in output_dir is changed. The metrics are also printed, one per line.
To evaluate a fully fine-tuned model, set ref_model to its base model (without it the
reference is the evaluated model itself and every reward is 0).
`

func init() {
	register(&command{
		name:    "eval",
		summary: "evaluate a model (or model + adapter) on the eval split: eval_results.json with TRL's metric names",
		run:     runEval,
	})
}

func runEval(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, evalUsage)
		return badInputf("a config file is required")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, evalUsage)
		return nil
	}
	cfg, err := loadRunConfig(args, "--do_train", "false", "--do_eval", "true")
	if err != nil {
		return badInput(err)
	}
	return evalOnly(cfg, stdout, stderr, isTerminal(stderr))
}

// evalOnly runs train.Evaluate and prints the metrics ("key: value", sorted).
func evalOnly(cfg *config.Loaded, stdout, stderr io.Writer, terminal bool) error {
	ctx, _, stop := stopOnSignals(stderr)
	defer stop()
	vals, err := train.Evaluate(ctx, cfg, train.Options{Log: stderr, Terminal: terminal})
	if err != nil {
		return trainError(err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "%s: %.6g\n", k, vals[k])
	}
	return nil
}
