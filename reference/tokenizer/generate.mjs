// Generates the differential-test goldens in testdata/tokenizer-diff/ for
// preftune's Go tokenizer (hf/tokenizer/differential_test.go).
//
// Reference implementation: @huggingface/tokenizers (tokenizers.js), pinned in
// package.json / package-lock.json. Run `node validate.mjs` first: it checks
// that this reference reproduces the HF Python vectors in
// testdata/tokenizer-vectors.
//
// Usage (from this directory):
//   npm ci && node validate.mjs && node generate.mjs
//
// The string set is drawn deterministically (seeded PRNG, fixed input files),
// so re-running produces byte-identical output.
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT, loadTokenizer, encode, readVectors, VECTOR_PAIRS } from "./lib.mjs";

export const SEED = 20240917;
const OUT_DIR = path.join(REPO_ROOT, "testdata", "tokenizer-diff");
const PREF_DIR = path.join(REPO_ROOT, "testdata", "preferences");
export const TOKENIZERS = ["qwen2.5", "llama3", "llama2", "gpt2", "mistral"];
const MAX_CP = 400; // hard cap on string length in code points

// Target number of strings per category (the hf_vector category adds the 46
// llama.cpp/HF vector strings on top).
const TARGETS = {
  field: 250,
  window: 350,
  code: 260,
  chinese: 250,
  whitespace: 220,
  digits: 220,
  emoji: 170,
  mixed_script: 170,
  contractions: 170,
  special_tokens: 170,
  unicode: 130,
};

