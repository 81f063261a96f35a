// Package config is the configuration of `preftune train`: one YAML file plus
// `--key value` overrides, in the vocabulary users already write for TRL's DPOConfig
// (and the transformers TrainingArguments under it) and for LLaMA-Factory's
// `stage: dpo` YAML files.
//
// Every key is declared once in a table (name, aliases, help). Parsing is strict: an
// unknown key is an error that lists the closest known names, a value of the wrong
// type names its key and line, and Validate checks ranges and combinations.
//
// Defaults follow TRL's current DPOConfig (beta 0.1, learning_rate 1e-6,
// logging_steps 10, max_length 1024, truncation keep_start, ref_model_mixup_alpha 0.6,
// ref_model_sync_steps 512) over TrainingArguments (AdamW β 0.9/0.999, ε 1e-8, linear
// schedule, max_grad_norm 1, 3 epochs, batch 8, seed 42). When the file sets
// LLaMA-Factory's `stage`, LLaMA-Factory's defaults apply instead where they differ
// (learning_rate 5e-5 and logging_steps 500 from TrainingArguments, cutoff_len 2048,
// finetuning_type lora, lora_rank 8, lora_alpha 2·rank, lora_target all, plot_loss).
//
// A few keys exist in those files only to steer hardware or services that a
// single-process CPU trainer does not have (bf16, ddp_timeout,
// preprocessing_num_workers, ...). They are accepted so that existing files run
// unchanged, and Resolved lists them as having no effect.
package config
