#!/usr/bin/env python3
"""Goldens for preftune's training-contract test (train/contract_test.go).

One optimizer step of full fine-tuning with SGD, learning rate 1, a constant schedule, no
clipping, no weight decay, and every pair in one batch is exactly W <- W - dL/dW, with L the
mean sigmoid-DPO loss of the batch (TRL's DPOTrainer with loss_type sigmoid):

    L = mean_i  -log sigmoid(beta * ((pc_i - rc_i) - (pr_i - rr_i)))

where pc/pr are the policy's summed completion log-probs of chosen/rejected and rc/rr the
separate reference model's. This script computes that in float64 with autograd on the decoder
of reference/model/ref_model.py (independent of the Go code), plus the metrics TRL logs for the
step (computed before the update):

    rewards/chosen     = mean beta*(pc - rc)        rewards/rejected = mean beta*(pr - rr)
    rewards/accuracies = mean [chosen reward > rejected reward]
    rewards/margins    = mean (chosen reward - rejected reward)
    logps/chosen       = mean pc                    logps/rejected   = mean pr
    logits/chosen      = mean over chosen completion tokens of the vocabulary-mean logit (same for rejected)

Writes, under --out (default train/testdata/contract):
    policy/  config.json + model.safetensors (F32)   the initial policy
    ref/     config.json + model.safetensors (F32)   the reference (different random weights)
    pairs.jsonl                                       pre-tokenized pairs (TRL format)
    expected.safetensors                              W - dL/dW for every policy tensor
    expected.json                                     loss and metrics of the step

Needs only Debian's python3-torch and python3-numpy:
    /usr/bin/python3 reference/train/gen_contract.py
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

BETA = 0.1
CASE = dict(name="contract", arch="Qwen2ForCausalLM", model_type="qwen2", vocab=96, hidden=32, ffn=64,
            heads=4, kv=2, tied=True, theta=10000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "train", "testdata", "contract"))
    ap.add_argument("--seed", type=int, default=20250501)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cfg = G.make_config(CASE)
    w_pol = G.make_weights(CASE, rng)
    w_ref = G.make_weights(CASE, rng)
    pairs = G.make_pairs(CASE, rng, n=5)
    for sub, w in (("policy", w_pol), ("ref", w_ref)):
        d = os.path.join(a.out, sub)
        os.makedirs(d, exist_ok=True)
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
        R.write_safetensors(os.path.join(d, "model.safetensors"), w, metadata={"format": "pt"})
    with open(os.path.join(a.out, "pairs.jsonl"), "w") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")

    spec = R.Spec(cfg)
    n = len(pairs)
    ids, labels, pos, segs = (torch.tensor(x) for x in G.collate(pairs))
    mask = labels >= 0

    with torch.no_grad():
        Pr = R.Params(w_ref, requires_grad=False)
        ref_seq = R.token_logps(R.forward(spec, Pr, ids, pos, segs), labels).sum(-1)
    P = R.Params(w_pol)
    logits = R.forward(spec, P, ids, pos, segs)
    seq = R.token_logps(logits, labels).sum(-1)
    pc, pr, rc, rr = seq[:n], seq[n:], ref_seq[:n], ref_seq[n:]
    logits_delta = (pc - rc) - (pr - rr)
    loss = torch.nn.functional.softplus(-BETA * logits_delta).mean()
    loss.backward()

    with torch.no_grad():
        cr, rjr = BETA * (pc - rc), BETA * (pr - rr)
        mean_logit = logits.mean(-1)
        cm, rm = mask[:n], mask[n:]
        metrics = {
            "loss": loss.item(),
            "rewards/chosen": cr.mean().item(),
            "rewards/rejected": rjr.mean().item(),
            "rewards/accuracies": (cr > rjr).double().mean().item(),
            "rewards/margins": (cr - rjr).mean().item(),
            "logps/chosen": pc.mean().item(),
            "logps/rejected": pr.mean().item(),
            "logits/chosen": mean_logit[:n][cm].mean().item(),
            "logits/rejected": mean_logit[n:][rm].mean().item(),
        }
        new = {k: (v - v.grad).numpy() for k, v in P.w.items()}
    R.write_safetensors(os.path.join(a.out, "expected.safetensors"), new, metadata={"format": "pt"})
    json.dump({"beta": BETA, "pairs": n, "metrics": metrics}, open(os.path.join(a.out, "expected.json"), "w"), indent=2)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
