// Package data turns preference datasets into training examples.
//
// It reads the files users already have — JSON arrays, JSON Lines and Parquet
// (optionally gzip-compressed), a directory of such files, or several datasets
// separated by commas — in the formats of TRL and LLaMA-Factory, and converts every
// row into one canonical [Example]:
//
//   - TRL standard ({prompt, chosen, rejected} strings) and conversational (lists of
//     {role, content} messages);
//   - TRL implicit prompt ({chosen, rejected} only): the prompt is the longest common
//     prefix, as trl.data_utils.extract_prompt computes it; Anthropic hh-rlhf
//     transcripts are cut at the last "\n\nAssistant:" so the completion is the final
//     assistant turn;
//   - TRL pre-tokenized ({prompt,chosen,rejected}_input_ids), unpaired/KTO
//     ({prompt, completion, label}) and listwise ({prompt, responses, scores|ranking});
//   - LLaMA-Factory alpaca and sharegpt rows (ranking and KTO), either through a
//     dataset_info.json registry (dataset names, columns and tags, as
//     llamafactory/data/parser.py reads them) or detected from the row keys.
//
// Every problem names its place as file:row:field (see [RowError]). Rows are
// numbered from 1: the line number in JSON Lines, the element number in a JSON array,
// the row number in Parquet. Depending on [Options.Policy] an invalid row either
// stops loading or is recorded in the [Report] and skipped. Rows that LLaMA-Factory
// itself would skip (broken role order, wrong message count) are always skipped and
// recorded as dropped with LLaMA-Factory's reason. Nothing a file contains makes the
// package panic.
//
// The second half of the package turns examples into token ids ([Tokenizer], [Pair])
// with TRL's DPOTrainer conventions — chat templates applied as
// maybe_apply_chat_template does, EOS appended to completions, max_length /
// max_prompt_length / max_completion_length / truncation_mode — and lays pairs out as
// padded or packed batches ([Batches], [BuildBatch]) with labels, positions and
// segment ids. [Convert] writes examples back out as TRL, LLaMA-Factory or
// pre-tokenized files.
//
// The tests compare against independent readings made by reference/data (a Python
// re-implementation of the TRL and LLaMA-Factory rules, tokenizers.js for token ids);
// see reference/data/README.md.
package data
