#!/usr/bin/env python3
"""Goldens for preftune's WPO test (train/wpo_test.go, use_weighting: true).

The step of gen_contract.py (train/testdata/contract: its separate ref and five pre-tokenized
pairs; SGD, learning rate 1, one step) on a policy whose next-token distributions are close to
uniform (the contract policy with its tied embedding scaled by 0.05, written to --out/policy), so
that the pair weights are near 1, some clamped and some not, with TRL's use_weighting
(dpo_trainer.py, concatenated_forward, under no_grad):

    w_seq  = mean over completion tokens of  log p(token) - logsumexp(2 * log_softmax(logits))
    weight = clamp(exp(w_chosen + w_rejected), max=1)
    L      = mean_i weight_i * -log sigmoid(beta * ((pc - rc) - (pr - rr)))

float64 autograd on reference/model/ref_model.py. Writes under --out (default train/testdata/wpo):
    policy/                config.json + model.safetensors (F32)
    expected.safetensors   W - dL/dW for every policy tensor
    expected.json          beta, the pair weights and the loss

    /usr/bin/python3 reference/train/gen_wpo.py
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import ref_model as R  # noqa: E402
import gen_fixtures as G  # noqa: E402

BETA = 0.1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", default=os.path.join(HERE, "..", "..", "train", "testdata", "contract"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "train", "testdata", "wpo"))
    a = ap.parse_args()
    cfg, w_pol = R.load_hf_dir(os.path.join(a.fixture, "policy"))
    w_pol["model.embed_tokens.weight"] = (w_pol["model.embed_tokens.weight"] * 0.05).astype("float32")
    d = os.path.join(a.out, "policy")
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    R.write_safetensors(os.path.join(d, "model.safetensors"), w_pol, metadata={"format": "pt"})
    _, w_ref = R.load_hf_dir(os.path.join(a.fixture, "ref"))
    pairs = [json.loads(l) for l in open(os.path.join(a.fixture, "pairs.jsonl"))]
    spec = R.Spec(cfg)
    n = len(pairs)
    ids, labels, pos, segs = (torch.tensor(x) for x in G.collate(pairs))
    mask = (labels >= 0).double()
    with torch.no_grad():
        ref_seq = R.token_logps(R.forward(spec, R.Params(w_ref, requires_grad=False), ids, pos, segs), labels).sum(-1)
    P = R.Params(w_pol)
    logits = R.forward(spec, P, ids, pos, segs)
    tok = R.token_logps(logits, labels)
    seq = tok.sum(-1)
    with torch.no_grad():
        adj = torch.logsumexp(2 * torch.log_softmax(logits, -1), -1)
        wseq = ((tok - adj) * mask).sum(-1) / mask.sum(-1)
        weight = torch.clamp(torch.exp(wseq[:n] + wseq[n:]), max=1)
    delta = (seq[:n] - ref_seq[:n]) - (seq[n:] - ref_seq[n:])
    loss = (torch.nn.functional.softplus(-BETA * delta) * weight).mean()
    loss.backward()
    with torch.no_grad():
        new = {k: (v - v.grad).numpy() for k, v in P.w.items()}
    os.makedirs(a.out, exist_ok=True)
    R.write_safetensors(os.path.join(a.out, "expected.safetensors"), new, metadata={"format": "pt"})
    out = {"beta": BETA, "weights": weight.tolist(), "loss": loss.item()}
    json.dump(out, open(os.path.join(a.out, "expected.json"), "w"), indent=2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
