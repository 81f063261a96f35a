package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// jsonLine is v as one JSON line (HTML characters unescaped).
func jsonLine(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return b.Bytes(), nil
}

// Headline is the few lines `preftune demo` prints at the end.
func Headline(r *Result, p Paths) string {
	var b strings.Builder
	w := r.WinRate
	fmt.Fprintf(&b, "held-out reward accuracy     %.3f  (%d pairs; mean margin %.3f)\n", r.Rewards.Accuracy, r.HeldOutPairs, r.Rewards.Margin)
	fmt.Fprintf(&b, "win rate, policy vs SFT      %.3f  [%.3f, %.3f] 95%% CI (%d wins, %d ties, %d losses)\n", w.WinRate, w.CILow, w.CIHigh, w.Wins, w.Ties, w.Losses)
	fmt.Fprintf(&b, "judged success, reference    %.3f  (shipped SFT model: %.3f%s)\n", r.RefSuccess, r.ShippedSuccess, unchangedNote(r))
	fmt.Fprintf(&b, "judged success, DPO policy   %.3f\n", r.PolicySuccess)
	fmt.Fprintf(&b, "report: %s (%.0f s)\n", p.Report, r.TotalSeconds)
	return b.String()
}

func unchangedNote(r *Result) string {
	switch {
	case r.RefUnchanged == nil:
		return ", not compared on a reduced run"
	case *r.RefUnchanged:
		return ", unchanged"
	}
	return ", CHANGED"
}

// WriteReport writes report.md: the task, the numbers, examples and the plots the
// trainer drew (PNG files in the DPO output dir).
func WriteReport(p Paths, r *Result) error {
	var b strings.Builder
	w := r.WinRate
	b.WriteString("# preftune demo: DPO on a built-in task\n\n")
	b.WriteString("**Task.** Write a number in English words: `347 in words:` → ` three hundred forty-seven`. ")
	b.WriteString("The British form ` three hundred and forty-seven` is also correct, and the shipped SFT model ")
	fmt.Fprintf(&b, "learned both: its SFT data uses the American form in %.0f%% of the completions. ", 100*SFTAmericanShare)
	b.WriteString("The preference data (chosen: American, rejected: British) asks for the American form. ")
	fmt.Fprintf(&b, "The judge (`%s`, registered in package judge) scores 1 when the completion is the prompt's number ", JudgeName)
	b.WriteString("spelled the American way and 0 otherwise, so a wrong number never counts as success.\n\n")
	fmt.Fprintf(&b, "**Run.** DPO (sigmoid, β = %g) trains a LoRA adapter (r = %d on every linear layer) for %d steps of %d pairs on %d training prompts; ",
		r.Options.Beta, r.Options.LoRARank, r.Options.Steps, r.Options.BatchPairs, r.TrainPairs)
	b.WriteString("the reference is the SFT model itself (the adapters switched off). ")
	fmt.Fprintf(&b, "Evaluation uses %d held-out prompts that neither the SFT nor the DPO data contains; ", r.HeldOutPairs)
	fmt.Fprintf(&b, "both models sample at temperature %g with the same per-prompt seeds. Seed %d; training %.0f s, whole run %.0f s.\n\n",
		r.Options.Sampling.Temperature, r.Options.Seed, r.TrainSeconds, r.TotalSeconds)

	b.WriteString("## Results\n\n| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| held-out reward accuracy (implicit reward of chosen > rejected) | %.3f |\n", r.Rewards.Accuracy)
	fmt.Fprintf(&b, "| held-out mean reward margin | %.3f (chosen %.3f, rejected %.3f) |\n", r.Rewards.Margin, r.Rewards.Chosen, r.Rewards.Rejected)
	fmt.Fprintf(&b, "| judged win rate, policy vs reference | %.3f, 95%% CI [%.3f, %.3f] (%d wins, %d ties, %d losses; bootstrap %d) |\n",
		w.WinRate, w.CILow, w.CIHigh, w.Wins, w.Ties, w.Losses, w.Bootstrap)
	fmt.Fprintf(&b, "| judged success, reference (SFT) | %.3f (shipped model's own measurement: %.3f%s) |\n", r.RefSuccess, r.ShippedSuccess, unchangedNote(r))
	fmt.Fprintf(&b, "| judged success, DPO policy | %.3f |\n", r.PolicySuccess)
	fmt.Fprintf(&b, "| right number in either spelling, reference / policy | %.3f / %.3f |\n\n", r.RefCorrect, r.PolicyCorrect)
	b.WriteString("A win is a prompt where the policy's completion scores higher than the reference's; equal scores are ties (½). ")
	b.WriteString("With a 0/1 judge the win rate is at most 1 − (reference success)/2.\n\n")

	b.WriteString("![held-out success](heldout_success.png)\n\n")
	b.WriteString("## Examples (held-out prompts)\n\n| prompt | reference | policy |\n|---|---|---|\n")
	for _, e := range r.Examples {
		fmt.Fprintf(&b, "| `%s` | `%s` %s | `%s` %s |\n", e.Prompt, strings.TrimSpace(e.Reference), mark(e.RefScore), strings.TrimSpace(e.Policy), mark(e.PolScore))
	}
	b.WriteString("\n")

	var plots []string
	if ents, err := os.ReadDir(p.DPO); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".png") {
				plots = append(plots, e.Name())
			}
		}
	}
	if len(plots) > 0 {
		b.WriteString("## Training curves\n\n")
		for _, f := range plots {
			rel := filepath.ToSlash(filepath.Join(filepath.Base(p.DPO), f))
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(f, ".png"), rel)
		}
	}
	b.WriteString("## Files\n\n")
	for _, f := range [][2]string{
		{p.SFTModel, "the shipped SFT model (reference and starting point)"},
		{p.Train, "DPO training pairs (TRL standard format)"},
		{p.HeldOut, "held-out pairs"},
		{p.DPO, "the trained LoRA adapter (PEFT format), trainer_log.jsonl, plots"},
		{p.Eval, "reference.jsonl and policy.jsonl: the judged generations (`preftune judge` reads them)"},
		{p.Results, "every number above, as JSON"},
	} {
		rel, err := filepath.Rel(p.Out, f[0])
		if err != nil {
			rel = f[0]
		}
		fmt.Fprintf(&b, "- `%s`: %s\n", filepath.ToSlash(rel), f[1])
	}
	return writeFileAtomic(p.Report, []byte(b.String()))
}

func mark(score float64) string {
	if score > 0 {
		return "✓"
	}
	return "✗"
}
