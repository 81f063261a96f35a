// Package report writes what a training run tells its user: trainer_log.jsonl (one
// JSON object per logged step with TRL's metric names; evaluation lines carry the
// eval_ prefix), the loss and reward plots LLaMA-Factory's plot_loss draws
// (training_loss.png, training_rewards_accuracies.png, training_rewards_margins.png,
// PNG via gonum.org/v1/plot), and a progress display: a bar with step/s, loss and ETA
// when the output is a terminal, plain lines otherwise.
//
// Every file is written atomically (a temporary file in the same directory, fsync,
// rename); the log is appended one whole line per write and rewritten atomically
// when a run resumes from a checkpoint.
package report
