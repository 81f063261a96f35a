// Cross-checks the goldens of the byte-level BPE tokenizers (gpt2, llama3,
// qwen2.5) against a second, independent implementation: OpenAI's tiktoken
// (Rust core compiled to WASM, regex via fancy-regex), fed with ranks built
// from each tokenizer.json (rank = token id, bytes = byte-level-decoded token)
// and the tokenizer's own pre-tokenizer regex. For qwen2.5 the text is NFC
// normalized first (its tokenizer.json normalizer).
//
// Usage: node crosscheck.mjs [--write-exclusions]
// Prints agreement counts; lists every disagreement. Exit status 1 if any.
import fs from "node:fs";
import path from "node:path";
import { Tiktoken } from "tiktoken/lite";
import { REPO_ROOT } from "./lib.mjs";

// GPT-2 bytes_to_unicode table, inverted.
function unicodeToBytes() {
  const bs = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const m = new Map();
  bs.forEach((b, i) => m.set(String.fromCodePoint(cs[i]), b));
  return m;
}
const U2B = unicodeToBytes();

const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

function buildEncoder(name) {
  const tj = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "testdata", "tokenizers", name, "tokenizer.json"), "utf8"));
  const lines = [];
  for (const [tok, id] of Object.entries(tj.model.vocab)) {
    const bytes = Array.from(tok, (ch) => {
      const b = U2B.get(ch);
      if (b === undefined) throw new Error(`${name}: token ${JSON.stringify(tok)} is not byte-level`);
      return b;
    });
    lines.push(`${Buffer.from(bytes).toString("base64")} ${id}`);
  }
  const specials = {};
  for (const t of tj.added_tokens) specials[t.content] = t.id;
  let pat = GPT2_PATTERN;
  const pre = tj.pre_tokenizer;
  if (pre.type === "Sequence") pat = pre.pretokenizers.find((p) => p.type === "Split").pattern.Regex;
  const nfc = tj.normalizer && tj.normalizer.type === "NFC";
  const enc = new Tiktoken(lines.join("\n"), specials, pat);
  return { enc, nfc };
}

const td = new TextDecoder("utf-8", { ignoreBOM: true }); // replaces invalid sequences with U+FFFD, like from_utf8_lossy
let total = 0;
let bad = 0;
const dir = path.join(REPO_ROOT, "testdata", "tokenizer-diff");
for (const name of ["gpt2", "llama3", "qwen2.5"]) {
  const { enc, nfc } = buildEncoder(name);
  for (const file of [`${name}.jsonl`, `${name}.special.jsonl`]) {
    const special = file.endsWith(".special.jsonl");
    let ok = 0;
    let n = 0;
    for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
      if (!line) continue;
      const rec = JSON.parse(line);
      n++;
      const text = nfc ? rec.text.normalize("NFC") : rec.text;
      const got = Array.from(enc.encode(text, "all"));
      const dec = td.decode(enc.decode(Uint32Array.from(rec.ids)));
      if (JSON.stringify(got) === JSON.stringify(rec.ids) && dec === (rec.decoded ?? rec.text)) {
        ok++;
      } else {
        bad++;
        console.log(`  ${file} [${rec.category}] ${JSON.stringify(rec.text).slice(0, 200)}\n    golden   ${JSON.stringify(rec.ids)}\n    tiktoken ${JSON.stringify(got)}\n    decoded  ${JSON.stringify(dec)}`);
      }
    }
    total += n;
    console.log(`${file}: tiktoken agrees (encode and decode) on ${ok}/${n}${special ? " (no special tokens are added by these post-processors)" : ""}`);
  }
  enc.free();
}
process.exit(bad ? 1 : 0);
