#!/usr/bin/env python3
"""Goldens for preftune's KTO step test (train/kto_test.go, stage: kto).

One SGD step at learning rate 1 on B unpaired examples with a separate reference model is
W <- W - dL/dW with L TRL's KTOTrainer loss (kto_trainer.py, loss_type "kto"):

    r_i  = policy_logp(x_i, y_i) - ref_logp(x_i, y_i)                (summed completion log-probs)
    z    = max(0, mean_j [policy_logp(x_j, y_{j-1}) - ref_logp(x_j, y_{j-1})]).detach()
           (the mismatched KL rows as TRL's _get_kl_dataset builds them: completions shifted by
           one, the first example taking the last completion)
    l_i  = desirable_weight   * (1 - sigmoid(beta * (r_i - z)))     desirable
           undesirable_weight * (1 - sigmoid(beta * (z - r_i)))     undesirable
    L    = mean_i l_i

in float64 with autograd on the decoder of reference/model/ref_model.py. Metrics (before the
update): kl, rewards/chosen and logps/chosen (means over desirable examples), the same for
rejected, rewards/margins.

Writes, under --out (default train/testdata/kto):
    policy/, ref/            config.json + model.safetensors (F32)
    examples.json            [{prompt_input_ids, completion_input_ids, label}]
    expected.safetensors     W - dL/dW for every policy tensor
    expected.json            hyperparameters, loss and metrics

    /usr/bin/python3 reference/train/gen_kto.py
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

BETA, WD, WU = 0.5, 1.0, 1.5
LABELS = [True, False, True, True, False, False]
CASE = dict(name="kto", arch="Qwen2ForCausalLM", model_type="qwen2", vocab=96, hidden=32, ffn=64,
            heads=4, kv=2, tied=True, theta=10000.0)


def collate(rows):
    T = max(len(p) + len(c) for p, c in rows)
    B = len(rows)
    ids = np.zeros((B, T), np.int64)
    labels = np.full((B, T), -100, np.int64)
    pos = np.zeros((B, T), np.int64)
    segs = np.full((B, T), -1, np.int64)
    for b, (p, c) in enumerate(rows):
        s = p + c
        n = len(s)
        ids[b, :n] = s
        pos[b, :n] = np.arange(n)
        segs[b, :n] = 0
        for t in range(len(p) - 1, n - 1):
            labels[b, t] = s[t + 1]
    return [torch.tensor(x) for x in (ids, labels, pos, segs)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "train", "testdata", "kto"))
    ap.add_argument("--seed", type=int, default=20250612)
    a = ap.parse_args()
    # the first seed from --seed on whose KL baseline is positive (not clamped to 0), so
    # that the test exercises it
    for seed in range(a.seed, a.seed + 100):
        if build(a.out, seed, write=False) > 0:
            break
    print("seed", seed)
    build(a.out, seed, write=True)


def build(out, seed, write):
    rng = np.random.default_rng(seed)
    cfg = G.make_config(CASE)
    w_pol = G.make_weights(CASE, rng)
    w_ref = G.make_weights(CASE, rng)
    pairs = G.make_pairs(CASE, rng, n=len(LABELS))
    exs = [{"prompt_input_ids": p["prompt_input_ids"], "completion_input_ids": p["chosen_input_ids"], "label": lab}
           for p, lab in zip(pairs, LABELS)]
    if write:
        for sub, w in (("policy", w_pol), ("ref", w_ref)):
            d = os.path.join(out, sub)
            os.makedirs(d, exist_ok=True)
            json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
            R.write_safetensors(os.path.join(d, "model.safetensors"), w, metadata={"format": "pt"})
        json.dump(exs, open(os.path.join(out, "examples.json"), "w"), indent=1)

    n = len(exs)
    rows = [(e["prompt_input_ids"], e["completion_input_ids"]) for e in exs]
    kl_rows = [(exs[i]["prompt_input_ids"], exs[(i - 1) % n]["completion_input_ids"]) for i in range(n)]
    spec = R.Spec(cfg)
    ids, labels, pos, segs = collate(rows + kl_rows)

    with torch.no_grad():
        ref = R.token_logps(R.forward(spec, R.Params(w_ref, requires_grad=False), ids, pos, segs), labels).sum(-1)
    P = R.Params(w_pol)
    pol = R.token_logps(R.forward(spec, P, ids, pos, segs), labels).sum(-1)
    r = pol[:n] - ref[:n]
    kl = (pol[n:] - ref[n:]).mean().clamp(min=0).detach()
    if not write:
        return kl.item()
    des = torch.tensor(LABELS)
    losses = torch.where(des, WD * (1 - torch.sigmoid(BETA * (r - kl))), WU * (1 - torch.sigmoid(BETA * (kl - r))))
    loss = losses.mean()
    loss.backward()
    with torch.no_grad():
        rew = BETA * r
        metrics = {
            "loss": loss.item(),
            "kl": kl.item(),
            "rewards/chosen": rew[des].mean().item(),
            "rewards/rejected": rew[~des].mean().item(),
            "rewards/margins": (rew[des].mean() - rew[~des].mean()).item(),
            "logps/chosen": pol[:n][des].mean().item(),
            "logps/rejected": pol[:n][~des].mean().item(),
        }
        new = {k: (v - v.grad).numpy() for k, v in P.w.items()}
    R.write_safetensors(os.path.join(out, "expected.safetensors"), new, metadata={"format": "pt"})
    json.dump({"beta": BETA, "desirable_weight": WD, "undesirable_weight": WU, "metrics": metrics},
              open(os.path.join(out, "expected.json"), "w"), indent=2)
    print(json.dumps(metrics))
    return kl.item()


if __name__ == "__main__":
    main()
