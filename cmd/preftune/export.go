package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/preftune/preftune/train"
)

const exportUsage = `usage: preftune export --model DIR --adapter DIR --out DIR

Merges a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as
preftune train writes under finetuning_type: lora) into its base model and writes the
merged model to --out: model.safetensors (sharded past 5 GB) in the base model's dtype,
config.json and the tokenizer files. Every file is written atomically.

flags:
`

func init() {
	register(&command{name: "export", summary: "merge a LoRA adapter into its base model", run: runExport})
}

func runExport(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, exportUsage)
		fs.PrintDefaults()
	}
	modelDir := fs.String("model", "", "base model dir")
	adapterDir := fs.String("adapter", "", "PEFT LoRA adapter dir")
	out := fs.String("out", "", "output dir for the merged model")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	baseFromAdapter(modelDir, *adapterDir, stderr)
	switch {
	case fs.NArg() > 0:
		return badInputf("unexpected argument %q", fs.Arg(0))
	case *modelDir == "":
		return badInputf("--model is required")
	case *adapterDir == "":
		return badInputf("--adapter is required")
	case *out == "":
		return badInputf("--out is required")
	}
	if err := resolveHubArgs(stderr, hubArg{"model", modelDir, "model", ""}, hubArg{"adapter", adapterDir, "adapter", ""}); err != nil {
		return err
	}
	if err := train.Export(*modelDir, *adapterDir, *out); err != nil {
		var we *train.WriteError
		if errors.As(err, &we) {
			return err // the disk, not the input: exit 1
		}
		return badInput(err)
	}
	fmt.Fprintf(stdout, "merged %s into %s: %s\n", *adapterDir, *modelDir, *out)
	return nil
}
