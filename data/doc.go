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
// Bad input, and how it is reported (each one an invalid row, the next rows still
// read, so one pass lists every problem):
//
//   - malformed JSON: the field where the syntax breaks (or the one being read when
//     the line ends); a JSON array is split into elements by bracket depth before
//     decoding, so a malformed element does not hide the ones after it — only a broken
//     array structure (no comma between elements, no closing bracket) stops reading;
//   - a missing column, null, a wrong type (a number where text is expected), an empty
//     completion, a message with an unknown role: the field, with what was expected;
//     a row holding only part of a layout's keys ({prompt, chosen}) is read as that
//     layout so the missing key is named;
//   - chosen == rejected: a warning (ErrIdentical); [Options.DropIdentical] skips the
//     pair (the CLI does by default);
//   - text that is not UTF-8 (encoding/json would silently turn it into U+FFFD): the
//     field and column of the first bad byte ([ErrInvalidUTF8]); Parquet strings are
//     checked the same way;
//   - a row over [Options.MaxRowBytes] ([DefaultMaxRowBytes], 16 MiB): the field in
//     which the limit was crossed ([ErrTooLarge]). The rest of the row is read and
//     discarded, so a 50 MB field costs at most the limit in memory. Parquet columns
//     are decoded by parquet-go a page at a time, so there the limit applies to each
//     string after decoding;
//   - a Parquet file whose schema does not fit (a number column where text is
//     expected, a missing column): the row and column, like the JSON errors.
//
// Data preparation around the loaders: [PairsFromRatings] turns per-response aspect
// ratings (UltraFeedback's raw layout, HelpSteer) into pairs (the scoring rules are
// at the top of ratings.go), and [Sample] draws a sample with per-language ratios
// ([DetectLanguage] says how a row's language is decided) after removing exact
// duplicates.
//
// The second half of the package turns examples into token ids ([Tokenizer], [Pair])
// with TRL's DPOTrainer conventions — chat templates applied as
// maybe_apply_chat_template does, EOS appended to completions, max_length /
// max_prompt_length / max_completion_length / truncation_mode. Laying them out as
// batches is the model package's one batcher (model.BuildBatch). [Convert] writes examples back out as TRL, LLaMA-Factory or
// pre-tokenized files.
//
// The tests compare against independent readings made by reference/data (a Python
// re-implementation of the TRL and LLaMA-Factory rules, tokenizers.js for token ids);
// see reference/data/README.md.
//
// The Parquet reader (read_parquet.go) is left out of a build tagged
// preftune_noparquet, which only the fuzz campaign uses (see the Makefile's fuzz
// target): such a build refuses .parquet files with an error saying so.
package data
