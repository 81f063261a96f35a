// Command mkmodel makes the demo's shipped SFT model (demo/assets/model). It is run by
// demo/scripts/make_model.sh; each step is deterministic for a given seed.
//
//	mkmodel init -out DIR            the SFT corpus (DIR/data/sft.jsonl), the tokenizer and
//	                                 a randomly initialised model (DIR/init)
//	(preftune train demo/scripts/sft.yaml trains DIR/init into DIR/sft)
//	mkmodel ship -from DIR/sft -to demo/assets/model
//	                                 BF16 weights + config + tokenizer, and the held-out
//	                                 success rate of the shipped model (sft_eval.json)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/preftune/preftune/demo"
	"github.com/preftune/preftune/hf/safetensors"
	"github.com/preftune/preftune/hf/tokenizer"
	"github.com/preftune/preftune/kernels/cpu"
	"github.com/preftune/preftune/model"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mkmodel init|ship [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "init":
		err = initCmd(os.Args[2:])
	case "ship":
		err = shipCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown step %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkmodel:", err)
		os.Exit(1)
	}
}

func initCmd(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	out := fs.String("out", "", "work dir")
	seed := fs.Uint64("seed", demo.DefaultSeed, "split, corpus order and init seed")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("init: -out is required")
	}
	split := demo.NewSplit(*seed)
	rows := demo.SFTRows(split, *seed)
	dataDir := filepath.Join(*out, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	if err := demo.WriteJSONL(filepath.Join(dataDir, "sft.jsonl"), rows); err != nil {
		return err
	}
	// the tokenizer learns its merges from the SFT corpus only
	var texts []string
	for _, r := range rows {
		texts = append(texts, r.Prompt, r.Chosen, r.Rejected)
	}
	vocab, merges, err := demo.TrainBPE(texts, 1000)
	if err != nil {
		return err
	}
	initDir := filepath.Join(*out, "init")
	if err := os.MkdirAll(initDir, 0o755); err != nil {
		return err
	}
	tj, cj, err := demo.TokenizerFiles(vocab, merges, 64)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(initDir, "tokenizer.json"), tj, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(initDir, "tokenizer_config.json"), cj, 0o644); err != nil {
		return err
	}
	eos := len(vocab)
	cfg := demo.ModelConfig(len(vocab)+1, eos, "float32")
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(initDir, "config.json"), raw, 0o644); err != nil {
		return err
	}
	arch, err := model.ReadArch(initDir)
	if err != nil {
		return err
	}
	be := cpu.New(0)
	defer be.Close()
	m, err := model.New(arch, be, model.Options{})
	if err != nil {
		return err
	}
	demo.InitWeights(m, 0.02, *seed)
	if err := demo.SaveModel(m, initDir, cfg, safetensors.F32); err != nil {
		return err
	}
	n := 0
	for _, t := range m.Tensors() {
		n += len(t.Data)
	}
	fmt.Printf("init: %d SFT rows, vocabulary %d (+EOS), %d parameters → %s\n", len(rows), len(vocab), n, initDir)
	return nil
}

func shipCmd(args []string) error {
	fs := flag.NewFlagSet("ship", flag.ExitOnError)
	from := fs.String("from", "", "trained model dir (float32)")
	to := fs.String("to", "", "asset dir to write")
	seed := fs.Uint64("seed", demo.DefaultSeed, "split seed (must match init)")
	fs.Parse(args)
	if *from == "" || *to == "" {
		return fmt.Errorf("ship: -from and -to are required")
	}
	be := cpu.New(0)
	defer be.Close()
	m, err := model.Load(*from, be, model.Options{})
	if err != nil {
		return err
	}
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(*from, "config.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	if err := demo.SaveModel(m, *to, cfg, safetensors.BF16); err != nil {
		return err
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if err := copyFile(filepath.Join(*from, f), filepath.Join(*to, f)); err != nil {
			return err
		}
	}
	// the shipped (BF16) model's own held-out success: the number the demo's
	// reference must reproduce
	shipped, err := model.Load(*to, be, model.Options{})
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(*to)
	if err != nil {
		return err
	}
	ev, err := demo.EvaluateSFT(shipped, tok, demo.NewSplit(*seed), demo.DefaultSampling)
	if err != nil {
		return err
	}
	ev.Seed = *seed
	if err := demo.WriteSFTEval(filepath.Join(*to, "sft_eval.json"), ev); err != nil {
		return err
	}
	fmt.Printf("ship: %s: held-out success %.3f (%d prompts), greedy %.3f, content correct %.3f\n", *to, ev.HeldOutSuccess, ev.N, ev.GreedySuccess, ev.ContentCorrect)
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
