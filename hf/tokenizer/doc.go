// Package tokenizer reads a Hugging Face tokenizer.json (plus the optional
// tokenizer_config.json and special_tokens_map.json beside it) and turns text into
// token ids and back, id for id the same as the Hugging Face `tokenizers` library.
//
// Supported: BPE models, both byte-level (GPT-2, Llama-3, Qwen2/2.5: a Split
// pre-tokenizer with the model's regex, then ByteLevel) and SentencePiece-style
// (Llama-2, Mistral: Prepend/Replace normalizers or a Metaspace pre-tokenizer,
// byte_fallback, unk); added tokens with their single_word/lstrip/rstrip/normalized
// flags; NFC/NFD/NFKC/NFKD/Lowercase/Strip/Prepend/Replace normalizers;
// TemplateProcessing/ByteLevel/Roberta/Bert post-processors; ByteLevel, Metaspace,
// Replace, ByteFallback, Fuse and Strip decoders. Anything else is refused at load
// time with an error naming the file and the field, never tokenized approximately.
//
// A tokenizer.json that does not hold together is refused with an error naming
// the field, the token and the id, never encoded approximately: two tokens
// with one id (in model.vocab, or an added token on an id the vocabulary or an
// earlier added token holds), an id far beyond the vocabulary (more than 2**20
// ids left unused), a merge naming a token that is not in the vocabulary, a
// post-processor id that names no token.
//
// The split regexes of the common byte-level tokenizers are run by hand-written
// matchers (Go's regexp has no lookahead); any other regex runs on regexp2.
//
// Speed: pre-tokens are cached (shortCache, wordCache), so text whose words were
// seen before costs the pre-tokenizer and a cache probe. A word seen for the
// first time is merged by mergeSmall (an array of pair ranks rescanned after
// each merge) or, past 32 symbols, by mergeAll's heap, with merges looked up in a
// flat open-addressing mergeTable; with ignore_merges a byte-level word is first
// looked up in rawVocab. On a shared VM cache and TLB misses dominate that path,
// so the structures it touches are kept few and flat.
package tokenizer
