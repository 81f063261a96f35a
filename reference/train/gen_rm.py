#!/usr/bin/env python3
"""Goldens for preftune's reward-model test (train/rm_test.go, stage: rm).

One SGD step at learning rate 1 (constant schedule, no clipping, no weight decay, every pair
in one batch) is W <- W - dL/dW for the decoder and the value head, where L is TRL's
RewardTrainer loss on a transformers *ForSequenceClassification model with num_labels 1:

    r      = score.weight . norm(h_L)[last non-padding token]     (score: Linear(C, 1, bias=False))
    L      = mean_i -log sigmoid(r_c,i - r_r,i) + center * mean_i (r_c,i + r_r,i)^2

computed in float64 with autograd on the decoder of reference/model/ref_model.py (its final
norm output is read by swapping in an identity LM head; an untied model, so the real
lm_head.weight gets no gradient, as a sequence classifier has none). Metrics of the step, before
the update (TRL's names): accuracy, margin (mean r_c - r_r), min/mean/max_reward.

Writes, under --out (default train/testdata/rm):
    policy/               config.json + model.safetensors (F32)   the initial model
    score_init.safetensors                                         the initial score.weight [1, C]
    pairs.jsonl                                                    pre-tokenized pairs (TRL format)
    expected.safetensors                                           W - dL/dW, score.weight included
    expected.json                                                  loss and metrics

    /usr/bin/python3 reference/train/gen_rm.py
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import ref_model as R  # noqa: E402
import gen_fixtures as G  # noqa: E402

CENTER = 0.01
CASE = dict(name="rm", arch="Qwen2ForCausalLM", model_type="qwen2", vocab=96, hidden=32, ffn=64,
            heads=4, kv=2, tied=False, theta=10000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "train", "testdata", "rm"))
    ap.add_argument("--seed", type=int, default=20250611)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cfg = G.make_config(CASE)
    w = G.make_weights(CASE, rng)
    C = CASE["hidden"]
    score0 = (rng.standard_normal((1, C)) * 0.3).astype(np.float32)
    pairs = G.make_pairs(CASE, rng, n=6)
    d = os.path.join(a.out, "policy")
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    R.write_safetensors(os.path.join(d, "model.safetensors"), w, metadata={"format": "pt"})
    R.write_safetensors(os.path.join(a.out, "score_init.safetensors"), {"score.weight": score0}, metadata={"format": "pt"})
    with open(os.path.join(a.out, "pairs.jsonl"), "w") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")

    spec = R.Spec(cfg)
    n = len(pairs)
    ids, labels, pos, segs = (torch.tensor(x) for x in G.collate(pairs))
    last = (segs >= 0).long().sum(-1) - 1  # right padding: the last non-pad index

    P = R.Params(w)
    score = torch.tensor(score0, dtype=torch.float64, requires_grad=True)
    lm_head = P.w["lm_head.weight"]
    P.w["lm_head.weight"] = torch.eye(C, dtype=torch.float64)  # forward returns norm(h_L)
    hidden = R.forward(spec, P, ids, pos, segs)
    P.w["lm_head.weight"] = lm_head
    h_last = hidden[torch.arange(hidden.shape[0]), last]  # [2n, C]
    rewards = (h_last @ score.T)[:, 0]
    rc, rr = rewards[:n], rewards[n:]
    loss = -torch.nn.functional.logsigmoid(rc - rr).mean() + CENTER * ((rc + rr) ** 2).mean()
    loss.backward()

    with torch.no_grad():
        metrics = {
            "loss": loss.item(),
            "accuracy": (rc > rr).double().mean().item(),
            "margin": (rc - rr).mean().item(),
            "min_reward": rewards.min().item(),
            "mean_reward": rewards.mean().item(),
            "max_reward": rewards.max().item(),
        }
        new = {}
        for k, v in P.w.items():
            g = v.grad if v.grad is not None else torch.zeros_like(v)
            new[k] = (v - g).numpy()
        new["score.weight"] = (score - score.grad).numpy()
    R.write_safetensors(os.path.join(a.out, "expected.safetensors"), new, metadata={"format": "pt"})
    json.dump({"center_rewards_coefficient": CENTER, "pairs": n, "metrics": metrics},
              open(os.path.join(a.out, "expected.json"), "w"), indent=2)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
