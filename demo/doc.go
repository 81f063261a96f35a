// Package demo is `preftune demo`: a built-in task, its programmatic judge, the shipped
// SFT model and the orchestration that shows DPO doing what it claims, with nothing to
// download.
//
// # The task
//
// Write a number in English words: the prompt "347 in words:" is answered
// " three hundred forty-seven". Numbers 101–999 that are not multiples of 100 also
// have a British spelling, " three hundred and forty-seven", equally correct. The SFT
// data (SFTRows) answers each such number once the American way and three times the
// British way, so the SFT model produces the American form about a quarter of the
// time. The preference data (PreferencePairs, TRL's standard {prompt, chosen,
// rejected} format) prefers the American form. The judge (Score, registered in
// package judge as "number-words") gives 1 only to the prompt's number spelled the
// American way, so a policy that forgets how to count cannot score.
//
// NewSplit divides the 891 two-spelling numbers with a seed into 691 training numbers
// (SFT and DPO) and 200 held-out numbers that neither training set contains; the 108
// one-spelling numbers (1–100, 200, …, 900) are SFT data only.
//
// # The model
//
// assets/model is a 1.9M-parameter Llama (4 layers, hidden 192, 4 heads, FFN 512,
// vocabulary 348 + EOS) with its own byte-level BPE tokenizer (TrainBPE,
// TokenizerFiles: Qwen2's split regex, merges learned on the SFT corpus), trained
// from scratch on the SFT corpus and stored as BF16 safetensors. The binary embeds it.
// demo/scripts/make_model.sh reproduces it; sft_eval.json records its own held-out
// success rate, which the demo's reference must reproduce exactly.
//
// # The run
//
// Run writes the model and the data under the output dir, trains a LoRA adapter with
// sigmoid DPO against the SFT model (adapters off = the reference), and evaluates on
// the held-out prompts: the implicit-reward accuracy on held-out pairs, generations of
// the reference and the policy sampled at temperature 1 with the same per-prompt seeds
// (KV-cache generation, model.Generate), their judged success rates, and the judged
// win rate of the policy against the reference with a bootstrap interval (package
// judge). It writes report.md, results.json, the generations and the trainer's plots.
// Everything is seeded: the same seed gives the same numbers.
//
// The DPO settings (β = 2, learning rate 4e-4, 150 steps of 16 pairs, LoRA r = 8 on
// every linear layer) were chosen on this task, and checked on a second SFT model
// trained by the same recipe. With β of 0.1–0.25 this small model reaches the reward
// margin mostly by lowering the probability of both completions, and its generations
// fall apart (held-out success near 0 with a reward accuracy of 1): DPO's known failure
// when the KL anchor is weak, and the reason the demo judges generations and does not
// stop at reward accuracy. At β = 0.5–1 the policy keeps the preferred spelling but
// loses a few percent of the numbers' content (pushing the British completion down
// also pushes down its number words); β = 2 keeps the content intact.
//
// With a 0/1 judge, ties count ½, so the win rate against a reference that succeeds
// on a fraction s of the prompts is at most 1 − s/2; the SFT model's s ≈ 0.29 allows
// about 0.86.
package demo
