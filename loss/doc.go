// Package loss is preftune's preference-loss family: pure functions from per-sequence
// log-probabilities (sums over completion tokens) to a loss value, its gradient with respect to
// those sums, and the metrics TRL logs.
//
// # Contract with the trainer
//
// A loss never sees the model. The trainer runs the policy (and the reference) forward, sums the
// completion-token log-probs of every sequence into a Batch, calls Compute (or Combine for a
// loss_type list with loss_weights), and turns each ∂Loss/∂(sequence sum) of the Result into a
// per-token gradient weight for model.Backward: every completion token of chosen sequence i
// gets DPolicyChosen[i]. With LD-DPO (Params.LDAlpha) the tokens past the shared length
// min(ChosenTokens[i], RejectedTokens[i]) get DPolicyChosenTail[i] on top (the trainer also
// passes the tail sums in the Batch). Losses on mean log-probs divide by the token counts
// themselves, so this rule never changes. DRef* gradients exist for testing; the reference is
// frozen. WPO weights (use_weighting) and KTO's KL baseline are constants, as in TRL.
//
// Result.Loss is the mean over the micro-batch's pairs (examples, lists); gradient accumulation
// across micro-batches belongs to the trainer.
//
// # Losses
//
// Names are TRL's loss_type spellings; each function's comment has its formula, the TRL file it
// follows and any version difference. "mean" means the loss uses log-probs divided by the
// completion length (clamped at 1 token), "sum" the summed log-probs; ε is label_smoothing.
//
//	name               trainer (TRL)          log-probs         reference  label_smoothing ε
//	sigmoid            DPOTrainer             sum               yes        cDPO: flip probability (TRL v0.2x form)
//	hinge              DPOTrainer             sum               yes        —
//	ipo                DPOTrainer             mean (scores/T)   yes        —
//	exo_pair           DPOTrainer             sum               yes        EXO's ε ∈ (0,1); 0 → 1e-3
//	nca_pair           DPOTrainer             sum               yes        —
//	robust             DPOTrainer             sum               yes        noise rate, < 0.5
//	bco_pair           DPOTrainer             sum               yes        —
//	sppo_hard          DPOTrainer             sum               yes        —
//	aot, aot_unpaired  DPOTrainer             sum, batch-sorted yes        cDPO flip probability
//	apo_zero, apo_down DPOTrainer             sum               yes        —
//	discopop           DPOTrainer             sum               yes        — (discopop_tau)
//	sigmoid_norm       DPOTrainer             mean (scores/T)   yes        —
//	sft                DPOTrainer             token-mean NLL    no         — (rpo_alpha adds it)
//	kto                KTOTrainer (unpaired)  sum               yes        — (KL baseline detached)
//	apo_zero_unpaired  KTOTrainer (unpaired)  sum               yes        —
//	orpo               ORPOTrainer            mean + NLL        no         —
//	cpo                CPOTrainer "sigmoid"   sum + NLL         no         cDPO flip probability
//	simpo              CPOTrainer "simpo"     mean + NLL        no         cDPO flip probability
//	lipo_listmle       LiPO paper (no TRL)    sum, K per list   yes        —
//	lipo_lambda        LiPO paper (no TRL)    sum, K per list   yes        —
//	bradley_terry      RewardTrainer          scalar rewards    no         — (margin, center coef.)
//
// The DPO-family losses (the first block) also take f_divergence_type, ld_alpha,
// use_weighting and rpo_alpha, and can be mixed with Combine. LLaMA-Factory's stage/pref_loss
// map onto these names: dpo+sigmoid/hinge/ipo → the same names, orpo → orpo, simpo → simpo
// (with CPOAlpha = pref_ftx), kto → kto, rm → bradley_terry.
//
// # Tests
//
// loss_test.go has one table row per loss. Each row checks the value, the metrics and the
// per-token gradients of every golden case of that loss against loss/testdata/goldens.json,
// written by reference/loss/gen_goldens.py (an independent PyTorch transcription of TRL's code,
// gradients by autograd), and checks every gradient entry against a float64 central difference.
package loss
