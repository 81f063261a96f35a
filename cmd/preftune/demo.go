package main

import (
	"fmt"
	"io"
	"os"

	"github.com/preftune/preftune/demo"
)

const demoUsage = `usage: preftune demo [--out DIR] [--seed N]

Runs preftune's pipeline end to end on a built-in task, with nothing to download:
the shipped SFT model (a 1.9M-parameter Llama trained from scratch by
demo/scripts/make_model.sh) writes numbers in English words, using the preferred
American spelling ("three hundred forty-seven") only about a quarter of the time and
the British one ("three hundred and forty-seven") otherwise. The demo writes the
preference data, trains a LoRA adapter with DPO against the SFT model as reference,
then evaluates both on held-out prompts: reward accuracy on held-out pairs, and the
judged win rate and success rates of sampled generations. It writes report.md (numbers
and training plots) and results.json under --out and prints the headline numbers.
The same seed gives the same numbers.

flags:
`

func init() {
	register(&command{
		name:    "demo",
		summary: "run the built-in DPO demo end to end (SFT model → DPO → judged evaluation)",
		run:     runDemo,
	})
}

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage)
		fs.PrintDefaults()
	}
	out := fs.String("out", "preftune-demo", "output dir")
	seed := fs.Uint64("seed", demo.DefaultSeed, "seed of the data split, LoRA init, data order and sampling")
	steps := fs.Int("steps", 0, "DPO optimizer steps (0: the demo's default)")
	heldOut := fs.Int("heldout", 0, "evaluate only this many held-out prompts (0: all)")
	bf16 := fs.Bool("bf16", false, "train the DPO adapter on a bf16 base with bf16 products (torch_dtype: bfloat16, bf16: true)")
	if helped, err := parseFlags(fs, args); helped || err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return badInputf("unexpected argument %q", fs.Arg(0))
	case *out == "":
		return badInputf("--out must not be empty")
	case *seed == 0:
		return badInputf("--seed must be positive")
	case *steps < 0:
		return badInputf("--steps: %d must not be negative", *steps)
	case *heldOut < 0:
		return badInputf("--heldout: %d must not be negative", *heldOut)
	}
	res, err := demo.Run(demo.Options{Out: *out, Seed: *seed, Steps: *steps, HeldOut: *heldOut, BF16: *bf16, Log: stdout, Terminal: demoTerminal(stdout)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s", demo.Headline(res, demo.PathsFor(*out)))
	return nil
}

// demoTerminal says whether w is a character device (a terminal).
func demoTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
