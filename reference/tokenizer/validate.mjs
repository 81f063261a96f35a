// Validates the tokenizers.js reference against HF Python vectors in
// testdata/tokenizer-vectors (llama.cpp ggml-vocab-*.inp/.out).
// Usage: node validate.mjs   (exit status 1 if any vector disagrees)
import path from "node:path";
import { REPO_ROOT, loadTokenizer, encode, readVectors, VECTOR_PAIRS } from "./lib.mjs";

let failed = 0;
for (const [vec, name] of VECTOR_PAIRS) {
  const tok = loadTokenizer(name);
  const cases = readVectors(path.join(REPO_ROOT, "testdata", "tokenizer-vectors", vec));
  let pass = 0;
  for (const c of cases) {
    const got = encode(tok, c.text, false);
    if (JSON.stringify(got) === JSON.stringify(c.ids)) {
      pass++;
    } else {
      failed++;
      console.log(`  ${vec}/${name} MISMATCH text=${JSON.stringify(c.text)}\n    want ${JSON.stringify(c.ids)}\n    got  ${JSON.stringify(got)}`);
    }
  }
  console.log(`${vec} <-> ${name}: ${pass}/${cases.length}`);
}
process.exit(failed ? 1 : 0);
