// Package loss is preftune's preference-loss family: pure functions from per-sequence
// log-probabilities (sums over completion tokens) to a loss value, its gradient with respect to
// those sums, and the metrics TRL logs.
//
// A loss never sees the model. The trainer runs the policy (and the reference) forward, sums the
// completion-token log-probs of every sequence into a Batch, calls Compute (or Combine for a
// loss_type list), and turns each ∂Loss/∂(sequence sum) in the Result into a per-token
// gradient weight for model.Backward: every completion token of sequence i gets weight
// DPolicyChosen[i] (and, with LD-DPO, tokens past the shared length get DPolicyChosenTail[i]
// on top). Losses that use mean log-probs divide by the token counts themselves, so the
// trainer's rule never changes.
//
// Losses are looked up by TRL's loss_type names (Names lists them); each loss's doc comment
// gives its formula, the TRL file it follows, and which TRL version where versions differ.
// Every loss is checked in loss_test.go against goldens made by reference/loss/gen_goldens.py
// (an independent PyTorch transcription with autograd gradients) and against float64 central
// differences.
package loss
