// Independent reference for preftune's DPO tokenization (data.Tokenizer).
//
// Reads the converted rows sampled in data/testdata/golden/*.json (written by
// expected.py from the documented TRL / LLaMA-Factory rules) and tokenizes them with
// tokenizers.js (@huggingface/tokenizers 0.2.0, installed by reference/tokenizer):
//   * plain text (TRL DPOTrainer.tokenize_row): prompt ids = encode(prompt, no special
//     tokens), with the tokenizer's own BOS prefix prepended (what encode(text, true)
//     puts first; legacy TRL's add_bos_token_if_needed); each completion = encode(c) +
//     [eos] unless it already ends with eos;
//   * conversations through Qwen2.5's ChatML template, rendered here by hand (not by a
//     Jinja engine): prompt = render(prompt, generation prompt), completion =
//     render(prompt + completion) minus the rendered prompt, both encoded without
//     special tokens, eos appended to completions as above.
// Writes data/testdata/golden/tokenized.json.
//
// Run from the repository root, after `npm ci` in reference/tokenizer:
//   node reference/data/tokenize_ref.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "../tokenizer/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const GOLDEN = path.join(ROOT, "data", "testdata", "golden");

function loadTokenizer(name) {
  const dir = path.join(ROOT, "testdata", "tokenizers", name);
  const tj = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  return { tok: new Tokenizer(tj, tc), config: tc };
}

const tokenContent = (t) => (t && typeof t === "object" ? t.content : t);

function ids(tok, text, special) {
  return tok.encode(text, { add_special_tokens: special }).ids;
}

// The ids encode(text, true) adds before a text's own ids.
function bosPrefix(tok) {
  const probe = "x";
  const plain = ids(tok, probe, false);
  const withSpecial = ids(tok, probe, true);
  for (let k = 0; k + plain.length <= withSpecial.length; k++) {
    if (plain.every((v, i) => withSpecial[k + i] === v)) return withSpecial.slice(0, k);
  }
  return [];
}

function eosID(m) {
  const eos = tokenContent(m.config.eos_token);
  return m.tok.token_to_id(eos);
}

function completion(m, text) {
  const out = ids(m.tok, text, false);
  const eos = eosID(m);
  if (out.length === 0 || out[out.length - 1] !== eos) out.push(eos);
  return out;
}

function plainRow(m, prompt, chosen, rejected) {
  const pre = bosPrefix(m.tok);
  let p = ids(m.tok, prompt, false);
  if (!pre.every((v, i) => p[i] === v)) p = pre.concat(p);
  return { prompt: p, chosen: completion(m, chosen), rejected: completion(m, rejected) };
}

// Qwen2.5 ChatML, for conversations without tools.
function chatml(messages, addGenerationPrompt) {
  let s = "";
  let rest = messages;
  if (messages.length > 0 && messages[0].role === "system") {
    s += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    rest = messages.slice(1);
  } else {
    s += "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";
  }
  for (const m of rest) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (addGenerationPrompt) s += "<|im_start|>assistant\n";
  return s;
}

function chatRow(m, prompt, chosen, rejected) {
  const p = chatml(prompt, true);
  const split = (c) => {
    const full = chatml(prompt.concat(c), false);
    if (!full.startsWith(p)) throw new Error("ChatML does not round-trip");
    return full.slice(p.length);
  };
  return {
    prompt: ids(m.tok, p, false),
    chosen: completion(m, split(chosen)),
    rejected: completion(m, split(rejected)),
  };
}

function samples(name) {
  const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, name + ".json"), "utf8"));
  return g.entries.filter((e) => e.segments && e.status === "ok" && e.kind === "pair").slice(0, 4);
}

const cases = [];
const plan = [
  ["ultrafeedback_binarized_200", "llama3", "plain"],
  ["hh_rlhf_harmless_200", "llama2", "plain"],
  ["hh_rlhf_harmless_200", "gpt2", "plain"],
  ["dpo_en_demo", "qwen2.5", "chat"],
  ["dpo_zh_demo", "qwen2.5", "chat"],
];
for (const [file, tokName, mode] of plan) {
  const m = loadTokenizer(tokName);
  for (const e of samples(file)) {
    const [p, c, r] = e.segments;
    const res = mode === "plain" ? plainRow(m, p.text, c.text, r.text) : chatRow(m, p.messages, c.messages, r.messages);
    cases.push({ file, row: e.row, tokenizer: tokName, ...res });
  }
}
const out = path.join(GOLDEN, "tokenized.json");
fs.writeFileSync(out, JSON.stringify({ generator: "reference/data/tokenize_ref.mjs", cases }) + "\n");
console.log(`${out}: ${cases.length} rows`);
