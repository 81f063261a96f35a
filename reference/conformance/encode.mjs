// Tokenizes strings with tokenizers.js (@huggingface/tokenizers 0.2.0, installed by
// `npm ci` in reference/tokenizer): the independent tokenizer behind
// reference/conformance/tokens_ref.py. Reads {"tokenizer": DIR, "requests": [[text,
// add_special_tokens], ...]} on stdin, writes {"ids": [[...], ...], "special": {token:
// id}} on stdout (special: the ids of the added tokens, for template slots such as
// {"bos_token"}).
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "../tokenizer/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs";

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const tj = JSON.parse(fs.readFileSync(path.join(input.tokenizer, "tokenizer.json"), "utf8"));
const tc = JSON.parse(fs.readFileSync(path.join(input.tokenizer, "tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(tj, tc);
const ids = input.requests.map(([text, special]) => tok.encode(text, { add_special_tokens: special }).ids);
const special = {};
for (const t of tj.added_tokens || []) special[t.content] = tok.token_to_id(t.content);
// decode(encode("")): the text the post-processor puts around a text, for
// LLaMA-Factory's parse_template.
const emptyIds = tok.encode("", { add_special_tokens: true }).ids;
const empty = emptyIds.length ? tok.decode(emptyIds, { skip_special_tokens: false }) : "";
process.stdout.write(JSON.stringify({ ids, special, empty }));
