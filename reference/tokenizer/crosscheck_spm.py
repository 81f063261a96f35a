#!/usr/bin/env python3
"""Cross-checks the llama2 / mistral goldens with a small, independent
(stdlib-only) re-implementation of the Hugging Face `tokenizers` pipeline
those two tokenizer.json files use:

  added-token extraction (non-normalized tokens on the raw text, normalized
  tokens on the normalized pieces, patterns normalized too, leftmost-longest)
  -> normalizer Sequence[Prepend("▁"), Replace(" ", "▁")] per piece
  -> no pre-tokenizer
  -> BPE with merges by priority, byte_fallback (<0xXX>) for unknown chars
  -> TemplateProcessing ("<s>" $A) when add_special_tokens.

Usage: python3 crosscheck_spm.py    (exit status 1 on any disagreement)
"""
import heapq
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class SPMBPE:
    def __init__(self, name):
        with open(os.path.join(ROOT, "testdata", "tokenizers", name, "tokenizer.json"), encoding="utf-8") as f:
            tj = json.load(f)
        m = tj["model"]
        assert m["type"] == "BPE" and m["byte_fallback"]
        self.vocab = m["vocab"]
        merges = [tuple(x.split(" ", 1)) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        self.ranks = {p: i for i, p in enumerate(merges)}
        norms = tj["normalizer"]["normalizers"]
        assert [n["type"] for n in norms] == ["Prepend", "Replace"]
        self.prepend = norms[0]["prepend"]
        self.rep_from, self.rep_to = norms[1]["pattern"]["String"], norms[1]["content"]
        self.added_raw = {}
        self.added_norm = {}
        for t in tj["added_tokens"]:
            assert not (t["lstrip"] or t["rstrip"] or t["single_word"])
            if t["normalized"]:
                self.added_norm[self.normalize(t["content"])] = t["id"]
            else:
                self.added_raw[t["content"]] = t["id"]
        post = tj["post_processor"]
        self.prefix = [tj["added_tokens"][[a["content"] for a in tj["added_tokens"]].index(s["SpecialToken"]["id"])]["id"]
                       for s in post["single"] if "SpecialToken" in s]
        self.cache = {}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        for t in tj["added_tokens"]:
            self.id_to_token[t["id"]] = t["content"]
        decs = [d["type"] for d in tj["decoder"]["decoders"]]
        assert decs == ["Replace", "ByteFallback", "Fuse", "Strip"], decs

    def decode(self, ids):
        """Decoder Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]."""
        out, pending = [], bytearray()

        def flush():
            if pending:
                try:
                    out.append(pending.decode("utf-8"))
                except UnicodeDecodeError:
                    out.append("\ufffd" * len(pending))
                pending.clear()

        for i in ids:
            t = self.id_to_token[i].replace("\u2581", " ")
            if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
                pending.append(int(t[3:5], 16))
                continue
            flush()
            out.append(t)
        flush()
        s = "".join(out)
        return s[1:] if s.startswith(" ") else s

    def normalize(self, s):
        if s == "":
            return s
        return (self.prepend + s).replace(self.rep_from, self.rep_to)

    @staticmethod
    def split_added(s, table):
        """Leftmost-longest split; returns [(piece, id or None)]."""
        out, i, start = [], 0, 0
        keys = sorted(table, key=len, reverse=True)
        while i < len(s):
            hit = next((k for k in keys if s.startswith(k, i)), None)
            if hit is None:
                i += 1
                continue
            if start < i:
                out.append((s[start:i], None))
            out.append((hit, table[hit]))
            i += len(hit)
            start = i
        if start < len(s):
            out.append((s[start:], None))
        return out

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = []
        for ch in word:
            if ch in self.vocab:
                syms.append(ch)
            else:
                syms.extend("<0x%02X>" % b for b in ch.encode("utf-8"))
        # Linked-list merge loop with a heap of (rank, position).
        n = len(syms)
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n + 1))
        alive = [True] * n
        heap = []
        for i in range(n - 1):
            r = self.ranks.get((syms[i], syms[i + 1]))
            if r is not None:
                heapq.heappush(heap, (r, i, syms[i], syms[i + 1]))
        while heap:
            r, i, a, b = heapq.heappop(heap)
            j = nxt[i] if i < n else n
            if not alive[i] or j >= n or not alive[j] or syms[i] != a or syms[j] != b:
                continue
            syms[i] = a + b
            alive[j] = False
            nxt[i] = nxt[j]
            if nxt[j] < n:
                prev[nxt[j]] = i
            p = prev[i]
            if p >= 0:
                rr = self.ranks.get((syms[p], syms[i]))
                if rr is not None:
                    heapq.heappush(heap, (rr, p, syms[p], syms[i]))
            q = nxt[i]
            if q < n:
                rr = self.ranks.get((syms[i], syms[q]))
                if rr is not None:
                    heapq.heappush(heap, (rr, i, syms[i], syms[q]))
        ids = [self.vocab[s] for k, s in enumerate(syms) if alive[k]]
        self.cache[word] = ids
        return ids

    def encode(self, text, add_special):
        ids = []
        for piece, tid in self.split_added(text, self.added_raw):
            if tid is not None:
                ids.append(tid)
                continue
            for sub, sid in self.split_added(self.normalize(piece), self.added_norm):
                ids.extend([sid] if sid is not None else self.bpe(sub))
        return (self.prefix + ids) if add_special else ids


def main():
    bad = 0
    for name in ("llama2", "mistral"):
        tok = SPMBPE(name)
        for suffix, special in ((".jsonl", False), (".special.jsonl", True)):
            path = os.path.join(ROOT, "testdata", "tokenizer-diff", name + suffix)
            ok = n = 0
            with open(path, encoding="utf-8") as f:
                for line in f:
                    rec = json.loads(line)
                    n += 1
                    got = tok.encode(rec["text"], special)
                    dec = tok.decode(rec["ids"])
                    if got == rec["ids"] and dec == rec.get("decoded", rec["text"]):
                        ok += 1
                    else:
                        bad += 1
                        print("  %s [%s] %r\n    golden %s\n    python %s\n    decoded %r" % (name + suffix, rec["category"], rec["text"][:200], rec["ids"], got, dec))
            print("%s%s: python SPM-BPE agrees (encode and decode) on %d/%d" % (name, suffix, ok, n))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
