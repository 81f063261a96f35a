#!/usr/bin/env python3
"""Writes the PyTorch goldens the kernels tests compare against.

Run from the repository root with Debian's python3 (torch 1.13, numpy):

    /usr/bin/python3 kernels/testdata/gen.py

It writes, next to this script:
  rope_llama3.json  inv_freq and cos/sin rows for Llama-3 rope scaling, computed
                    with torch float32 ops in the order of transformers'
                    modeling_rope_utils._compute_default_rope_parameters,
                    _compute_llama3_parameters and LlamaRotaryEmbedding.forward
                    (transformers is not installed here, so those few lines are
                    restated in torch below).
  attention.json    one causal GQA attention forward/backward with padding,
                    packed segments and a sliding window, in float64 autograd
                    (mask as in transformers' masking_utils: causal kv <= q,
                    sliding window kv > q - W, plus same-segment; padding rows
                    output zero).
  optim.json        torch.optim.AdamW and torch.optim.SGD (momentum, weight
                    decay) trajectories over three steps, float32.
Tests never run Python; they read these files.
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def rope_llama3():
    dim, base = 64, 500000.0
    rs = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 8192}
    # _compute_default_rope_parameters
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    default = inv_freq.clone()
    # _compute_llama3_parameters
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    inv_freq_llama = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    # LlamaRotaryEmbedding.forward: freqs = inv_freq @ position_ids (float32), cos/sin of cat(freqs, freqs)
    positions = [0, 1, 7, 100, 1000, 4095]
    pos = torch.tensor([positions], dtype=torch.int64)
    inv_expanded = inv_freq_llama[None, :, None].float().expand(1, -1, 1)
    freqs = (inv_expanded.float() @ pos[:, None, :].float()).transpose(1, 2)[0]
    assert freqs.dtype == torch.float32
    dump("rope_llama3.json", {
        "head_dim": dim, "rope_theta": base, "rope_scaling": rs,
        "inv_freq_default": flat(default),
        "inv_freq": flat(inv_freq_llama),
        "positions": positions,
        "cos": flat(freqs.cos()),  # [len(positions), dim/2]
        "sin": flat(freqs.sin()),
    })


def attention():
    torch.manual_seed(1234)
    B, T, NH, NKV, HD, W = 2, 11, 4, 2, 8, 4
    seg = torch.tensor([
        [0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1],   # one sequence, right padding
        [-1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2],     # left padding, three packed sequences
    ])
    q = torch.randn(B, T, NH, HD, dtype=torch.float64, requires_grad=True)
    k = torch.randn(B, T, NKV, HD, dtype=torch.float64, requires_grad=True)
    v = torch.randn(B, T, NKV, HD, dtype=torch.float64, requires_grad=True)
    dout = torch.randn(B, T, NH, HD, dtype=torch.float64)
    qi = torch.arange(T)[:, None]
    kj = torch.arange(T)[None, :]
    outs, lses = {}, {}
    for window in (0, W):
        allowed = (kj <= qi)[None] & (seg[:, :, None] == seg[:, None, :]) & (seg[:, :, None] >= 0)
        if window:
            allowed = allowed & (kj > qi - window)[None]
        # repeat_kv: query head h uses kv head h // (NH // NKV)
        rep = NH // NKV
        kk = k.repeat_interleave(rep, dim=2)
        vv = v.repeat_interleave(rep, dim=2)
        scores = torch.einsum("bihd,bjhd->bhij", q, kk) / math.sqrt(HD)
        scores = scores.masked_fill(~allowed[:, None], float("-inf"))
        real = (seg >= 0)[:, None, :, None]
        scores = torch.where(real, scores, torch.zeros_like(scores))  # padding rows: no NaN
        lse = torch.logsumexp(scores, dim=-1)
        p = torch.softmax(scores, dim=-1) * real
        out = torch.einsum("bhij,bjhd->bihd", p, vv)
        dq, dk, dv = torch.autograd.grad(out, (q, k, v), dout)
        lse = torch.where((seg >= 0)[:, None, :], lse, torch.zeros_like(lse))
        outs[window] = {"out": flat(out), "lse": flat(lse), "dq": flat(dq), "dk": flat(dk), "dv": flat(dv)}
    dump("attention.json", {
        "B": B, "T": T, "NH": NH, "NKV": NKV, "HD": HD,
        "seg": [int(x) for x in seg.reshape(-1).tolist()],
        "q": flat(q), "k": flat(k), "v": flat(v), "dout": flat(dout),
        "cases": [dict(window=w, **outs[w]) for w in (0, W)],
    })


def optim():
    torch.manual_seed(99)
    n, steps = 10, 3
    p0 = torch.randn(n)
    grads = [torch.randn(n) for _ in range(steps)]
    res = {"p0": flat(p0), "grads": [flat(g) for g in grads]}
    # AdamW (single-tensor path), float32
    cfg = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.AdamW([p], foreach=False, **cfg)
    traj = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        traj.append(flat(p))
    st = opt.state[p]
    res["adamw"] = {"lr": cfg["lr"], "beta1": cfg["betas"][0], "beta2": cfg["betas"][1],
                    "eps": cfg["eps"], "weight_decay": cfg["weight_decay"], "params": traj,
                    "exp_avg": flat(st["exp_avg"]), "exp_avg_sq": flat(st["exp_avg_sq"])}
    # SGD with momentum and weight decay, float32
    cfg = dict(lr=0.05, momentum=0.9, weight_decay=0.01)
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.SGD([p], foreach=False, **cfg)
    traj = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        traj.append(flat(p))
    res["sgd"] = dict(cfg, params=traj)
    dump("optim.json", res)


if __name__ == "__main__":
    torch.set_num_threads(1)
    rope_llama3()
    attention()
    optim()