// ---------------------------------------------------------------- PRNG
function mulberry32(a) {
  return function () {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = mulberry32(SEED);
const rint = (a, b) => a + Math.floor(rng() * (b - a + 1)); // inclusive
const pick = (arr) => arr[Math.floor(rng() * arr.length)];
const chance = (p) => rng() < p;
const cps = (s) => Array.from(s); // code points

// Random window of a text, cut on code-point boundaries.
function windowOf(text, minLen, maxLen) {
  const c = cps(text);
  const len = Math.min(c.length, rint(minLen, maxLen));
  const start = rint(0, c.length - len);
  return c.slice(start, start + len).join("");
}

// Window length distribution: many short, some long.
function randomLen() {
  const r = rng();
  if (r < 0.25) return [1, 20];
  if (r < 0.75) return [20, 150];
  return [150, 380];
}

// ---------------------------------------------------------------- sources
function readJSONL(file) {
  return fs
    .readFileSync(path.join(PREF_DIR, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}
function readJSON(file) {
  return JSON.parse(fs.readFileSync(path.join(PREF_DIR, file), "utf8"));
}

function collectFields() {
  const out = [];
  for (const d of readJSONL("ultrafeedback_binarized_200.jsonl")) out.push(d.prompt, d.chosen, d.rejected);
  for (const d of readJSONL("hh_rlhf_harmless_200.jsonl")) out.push(d.chosen, d.rejected);
  for (const f of ["llamafactory/dpo_en_demo.json", "llamafactory/dpo_zh_demo.json"]) {
    for (const d of readJSON(f)) {
      for (const m of d.conversations) out.push(m.value);
      out.push(d.chosen.value, d.rejected.value);
    }
  }
  for (const d of readJSON("llamafactory/kto_en_demo.json")) for (const m of d.messages) out.push(m.content);
  return out.filter((s) => typeof s === "string" && s.length > 0);
}

const CJK_RE = /[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/gu;
const cjkRatio = (s) => (s.match(CJK_RE) || []).length / Math.max(1, cps(s).length);

const FIELDS = collectFields();
const SHORT_FIELDS = FIELDS.filter((s) => cps(s).length <= MAX_CP);
const LONG_EN = FIELDS.filter((s) => cps(s).length > MAX_CP && cjkRatio(s) < 0.02);
const ZH = FIELDS.filter((s) => cjkRatio(s) > 0.2);

// Fenced code blocks (```lang\n...\n```), plus their non-blank lines.
const CODE_BLOCKS = [];
for (const f of FIELDS) {
  const re = /```[^\n]*\n([\s\S]*?)```/g;
  let m;
  while ((m = re.exec(f)) !== null) if (m[1].trim() !== "") CODE_BLOCKS.push(m[1]);
}
const CODE_LINES = CODE_BLOCKS.flatMap((b) => b.split("\n")).filter((l) => l.trim().length > 0 && cps(l).length <= MAX_CP);

const WORDS = FIELDS.slice(0, 400)
  .flatMap((s) => s.split(/\s+/))
  .filter((w) => /^[A-Za-z][A-Za-z,.!?;:'"()-]{0,14}$/.test(w));

// ---------------------------------------------------------------- category generators
const gen = {};

gen.field = () => pick(SHORT_FIELDS);

gen.window = () => {
  const [a, b] = randomLen();
  return windowOf(pick(LONG_EN), a, b);
};

gen.code = () => {
  const r = rng();
  if (r < 0.55) return pick(CODE_LINES); // single line, indentation kept
  const lines = pick(CODE_BLOCKS).split("\n");
  const n = rint(2, 10);
  const start = rint(0, Math.max(0, lines.length - n));
  const s = lines.slice(start, start + n).join("\n");
  if (r < 0.9) return s;
  return windowOf(pick(CODE_BLOCKS), 5, 300); // raw window, may cut mid-token
};

gen.chinese = () => {
  const src = pick(ZH);
  const r = rng();
  if (r < 0.35) {
    const lines = src.split("\n").filter((l) => cjkRatio(l) > 0.3);
    if (lines.length) return pick(lines);
  }
  if (r < 0.5 && cps(src).length <= MAX_CP) return src;
  const [a, b] = randomLen();
  return windowOf(src, a, b);
};

const WS_UNITS = [" ", " ", " ", "  ", "   ", "\t", "\t\t", "\n", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r", " \n", "\n ", " \t", "    "];
const WS_FIXED = [
  "", " ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\n\n\n\n", "\r\n", "\r\n\r\n", "\r", " \n", "\n ",
  " \t \n", "\t\n", "\n\t", "Hello world", " Hello world", "Hello world ", "  Hello  world  ", "Hello\n\n\nworld", "Hello\r\nworld",
  "a  b", "a   b", "a\tb", "a \tb", "a\t b", "\n\nHuman: hi\n\nAssistant: hello", "line1\nline2\n", "  indented\n    more\n",
  "trailing   ", "   leading", "x\u00a0y", "x\u3000y", "x\u2003y", "end \n", "  \n  \n", "\t\tdef f():\n\t\t\treturn 1",
  "word\n\n\n\n\n\nword", "a \r\n b", " \r\n", "\r\n ", "Hello   \n   world", "  ", "1 2  3   4",
];
let wsFixedIdx = 0;
gen.whitespace = () => {
  if (wsFixedIdx < WS_FIXED.length) return WS_FIXED[wsFixedIdx++];
  const r = rng();
  if (r < 0.2) {
    // pure whitespace run
    let s = "";
    const n = rint(1, 6);
    for (let i = 0; i < n; i++) s += pick(WS_UNITS);
    return s;
  }
  if (r < 0.5) {
    // window with leading and/or trailing whitespace
    const w = windowOf(pick(FIELDS), 3, 80);
    const lead = chance(0.6) ? pick(WS_UNITS).repeat(rint(1, 3)) : "";
    const trail = chance(0.6) || lead === "" ? pick(WS_UNITS).repeat(rint(1, 3)) : "";
    return lead + w + trail;
  }
  // words joined by random whitespace runs
  const n = rint(2, 10);
  let s = chance(0.3) ? pick(WS_UNITS) : "";
  for (let i = 0; i < n; i++) {
    s += pick(WORDS);
    if (i < n - 1 || chance(0.3)) s += pick(WS_UNITS) + (chance(0.3) ? pick(WS_UNITS) : "");
  }
  return s;
};

const DIGITS_FIXED = [
  "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890", "0", "00", "007", "000000",
  "1,234", "1,234.56", "12,345,678.90", "3.14159", "-42", "+1", "10%", "$1,000,000", "€9.99", "1e10", "6.022e23", "0x1F", "0b1010",
  "v1.2.3", "2024-01-15", "15/01/2024", "01.02.2023", "12:30:45", "2023-11-05T14:30:00Z", "192.168.0.1", "555-123-4567",
  "(555) 123-4567", "1st 2nd 3rd 4th", "Q3 2023", "COVID-19", "3x4=12", "1/2", "½", "3½", "١٢٣٤", "१२३४", "１２３４", "①②③",
  "ⅫⅣ", "²³", "10,000 steps", "in 1999 and 2000", "pi is 3.14159265358979", "999999999999999999999", "1 000 000", "1'000'000",
];
let digFixedIdx = 0;
const DIGIT_SENTENCES = FIELDS.flatMap((s) => {
  const out = [];
  const re = /\d[\d,.:/-]*/g;
  let m;
  let n = 0;
  while ((m = re.exec(s)) !== null && n < 3) {
    out.push([s, m.index]);
    n++;
  }
  return out;
});
gen.digits = () => {
  if (digFixedIdx < DIGITS_FIXED.length) return DIGITS_FIXED[digFixedIdx++];
  const r = rng();
  if (r < 0.25) {
    let s = "";
    const n = rint(1, 30);
    for (let i = 0; i < n; i++) s += String(rint(0, 9));
    return s;
  }
  if (r < 0.5) {
    const y = rint(1900, 2099), mo = rint(1, 12), d = rint(1, 28), n = rint(0, 99999999);
    const p2 = (x) => String(x).padStart(2, "0");
    return pick([
      `${y}-${p2(mo)}-${p2(d)}`,
      `${p2(d)}/${p2(mo)}/${y}`,
      `${n.toLocaleString("en-US")}`,
      `${(n / 100).toFixed(2)}`,
      `$${(n / 100).toLocaleString("en-US", { minimumFractionDigits: 2 })}`,
      `${rint(0, 23)}:${p2(rint(0, 59))}`,
      `${n} items at ${rint(1, 99)}.${p2(rint(0, 99))} each`,
      `Order #${n} shipped on ${y}/${mo}/${d}`,
      `${rint(-500, 500)} ${pick(["kg", "km", "%", "°C", "ms", "GB"])}`,
      `v${rint(0, 20)}.${rint(0, 20)}.${rint(0, 200)}`,
    ]);
  }
  // window around a number found in the data
  const [s, idx] = pick(DIGIT_SENTENCES);
  const c = cps(s.slice(0, idx)).length;
  const all = cps(s);
  const before = rint(0, 40), after = rint(3, 60);
  return all.slice(Math.max(0, c - before), c + after).join("");
};

const EMOJI = [
  "😀", "😂", "🤣", "🥲", "😍", "🤔", "🙏", "👍", "👍🏽", "👋🏿", "💪🏻", "🎉", "🔥", "✨", "❤️", "❤", "💔", "✅", "❌", "⚠️", "🚀",
  "🦙", "🤗", "🐍", "☕", "🌍", "🍕", "🇺🇸", "🇯🇵", "🇨🇳", "🇩🇪", "🇬🇧", "🏳️‍🌈", "🏴‍☠️", "👨‍👩‍👧‍👦", "👩‍💻", "👩🏾‍💻", "🧑‍🤝‍🧑",
  "👨‍❤️‍👨", "🤷‍♂️", "🙋🏼‍♀️", "1️⃣", "#️⃣", "*️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "☺️", "©️", "™", "🫠", "🥹", "🪐", "👁️‍🗨️", "😶‍🌫️", "❤️‍🔥",
];
gen.emoji = () => {
  const r = rng();
  if (r < 0.2) return pick(EMOJI);
  if (r < 0.45) {
    const n = rint(2, 8);
    const sep = pick(["", "", " ", "  ", "\n", ", "]);
    return Array.from({ length: n }, () => pick(EMOJI)).join(sep);
  }
  if (r < 0.6) return pick(EMOJI).repeat(rint(2, 6));
  // emoji inserted into text
  const base = cps(chance(0.2) ? windowOf(pick(ZH), 5, 80) : windowOf(pick(FIELDS), 5, 150));
  const k = rint(1, 3);
  for (let i = 0; i < k; i++) {
    const at = rint(0, base.length);
    base.splice(at, 0, pick(["", " "]) + pick(EMOJI) + pick(["", " ", "!", "."]));
  }
  return base.join("");
};

const SCRIPT_FRAGMENTS = [
  "Hello", "world", "café", "naïve", "Äpfel", "Straße", "façade", "coöperate", "São Paulo", "İstanbul", "ığüşöç", "Tiếng Việt",
  "Привет", "мир", "нещо на Български", "Καλημέρα κόσμε", "λόγος", "مرحبا بالعالم", "السلام عليكم", "שלום עולם", "नमस्ते दुनिया",
  "हिन्दी", "বাংলা", "தமிழ்", "ਪੰਜਾਬੀ", "สวัสดีครับ", "ภาษาไทย", "こんにちは世界", "カタカナ", "ひらがな", "日本語のテキスト", "안녕하세요",
  "한국어", "你好，世界", "中文", "简体字和繁體字", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ꯃꯤꯇꯩ", "∑∫√π≈∞", "€£¥₹₿", "│─┼═╬",
  "ＡＢＣ", "Ｈｅｌｌｏ", "→⇒↔", "«quote»", "„Zitat“", "“smart quotes”", "—", "…", "·", "°", "±", "×÷", "µs", "Ω", "ℕℤℚℝ",
];
gen.mixed_script = () => {
  const n = rint(2, 6);
  const parts = [];
  for (let i = 0; i < n; i++) {
    const r = rng();
    if (r < 0.6) parts.push(pick(SCRIPT_FRAGMENTS));
    else if (r < 0.8) parts.push(windowOf(pick(ZH), 1, 12));
    else parts.push(pick(WORDS));
  }
  const sep = () => pick(["", " ", " ", " ", ", ", "-", "\n", "/", "'"]);
  let s = parts[0];
  for (let i = 1; i < n; i++) s += sep() + parts[i];
  return s;
};

const CONTRACTIONS_FIXED = [
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'Ve", "'rE", "'Ll", "'lL",
  "I'm", "you're", "he's", "it's", "we've", "they'll", "I'd", "don't", "can't", "won't", "shouldn't've", "y'all'd've",
  "I'M", "YOU'RE", "HE'S", "IT'S", "WE'VE", "THEY'LL", "I'D", "DON'T", "CAN'T", "We'Ve", "They'Ll", "She'S",
  "don’t", "it’s", "I’m", "rock 'n' roll", "'tis", "''", "'''", "O'Brien", "the '90s", "'s'", "x's", "'ss", "'lll", " 's",
  "'s's's", "it 's", "it' s", "'", " '", "' ", "'hello'", "\"it's\"", "Bob's and Alice's", "ma'am", "o'clock",
];
let conFixedIdx = 0;
const CONTRACTION_FORMS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
const APOS_SENTENCES = FIELDS.flatMap((s) => {
  const out = [];
  const re = /\w['’]\w/g;
  let m;
  let n = 0;
  while ((m = re.exec(s)) !== null && n < 3) {
    out.push([s, m.index]);
    n++;
  }
  return out;
});
const randCase = (s) => {
  const r = rng();
  if (r < 0.3) return s.toUpperCase();
  if (r < 0.5) return Array.from(s, (ch) => (chance(0.5) ? ch.toUpperCase() : ch.toLowerCase())).join("");
  return s;
};
gen.contractions = () => {
  if (conFixedIdx < CONTRACTIONS_FIXED.length) return CONTRACTIONS_FIXED[conFixedIdx++];
  const r = rng();
  if (r < 0.4) {
    // synthetic sentence with contractions in random case
    const n = rint(1, 5);
    let s = "";
    for (let i = 0; i < n; i++) {
      s += (i ? " " : "") + pick(WORDS).replace(/[^A-Za-z]/g, "") + randCase(pick(CONTRACTION_FORMS));
      if (chance(0.4)) s += " " + pick(WORDS);
    }
    return s;
  }
  // window around an apostrophe in the data, sometimes case-mangled
  const [s, idx] = pick(APOS_SENTENCES);
  const c = cps(s.slice(0, idx)).length;
  const all = cps(s);
  const w = all.slice(Math.max(0, c - rint(0, 40)), c + rint(3, 50)).join("");
  return randCase(w);
};

// Strings of the added/special tokens of the tokenizers under test, plus near
// misses that must NOT be matched as added tokens.
const SPECIAL_STRINGS = [
  "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
  "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_5|>", "<|fim_prefix|>", "<|fim_middle|>", "<tool_call>",
  "</tool_call>", "<|vision_start|>",
];
const SPECIAL_NEAR_MISSES = ["<|im_end", "im_end|>", "<| im_end |>", "< s>", "<S>", "<s >", "<<s>>", "</s", "<|IM_END|>", "<|endoftext", "<|eot_id>", "[INST]", "[/INST]", "<<SYS>>"];
gen.special_tokens = () => {
  const r = rng();
  const tok = () => (chance(0.85) ? pick(SPECIAL_STRINGS) : pick(SPECIAL_NEAR_MISSES));
  if (r < 0.12) return tok();
  if (r < 0.3) {
    // token with surrounding whitespace / doubled
    return pick(["", " ", "  ", "\n", "\t"]) + tok() + pick(["", tok(), " " + tok()]) + pick(["", " ", "\n", "  "]);
  }
  if (r < 0.5) {
    // chat-template-like
    const u = windowOf(pick(FIELDS), 3, 80), a = windowOf(pick(FIELDS), 3, 80);
    return pick([
      `<|im_start|>user\n${u}<|im_end|>\n<|im_start|>assistant\n${a}<|im_end|>`,
      `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${u}<|im_end|>\n`,
      `<s>[INST] ${u} [/INST] ${a}</s>`,
      `<s>[INST] <<SYS>>\n${u}\n<</SYS>>\n\n${a} [/INST]`,
      `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${u}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n${a}<|eot_id|>`,
      `${u}<|endoftext|>${a}`,
      `${u} </s> ${a}`,
      `${u}<unk>${a}`,
    ]);
  }
  // token inserted at random positions of a text window
  const base = cps(windowOf(pick(FIELDS), 5, 150));
  const k = rint(1, 3);
  for (let i = 0; i < k; i++) base.splice(rint(0, base.length), 0, pick(["", " "]) + tok() + pick(["", " ", "\n"]));
  return base.join("");
};

const UNICODE_FIXED = [
  "e\u0301", "cafe\u0301", "A\u030a", "\u212b", "\u2126", "\u1100\u1161\u11a8", "\u1100\u1161", "\uf900", "\uf9d1",
  "n\u0303o", "Z\u0324\u0354\u0367\u0311\u0313", "a\u0308\u0301", "\u0041\u0300\u0323", "\u1e0b\u0323", "\u00c5ngstr\u00f6m",
  "x\u200dy", "x\u200cy", "\u200b", "a\u200bb", "\ufeffBOM", "\ufeff", "\u00a0", "\u2028", "a\u2029b", "a\u0085b", "\u0085",
  "\u0000", "a\u0000b", "\u0001\u0002\u0003", "\u007f", "\u001b[31mred\u001b[0m", "\u00ad", "soft\u00adhyphen", "\ue000\uf8ff",
  "\ufffd", "\ufffc", "\u{1d518}\u{1d52b}\u{1d526}\u{1d520}\u{1d52c}\u{1d521}\u{1d522}", "\u{20000}\u{2a6d6}", "\u{1f600}\u{fe0f}",
  "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd\u200e", "\u0915\u094d\u0937", "\u0e01\u0e33", "\u0f00\u0f01", "\ufb01", "\ufb00",
  "\u2460\u2461", "\u00bd\u00bc", "\u2167", "\u3007", "\uff41\uff42", "\u1e9e", "\u00df", "\u0130", "\u0131", "\u03a3\u03c3\u03c2",
  "\u{10000}", "\u{10ffff}", "\u{e0061}", "\u{1f3fb}", "\u0300", " \u0301", "\u3000\u3000",
];
let uniFixedIdx = 0;
gen.unicode = () => {
  if (uniFixedIdx < UNICODE_FIXED.length) return UNICODE_FIXED[uniFixedIdx++];
  // decomposed (NFD / NFKD-only-compatible) versions of real text windows, or
  // fixed oddities spliced into text
  const w = windowOf(pick(FIELDS.filter((s) => /[\u00c0-\u024f\u1100-\u11ff\uac00-\ud7a3]/.test(s))), 5, 120);
  const r = rng();
  if (r < 0.5) return w.normalize("NFD");
  const base = cps(w);
  base.splice(rint(0, base.length), 0, pick(UNICODE_FIXED));
  return base.join("");
};

// ---------------------------------------------------------------- draw
function isWellFormed(s) {
  return !/[\ud800-\udfff]/u.test(s); // with the u flag only lone surrogates match
}

function drawStrings() {
  const seen = new Set();
  const items = [];
  // HF vector strings first (same .inp for all four pairs).
  const vectors = readVectors(path.join(REPO_ROOT, "testdata", "tokenizer-vectors", VECTOR_PAIRS[0][0]));
  for (const v of vectors) {
    if (seen.has(v.text)) continue;
    seen.add(v.text);
    items.push({ category: "hf_vector", text: v.text });
  }
  for (const [cat, target] of Object.entries(TARGETS)) {
    let n = 0;
    let attempts = 0;
    while (n < target && attempts < target * 50) {
      attempts++;
      const s = gen[cat]();
      if (typeof s !== "string" || cps(s).length > MAX_CP || !isWellFormed(s) || seen.has(s)) continue;
      seen.add(s);
      items.push({ category: cat, text: s });
      n++;
    }
    if (n < target) throw new Error(`category ${cat}: only ${n}/${target} distinct strings`);
  }
  return items;
}

// ---------------------------------------------------------------- main
function addedContents(tok) {
  return Array.from(tok.get_added_tokens_decoder().values()).map((t) => t.content);
}

function main() {
  const items = drawStrings();
  fs.mkdirSync(OUT_DIR, { recursive: true });
  // Special-token golden subset: the first 5 strings of every category (10 of
  // special_tokens).
  const perCat = {};
  const specialItems = items.filter(
    (it) => (perCat[it.category] = (perCat[it.category] || 0) + 1) <= (it.category === "special_tokens" ? 10 : 5),
  );

  // HF Python ids for the hf_vector strings, where a vector file exists.
  const hfIds = {};
  for (const [vec, name] of VECTOR_PAIRS) {
    hfIds[name] = new Map(readVectors(path.join(REPO_ROOT, "testdata", "tokenizer-vectors", vec)).map((v) => [v.text, v.ids]));
  }

  const stats = {
    generator: "reference/tokenizer/generate.mjs",
    reference: "@huggingface/tokenizers@0.2.0",
    seed: SEED,
    counts: {},
    total: items.length,
    special_total: specialItems.length,
    tokenizers: {},
    files: {},
  };
  for (const it of items) stats.counts[it.category] = (stats.counts[it.category] || 0) + 1;

  for (const name of TOKENIZERS) {
    const tok = loadTokenizer(name);
    const added = addedContents(tok);
    // The reference must reproduce HF Python on every vector string, else the
    // goldens for this tokenizer would not be trustworthy.
    let vecPass = 0;
    if (hfIds[name]) {
      for (const [text, want] of hfIds[name]) {
        const got = encode(tok, text, false);
        if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${name}: reference disagrees with HF on ${JSON.stringify(text)}`);
        vecPass++;
      }
    }
    stats.tokenizers[name] = {
      hf_vectors: hfIds[name] ? `${vecPass}/${hfIds[name].size}` : "none available",
      reference_agrees_with_hf_vectors: hfIds[name] ? true : null,
      added_tokens: added.length,
    };
    const write = (file, list, addSpecial) => {
      let decodedDiffers = 0;
      let withAdded = 0;
      const lines = list.map((it) => {
        const ids = encode(tok, it.text, addSpecial);
        if (!addSpecial && it.category === "hf_vector" && hfIds[name]) {
          const want = hfIds[name].get(it.text);
          if (JSON.stringify(want) !== JSON.stringify(ids)) throw new Error(`${name}: hf_vector mismatch`);
        }
        const rec = { category: it.category, text: it.text, ids };
        if (added.some((a) => it.text.includes(a))) {
          rec.contains_added_token = true;
          withAdded++;
        }
        const decoded = ids.length === 0 ? "" : tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
        if (decoded !== it.text) {
          rec.decoded = decoded;
          decodedDiffers++;
        }
        return JSON.stringify(rec);
      });
      fs.writeFileSync(path.join(OUT_DIR, file), lines.join("\n") + "\n");
      stats.files[file] = { lines: list.length, contains_added_token: withAdded, decoded_differs: decodedDiffers };
    };
    write(`${name}.jsonl`, items, false);
    write(`${name}.special.jsonl`, specialItems, true);
  }
  fs.writeFileSync(path.join(OUT_DIR, "manifest.json"), JSON.stringify(stats, null, 2) + "\n");
  console.log(JSON.stringify(stats, null, 2));
}

main();
