#!/usr/bin/env python3
"""Goldens for preftune's RMSprop (train/rmsprop_test.go, `optim: rmsprop`).

transformers' Trainer maps `optim: rmsprop` to torch.optim.RMSprop with only the learning
rate set (Trainer.get_optimizer_cls_and_kwargs: optimizer_kwargs = {"lr": learning_rate}),
so torch's defaults hold: alpha 0.99, eps 1e-8, momentum 0, centered False; weight decay
comes from the Trainer's two parameter groups (weight_decay for weights, 0 for biases and
norms) and is torch's coupled L2 (grad += weight_decay * param). One step, per element:

    g  = grad + wd * p
    sq = alpha * sq + (1 - alpha) * g * g
    p  = p - lr * g / (sqrt(sq) + eps)

float32 tensors, torch's single-tensor path (foreach=False). Two parameter groups ("decay"
with weight_decay, "no_decay" with 0), four steps with given gradients. Writes
train/testdata/rmsprop/golden.json: lr, weight_decay, the initial values, each step's
gradients, the parameters after each step and the final square_avg of each group.

    /usr/bin/python3 reference/train/gen_rmsprop.py
"""
import argparse
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

LR = 1e-3
WD = 0.05
STEPS = 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "train", "testdata", "rmsprop", "golden.json"))
    a = ap.parse_args()
    g = torch.Generator().manual_seed(7)
    sizes = {"decay": 37, "no_decay": 11}
    params = {k: torch.randn(n, generator=g, dtype=torch.float32) for k, n in sizes.items()}
    init = {k: v.tolist() for k, v in params.items()}
    ps = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    opt = torch.optim.RMSprop(
        [{"params": [ps["decay"]], "weight_decay": WD}, {"params": [ps["no_decay"]], "weight_decay": 0.0}],
        lr=LR, foreach=False)
    grads, after = [], []
    for s in range(STEPS):
        # gradients of different scales per step, some tiny (eps matters), one exact zero
        step_grads = {}
        for k, n in sizes.items():
            gr = torch.randn(n, generator=g, dtype=torch.float32) * (10.0 ** (-s))
            gr[0] = 0.0
            gr[1] = 1e-9
            step_grads[k] = gr
            ps[k].grad = gr.clone()
        opt.step()
        grads.append({k: v.tolist() for k, v in step_grads.items()})
        after.append({k: ps[k].detach().tolist() for k in sizes})
    square_avg = {k: opt.state[ps[k]]["square_avg"].tolist() for k in sizes}
    d = opt.defaults
    out = {"torch": torch.__version__, "lr": LR, "weight_decay": WD, "alpha": d["alpha"], "eps": d["eps"],
           "momentum": d["momentum"], "centered": d["centered"], "init": init, "grads": grads,
           "params": after, "square_avg": square_avg}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
