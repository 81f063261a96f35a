package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/term"

	"github.com/preftune/preftune/train"
	"github.com/preftune/preftune/train/config"
)

const trainUsage = `usage: preftune train CONFIG.yaml [--key value ...]
       preftune train --help-config

Trains a Hugging Face causal LM with DPO (or a relative: the loss_type list, ORPO,
SimPO, KTO, SFT) as TRL's DPOTrainer and LLaMA-Factory's stage: dpo do, from a YAML
file in their vocabulary. --key value (or --key=value) overrides a key of the file;
lists are written "a,b" or "[a, b]". Unknown keys are errors. The resolved config is
printed first.

Outputs in output_dir: the trained model (model.safetensors in the input dtype, or a
PEFT adapter under finetuning_type: lora), trainer_log.jsonl, train_results.json,
checkpoint-N/ every save_steps, and with plot_loss the loss and reward plots.

--dry-run reads and checks the config, the data and the checkpoint headers and prints
the memory estimate (exit 2 when the run cannot fit), without loading weights or
touching output_dir. Every run prints the same estimate before loading the model.
`

func init() {
	register(&command{
		name:    "train",
		summary: "train a model with DPO and its family from a TRL/LLaMA-Factory style YAML config",
		run:     runTrain,
	})
}

func runTrain(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, trainUsage)
		return badInputf("a config file is required")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, trainUsage)
		return nil
	case "--help-config":
		fmt.Fprintln(stdout, "config keys (aliases in parentheses):")
		config.WriteKeys(stdout)
		return nil
	}
	args, dryRun := cutDryRun(args)
	var (
		cfg *config.Loaded
		err error
	)
	if len(args) == 0 {
		return badInputf("a config file is required")
	}
	if strings.HasPrefix(args[0], "-") {
		cfg, err = config.Parse(nil, args)
	} else {
		cfg, err = config.LoadFile(args[0], args[1:])
	}
	if err != nil {
		return badInput(err)
	}
	if dryRun {
		return runDryRun(cfg, stdout, stderr)
	}
	terminal := false
	if f, ok := stderr.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := train.Run(ctx, cfg, train.Options{Log: stderr, Terminal: terminal})
	if err != nil {
		var se *train.SetupError
		if errors.As(err, &se) {
			return badInput(err)
		}
		return err
	}
	fmt.Fprintf(stdout, "trained %d steps (%.2f epochs), mean loss %.6g; outputs in %s\n", sum.GlobalStep, sum.Epoch, sum.TrainLoss, cfg.OutputDir)
	return nil
}
