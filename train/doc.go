// Package train is preftune's training loop: `preftune train config.yaml`.
//
// Run loads the policy (and, per the reference strategy, a reference), reads and
// tokenizes the dataset with TRL's conventions, and for every optimizer step runs
// gradient_accumulation_steps micro-batches:
//
//  1. the reference log-probs of each sequence: a separate ref_model, the policy with
//     its LoRA adapters disabled, a cache computed once before training
//     (precompute_ref_log_probs), or none (reference_free, ORPO, SimPO, SFT);
//  2. one policy forward over the concatenated [chosen; rejected] rows, summed into
//     per-sequence log-probs (model.Forward);
//  3. the loss (package loss) and its gradient with respect to each sequence sum;
//  4. per-token gradients — every completion token of sequence i gets
//     w·∂L/∂(sum_i), w = pairs in the micro-batch / pairs in the optimizer step, so the
//     accumulated gradient is that of the mean loss over all pairs of the step (TRL's
//     loss/gradient_accumulation_steps when micro-batches are equal) — and
//     model.Backward.
//
// Then the global gradient norm (NaN/Inf stops the run naming the step and the first
// non-finite tensor), clipping to max_grad_norm, the AdamW or SGD update with the
// learning rate of the schedule (transformers' get_scheduler formulas), logging
// (trainer_log.jsonl with TRL's names, averaged over the logging interval as TRL
// does), evaluation, TR-DPO reference syncing and checkpoints.
//
// stage: rm (TRL's RewardTrainer) replaces steps 2–4: the same [chosen; rejected] rows
// with one loss row each, the last non-padding token; the final-norm hidden state there
// (model.FinalHidden) times score.weight (model.ValueHead, trained with the decoder in
// one optimizer) is the reward; the Bradley–Terry loss (center_rewards_coefficient)
// goes back through the head and model.BackwardHidden. Outputs are a
// *ForSequenceClassification model dir (num_labels 1), or a PEFT SEQ_CLS adapter with
// the head under modules_to_save (base_model.model.score.weight).
//
// stage: kto lays out each micro-batch's examples and then its KL rows (prompt i with
// the completion of example i−1, TRL's mismatched pairs), whose log-ratios give the
// detached baseline. LiPO (lipo_listmle, lipo_lambda) lays out the K responses of each
// list as K rows (every list of a run has the same K) and gives each response its own
// gradient. use_weighting (WPO) asks the engine for log Σp² per completion token
// (ForwardOptions.LogSumP2) and weights each pair by clamp(exp(w_c + w_r), max=1).
//
// Everything is deterministic given the seed: data order is a function of (seed,
// epoch), LoRA init and dropout of the seed, and the kernels are deterministic, so the
// same config gives bit-identical weights. A checkpoint holds float32 weights, the
// optimizer moments, the scheduler step, the data position and the LoRA dropout stream; resuming from it
// continues bit for bit as if never stopped.
//
// Around the loop (stop.go, tensorboard.go, evalonly.go): the resolved config is saved
// as output_dir/training_args.yaml; report_to tensorboard mirrors every log entry to
// an event file (package report/tensorboard) under logging_dir; a context cancelled
// with cause ErrStopRequested (the CLI's SIGINT/SIGTERM) ends the run after the step
// under way with a checkpoint and a *StoppedError, while any other cancellation stops
// between steps as a kill would; do_eval: true evaluates the trained policy into
// eval_results.json, and Evaluate is the evaluation-only run (do_train: false).
package train
