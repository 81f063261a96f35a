// Package report writes what a training run tells its user: trainer_log.jsonl (one
// JSON object per logged step with TRL's metric names; evaluation lines carry the
// eval_ prefix), the loss and reward plots LLaMA-Factory's plot_loss draws
// (training_loss.png, training_rewards_accuracies.png, training_rewards_margins.png,
// PNG via gonum.org/v1/plot), and a progress display.
//
// Plots are Figures: the legend is drawn in a strip outside the data area (right of
// a curve, below a bar chart) and Render returns the Layout, so tests check that the
// legend never covers data; axes use NiceTicks (1-2-5 steps) and end on a tick.
//
// Progress prints one line per logging step (loss, learning rate, reward accuracy
// and margin, gradient norm, elapsed, ETA) and one per evaluation (every eval_
// metric). On a terminal a status line (step, loss, speed, ETA; no speed before the
// first step) is redrawn below those lines, which are never erased; Activity shows
// evaluation and reference precompute in the same place. TrainableParams is PEFT's
// print_trainable_parameters line.
//
// Every file is written atomically (a temporary file in the same directory, fsync,
// rename); the log is appended one whole line per write and rewritten atomically
// when a run resumes from a checkpoint.
package report
