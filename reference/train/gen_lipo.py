#!/usr/bin/env python3
"""Goldens for preftune's LiPO step test (train/lipo_test.go, loss_type lipo_listmle / lipo_lambda).

B lists of K responses to one prompt each, graded by scores (higher is better). One SGD step at
learning rate 1 with a separate reference model is W <- W - dL/dW, with

    s_ik = beta * (policy_logp(x_i, y_ik) - ref_logp(x_i, y_ik))     (summed completion log-probs)
    L    = mean_i loss(s_i, scores_i)

and loss the LiPO ListMLE or lambda loss as reference/loss/gen_goldens.py transcribes the paper
(lipo_listmle, lipo_lambda; imported from there). float64 autograd on the decoder of
reference/model/ref_model.py.

Writes, under --out (default train/testdata/lipo):
    policy/, ref/                    config.json + model.safetensors (F32)
    lists.json                       [{prompt_input_ids, responses_input_ids: [K lists], scores}]
    expected_<loss>.safetensors      W - dL/dW for every policy tensor
    expected.json                    beta, and per loss: loss, rewards/accuracies

    /usr/bin/python3 reference/train/gen_lipo.py
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "model"))
sys.path.insert(0, os.path.join(HERE, "..", "loss"))
import ref_model as R  # noqa: E402
import gen_fixtures as G  # noqa: E402
import gen_goldens as L  # noqa: E402
from gen_kto import collate  # noqa: E402

BETA = 0.5
B, K = 3, 4
SCORES = [[3.0, 1.0, 2.0, 0.0], [0.5, 2.5, 2.5, 1.0], [1.0, 4.0, 0.0, 2.0]]
CASE = dict(name="lipo", arch="Qwen2ForCausalLM", model_type="qwen2", vocab=96, hidden=32, ffn=64,
            heads=4, kv=2, tied=True, theta=10000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "train", "testdata", "lipo"))
    ap.add_argument("--seed", type=int, default=20250613)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cfg = G.make_config(CASE)
    w_pol = G.make_weights(CASE, rng)
    w_ref = G.make_weights(CASE, rng)
    V = CASE["vocab"]
    lists = []
    for i in range(B):
        prompt = rng.integers(3, V, int(rng.integers(2, 7))).tolist()
        resp = [rng.integers(3, V, int(rng.integers(1, 9))).tolist() for _ in range(K)]
        lists.append({"prompt_input_ids": prompt, "responses_input_ids": resp, "scores": SCORES[i]})
    for sub, w in (("policy", w_pol), ("ref", w_ref)):
        d = os.path.join(a.out, sub)
        os.makedirs(d, exist_ok=True)
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
        R.write_safetensors(os.path.join(d, "model.safetensors"), w, metadata={"format": "pt"})
    json.dump(lists, open(os.path.join(a.out, "lists.json"), "w"), indent=1)

    rows = [(l["prompt_input_ids"], r) for l in lists for r in l["responses_input_ids"]]
    spec = R.Spec(cfg)
    ids, labels, pos, segs = collate(rows)
    with torch.no_grad():
        ref = R.token_logps(R.forward(spec, R.Params(w_ref, requires_grad=False), ids, pos, segs), labels).sum(-1)
    out = {"beta": BETA}
    for name, fn in (("lipo_listmle", L.lipo_listmle), ("lipo_lambda", L.lipo_lambda)):
        P = R.Params(w_pol)
        pol = R.token_logps(R.forward(spec, P, ids, pos, segs), labels).sum(-1)
        s = BETA * (pol - ref)
        loss = sum(fn(s[i * K:(i + 1) * K], torch.tensor(SCORES[i], dtype=torch.float64)) for i in range(B)) / B
        loss.backward()
        with torch.no_grad():
            pairs = correct = 0
            for i in range(B):
                for x in range(K):
                    for y in range(K):
                        if SCORES[i][x] > SCORES[i][y]:
                            pairs += 1
                            correct += int(s[i * K + x] > s[i * K + y])
            out[name] = {"loss": loss.item(), "rewards/accuracies": correct / pairs}
            new = {k: (v - v.grad).numpy() for k, v in P.w.items()}
        R.write_safetensors(os.path.join(a.out, f"expected_{name}.safetensors"), new, metadata={"format": "pt"})
    json.dump(out, open(os.path.join(a.out, "expected.json"), "w"), indent=2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
