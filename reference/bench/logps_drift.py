#!/usr/bin/env python3
"""Compares two `preftune logps` outputs of the same pairs (e.g. --compute-dtype float32 and
bfloat16): median and max |difference| of sequence log-probs, per completion token, and of the
chosen - rejected margin. Stdlib only (either python).
  python3 reference/bench/logps_drift.py A.jsonl B.jsonl
"""
import json, statistics, sys

def main(pa, pb):
    a = [json.loads(l) for l in open(pa)]
    b = [json.loads(l) for l in open(pb)]
    if len(a) != len(b):
        sys.exit(f"{pa} has {len(a)} rows, {pb} {len(b)}")
    seq, tok, mag, margin = [], [], [], []
    for x, y in zip(a, b):
        for k, n in (("chosen_logps", "chosen_tokens"), ("rejected_logps", "rejected_tokens")):
            d = abs(x[k] - y[k])
            seq.append(d)
            tok.append(d / x[n])
            mag.append(abs(x[k]) / x[n])
        margin.append(abs((x["chosen_logps"] - x["rejected_logps"]) - (y["chosen_logps"] - y["rejected_logps"])))
    med = statistics.median
    print(f"rows {len(a)}: |d seq logp| median {med(seq):.3g} max {max(seq):.3g}; per token median {med(tok):.3g} "
          f"max {max(tok):.3g} (mean |logp|/token {statistics.mean(mag):.3g}); |d margin| median {med(margin):.3g} "
          f"max {max(margin):.3g}")

if __name__ == "__main__":
    main(*sys.argv[1:3])
