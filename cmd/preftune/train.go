package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/preftune/preftune/dist"
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

TRL's forms work too: preftune train --config CONFIG.yaml [--key value ...], and
a documented command of a TRL script (python trl/scripts/kto.py ARGS) is
preftune train --trainer kto ARGS; bare boolean flags (--use_peft) and --no_X work
as in TRL's argument parser.

Outputs in output_dir: the trained model (model.safetensors in the input dtype, or a
PEFT adapter under finetuning_type: lora), trainer_log.jsonl, train_results.json,
checkpoint-N/ every save_steps, and with plot_loss the loss and reward plots.
training_args.yaml is the resolved config (with preftune version's lines); with
do_eval: true, eval_results.json; with report_to: tensorboard, event files under
logging_dir. do_train: false with do_eval: true only evaluates (as preftune eval).

SIGINT (ctrl-C) or SIGTERM: the optimizer step under way is finished, a checkpoint
written, and the run exits 130 / 143 with "stopped at step N; resume with
resume_from_checkpoint: true". A second signal exits at once; the last complete
checkpoint stays intact.

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
	cfg, err = loadRunConfig(args)
	env, launched := dist.FromEnv()
	if err != nil {
		if launched && env.Rank != 0 {
			// Every rank parses the same config: rank 0 says it. MPI is not up yet, so
			// no barrier can order the exits: give rank 0 a moment to print before this
			// rank's non-zero status makes mpirun kill the job.
			time.Sleep(time.Second)
			return quiet{badInput(err)}
		}
		return badInput(err)
	}
	if dryRun {
		return runDryRun(cfg, stdout, stderr)
	}
	if launched {
		return runTrainRank(cfg, env, stderr, stdout)
	}
	terminal := isTerminal(stderr)
	if !cfg.DoTrain {
		return evalOnly(cfg, stdout, stderr, terminal)
	}
	ctx, sig, stop := stopOnSignals(stderr)
	defer stop()
	sum, err := train.Run(ctx, cfg, train.Options{Log: stderr, Terminal: terminal, AfterStep: trainAfterStep})
	var stopped *train.StoppedError
	if errors.As(err, &stopped) {
		return &exitError{code: signalExitCode(sig()), err: err}
	}
	if err != nil {
		return trainError(err)
	}
	fmt.Fprintf(stdout, "trained %s (%.2f epochs), mean loss %.6g; outputs in %s\n", train.Plural(sum.GlobalStep, "step", "steps"), sum.Epoch, sum.TrainLoss, cfg.OutputDir)
	return nil
}

// loadRunConfig reads the config of train or eval from the command's arguments in
// each accepted form — CONFIG.yaml [--key value ...], TRL's --config CONFIG.yaml
// [--key value ...] (trl dpo --config FILE), or flags alone — with extra overrides
// applied after the user's.
func loadRunConfig(args []string, extra ...string) (*config.Loaded, error) {
	if path, rest, ok := trlConfigFlag(args); ok {
		return config.LoadFile(path, append(rest, extra...))
	}
	if strings.HasPrefix(args[0], "-") {
		return config.Parse(nil, append(append([]string{}, args...), extra...))
	}
	return config.LoadFile(args[0], append(append([]string{}, args[1:]...), extra...))
}

// trainError is err of package train as the CLI reports it: a SetupError (the config,
// data or model is wrong) is bad input, exit 2; anything else is internal, exit 1.
func trainError(err error) error {
	var se *train.SetupError
	if errors.As(err, &se) {
		return badInput(err)
	}
	return err
}

// isTerminal reports whether w is a terminal (progress bars redraw in place there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// trlConfigFlag finds TRL's --config FILE (or --config=FILE) among the arguments and
// returns the file and the other arguments.
func trlConfigFlag(args []string) (path string, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if v, found := strings.CutPrefix(a, "--config="); found {
			return v, append(append([]string{}, args[:i]...), args[i+1:]...), true
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1], append(append([]string{}, args[:i]...), args[i+2:]...), true
		}
	}
	return "", nil, false
}
