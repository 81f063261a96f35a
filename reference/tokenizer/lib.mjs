// Shared helpers for the tokenizer reference scripts.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export function loadTokenizer(name) {
  const dir = path.join(REPO_ROOT, "testdata", "tokenizers", name);
  const tj = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  return new Tokenizer(tj, tc);
}

export function encode(tok, text, addSpecialTokens) {
  return tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
}

// Reads a llama.cpp ggml vocab test pair (.inp/.out).
export function readVectors(base) {
  const inp = fs.readFileSync(base + ".inp", "utf8");
  const pieces = inp.split("\n__ggml_vocab_test__\n");
  pieces.pop();
  const outLines = fs.readFileSync(base + ".out", "utf8").split("\n");
  if (outLines[outLines.length - 1] === "") outLines.pop();
  if (outLines.length !== pieces.length) throw new Error(`${base}: ${pieces.length} inputs, ${outLines.length} outputs`);
  return pieces.map((text, i) => ({
    text,
    ids: outLines[i].trim() === "" ? [] : outLines[i].trim().split(/\s+/).map(Number),
  }));
}

export const VECTOR_PAIRS = [
  ["qwen2", "qwen2.5"],
  ["llama-bpe", "llama3"],
  ["llama-spm", "llama2"],
  ["gpt-2", "gpt2"],
];
