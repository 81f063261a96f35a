#!/usr/bin/env python3
"""Writes tiny random Hugging Face model dirs and PyTorch goldens for preftune's model tests.

  /usr/bin/python3 reference/model/gen_fixtures.py --out model/testdata

For each case, model/testdata/<case>/ holds:
  config.json, model.safetensors        the model (f32; BF16 for llama_bf16)
  adapter/                              a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors)
  pairs.jsonl                           the preference pairs, pre-tokenized (prompt/chosen/rejected ids)
  golden.json                           batch + per-token log-probs, sequence sums, loss, dLoss/dLogp
  grads_full.safetensors                dLoss/dW for every model parameter (HF names)
  grads_lora.safetensors                dLoss/dA, dLoss/dB for every LoRA tensor (PEFT names)

The batch is TRL's concatenated layout: rows [chosen_0..chosen_{n-1}, rejected_0..rejected_{n-1}],
each prompt+completion, right-padded with id 0. labels[b,t] is the token predicted at position t
(ids[b,t+1] when t+1 is a completion token, else -100). The scalar loss is sigmoid DPO,
mean_i -log sigmoid(beta * ((c_i - r_i) - (cref_i - rref_i))) with fixed fake reference log-probs,
where c_i, r_i are sums of completion-token log-probs. Everything is computed in float64.
"""
import argparse
import json
import os

import numpy as np
import torch

import ref_model as R

CASES = [
    dict(name="llama_gqa", model_type="llama", arch="LlamaForCausalLM", vocab=96, hidden=48, heads=6, kv=2,
         ffn=80, tied=False, lora=dict(targets="q_proj,v_proj", r=4, alpha=8.0, rslora=False)),
    dict(name="llama_tied_rope3", model_type="llama", arch="LlamaForCausalLM", vocab=80, hidden=32, heads=4, kv=4,
         ffn=64, tied=True, theta=10000.0,
         rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 64},
         lora=dict(targets="q_proj,v_proj", r=4, alpha=8.0, rslora=True)),
    dict(name="qwen2_bias", model_type="qwen2", arch="Qwen2ForCausalLM", vocab=120, hidden=32, heads=4, kv=2,
         ffn=64, tied=True, theta=1000000.0, lora=dict(targets="q_proj,v_proj", r=4, alpha=16.0, rslora=False)),
    dict(name="qwen3_qknorm", model_type="qwen3", arch="Qwen3ForCausalLM", vocab=100, hidden=32, heads=4, kv=2,
         head_dim=16, ffn=64, tied=False, theta=1000000.0,
         lora=dict(targets="all-linear", r=4, alpha=8.0, rslora=False)),
    dict(name="mistral_window", model_type="mistral", arch="MistralForCausalLM", vocab=90, hidden=32, heads=4, kv=2,
         ffn=64, tied=False, sliding_window=5, lora=dict(targets="q_proj,v_proj,down_proj", r=2, alpha=4.0, rslora=False)),
    dict(name="llama_bf16", model_type="llama", arch="LlamaForCausalLM", vocab=64, hidden=32, heads=4, kv=2,
         ffn=48, tied=False, bf16=True, lora=dict(targets="q_proj,v_proj", r=4, alpha=8.0, rslora=False)),
]

BETA = 0.5
MAX_POS = 64


def make_config(c):
    hd = c.get("head_dim") or c["hidden"] // c["heads"]
    cfg = {
        "architectures": [c["arch"]], "model_type": c["model_type"], "vocab_size": c["vocab"],
        "hidden_size": c["hidden"], "intermediate_size": c["ffn"], "num_hidden_layers": 2,
        "num_attention_heads": c["heads"], "num_key_value_heads": c["kv"], "hidden_act": "silu",
        "max_position_embeddings": MAX_POS, "rms_norm_eps": 1e-6, "rope_theta": c.get("theta", 10000.0),
        "tie_word_embeddings": c["tied"], "torch_dtype": "bfloat16" if c.get("bf16") else "float32",
        "bos_token_id": 1, "eos_token_id": 2,
    }
    if "head_dim" in c:
        cfg["head_dim"] = hd
    if c.get("rope_scaling"):
        cfg["rope_scaling"] = c["rope_scaling"]
    if c["model_type"] == "llama":
        cfg["attention_bias"] = False
        cfg["mlp_bias"] = False
    if c["model_type"] in ("qwen2", "qwen3"):
        cfg["use_sliding_window"] = False
        cfg["sliding_window"] = 4096
        cfg["max_window_layers"] = 2
    if c["model_type"] == "qwen3":
        cfg["attention_bias"] = False
    if c["model_type"] == "mistral":
        cfg["sliding_window"] = c["sliding_window"]
    return cfg


def make_weights(c, rng):
    D, V, H, KV, F = c["hidden"], c["vocab"], c["heads"], c["kv"], c["ffn"]
    hd = c.get("head_dim") or D // H
    n = lambda shape, std: (rng.standard_normal(shape) * std).astype(np.float32)
    g = lambda d: (1 + 0.2 * rng.standard_normal(d)).astype(np.float32)
    w = {"model.embed_tokens.weight": n((V, D), 1.0)}
    for i in range(2):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = g(D)
        w[p + "post_attention_layernorm.weight"] = g(D)
        a = p + "self_attn."
        # q/k scaled up so attention is far from uniform
        w[a + "q_proj.weight"] = n((H * hd, D), 2.0 / np.sqrt(D))
        w[a + "k_proj.weight"] = n((KV * hd, D), 2.0 / np.sqrt(D))
        w[a + "v_proj.weight"] = n((KV * hd, D), 1.0 / np.sqrt(D))
        w[a + "o_proj.weight"] = n((D, H * hd), 1.0 / np.sqrt(H * hd))
        if c["model_type"] == "qwen2":
            for m, o in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
                w[a + f"{m}_proj.bias"] = n((o,), 0.3)
        if c["model_type"] == "qwen3":
            w[a + "q_norm.weight"] = g(hd)
            w[a + "k_norm.weight"] = g(hd)
        m = p + "mlp."
        w[m + "gate_proj.weight"] = n((F, D), 1.0 / np.sqrt(D))
        w[m + "up_proj.weight"] = n((F, D), 1.0 / np.sqrt(D))
        w[m + "down_proj.weight"] = n((D, F), 1.0 / np.sqrt(F))
    w["model.norm.weight"] = g(D)
    if not c["tied"]:
        w["lm_head.weight"] = n((V, D), 2.0 / np.sqrt(D))
    if c.get("bf16"):
        w = {k: R.bf16_round(v) for k, v in w.items()}
    return w


def make_lora(c, w, rng):
    lc = c["lora"]
    r = lc["r"]
    out = {}
    for name in sorted(w):
        parts = name.split(".")
        if len(parts) < 5 or parts[-1] != "weight" or parts[-2] not in R.LINEARS:
            continue
        if parts[-2] not in R.lora_targets(lc["targets"]):
            continue
        prefix = ".".join(parts[:-2]) + "."
        o, i = w[name].shape
        out[R.lora_key(prefix, parts[-2], "A")] = (rng.standard_normal((r, i)) / np.sqrt(i)).astype(np.float32)
        out[R.lora_key(prefix, parts[-2], "B")] = (rng.standard_normal((o, r)) * 0.1).astype(np.float32)
    return out


def make_pairs(c, rng, n=3):
    V = c["vocab"]
    pairs = []
    for i in range(n):
        lp = int(rng.integers(2, 7))
        lc = int(rng.integers(1, 11))
        lr = int(rng.integers(1, 11))
        if i == 0:
            lc = 1  # a one-token completion
        pairs.append({
            "prompt_input_ids": rng.integers(3, V, lp).tolist(),
            "chosen_input_ids": rng.integers(3, V, lc).tolist(),
            "rejected_input_ids": rng.integers(3, V, lr).tolist(),
        })
    return pairs


def collate(pairs, T=None):
    seqs, plens = [], []
    for key in ("chosen_input_ids", "rejected_input_ids"):
        for p in pairs:
            seqs.append(p["prompt_input_ids"] + p[key])
            plens.append(len(p["prompt_input_ids"]))
    T = T or max(len(s) for s in seqs)
    B = len(seqs)
    ids = np.zeros((B, T), np.int64)
    labels = np.full((B, T), -100, np.int64)
    pos = np.zeros((B, T), np.int64)
    segs = np.full((B, T), -1, np.int64)
    for b, (s, pl) in enumerate(zip(seqs, plens)):
        n = len(s)
        ids[b, :n] = s
        pos[b, :n] = np.arange(n)
        segs[b, :n] = 0
        for t in range(pl - 1, n - 1):
            labels[b, t] = s[t + 1]
    return ids, labels, pos, segs


def dpo(spec, P, batch, n, ref_c, ref_r, lora=None, lora_scale=1.0):
    ids, labels, pos, segs = (torch.tensor(a) for a in batch)
    logits = R.forward(spec, P, ids, pos, segs, lora=lora, lora_scale=lora_scale)
    lp = R.token_logps(logits, labels)
    lp.retain_grad()
    seq = lp.sum(-1)
    c, r = seq[:n], seq[n:]
    delta = (c - r) - (torch.tensor(ref_c, dtype=seq.dtype) - torch.tensor(ref_r, dtype=seq.dtype))
    loss = torch.nn.functional.softplus(-BETA * delta).mean()
    loss.backward()
    return lp, seq, loss, lp.grad


def entropy_and_mean_logit(spec, P, batch):
    """Per-token entropy of the next-token distribution and mean logit over the vocabulary,
    at labelled positions (0 elsewhere). [B,T] each."""
    ids, labels, pos, segs = (torch.tensor(a) for a in batch)
    logits = R.forward(spec, P, ids, pos, segs)
    lp = torch.log_softmax(logits, -1)
    ent = -(lp.exp() * lp).sum(-1)
    mean = logits.mean(-1)
    keep = labels >= 0
    return torch.where(keep, ent, torch.zeros_like(ent)), torch.where(keep, mean, torch.zeros_like(mean))


def rows(a):
    return [[float(x) for x in r] for r in a.detach().numpy()]


def gen_case(c, out_dir, seed):
    rng = np.random.default_rng(seed)
    d = os.path.join(out_dir, c["name"])
    os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
    cfg = make_config(c)
    w = make_weights(c, rng)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    R.write_safetensors(os.path.join(d, "model.safetensors"), w, "BF16" if c.get("bf16") else "F32",
                        metadata={"format": "pt"})
    pairs = make_pairs(c, rng)
    with open(os.path.join(d, "pairs.jsonl"), "w") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")
    n = len(pairs)
    batch = collate(pairs)

    # round-trip through the files so the goldens see exactly what a reader sees
    cfg, w = R.load_hf_dir(d)
    spec = R.Spec(cfg)

    P = R.Params(w)
    with torch.no_grad():
        probe = R.token_logps(R.forward(spec, P, *(torch.tensor(a) for a in (batch[0], batch[2], batch[3]))),
                              torch.tensor(batch[1])).sum(-1).numpy()
    ref_c = (probe[:n] + rng.standard_normal(n)).tolist()
    ref_r = (probe[n:] + rng.standard_normal(n)).tolist()
    lp, seq, loss, dlp = dpo(spec, P, batch, n, ref_c, ref_r)
    with torch.no_grad():
        ent, mlogit = entropy_and_mean_logit(spec, P, batch)
    grads = {k: v.grad.numpy().astype(np.float32) for k, v in P.w.items()}
    R.write_safetensors(os.path.join(d, "grads_full.safetensors"), grads)

    lc = c["lora"]
    lw = make_lora(c, w, rng)
    scale = lc["alpha"] / (np.sqrt(lc["r"]) if lc["rslora"] else lc["r"])
    targets = lc["targets"]
    acfg = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "..",
        "r": lc["r"], "lora_alpha": lc["alpha"], "lora_dropout": 0.0, "use_rslora": lc["rslora"],
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
        "target_modules": targets if targets == "all-linear" else targets.split(","),
    }
    json.dump(acfg, open(os.path.join(d, "adapter", "adapter_config.json"), "w"), indent=2)
    R.write_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"),
                        {"base_model.model." + k: v for k, v in lw.items()}, metadata={"format": "pt"})
    Pf = R.Params(w, requires_grad=False)
    L = R.Params(lw).w
    with torch.no_grad():
        probe = R.token_logps(R.forward(spec, Pf, *(torch.tensor(a) for a in (batch[0], batch[2], batch[3])),
                                        lora=L, lora_scale=scale), torch.tensor(batch[1])).sum(-1).numpy()
    lref_c = (probe[:n] + rng.standard_normal(n)).tolist()
    lref_r = (probe[n:] + rng.standard_normal(n)).tolist()
    llp, lseq, lloss, ldlp = dpo(spec, Pf, batch, n, lref_c, lref_r, lora=L, lora_scale=scale)
    lgrads = {"base_model.model." + k: v.grad.numpy().astype(np.float32) for k, v in L.items()}
    R.write_safetensors(os.path.join(d, "grads_lora.safetensors"), lgrads)

    ids, labels, pos, segs = batch
    golden = {
        "case": c["name"], "n_pairs": n, "beta": BETA,
        "ids": ids.tolist(), "labels": labels.tolist(), "positions": pos.tolist(), "segments": segs.tolist(),
        "ref_chosen": ref_c, "ref_rejected": ref_r,
        "full": {"logps": rows(lp), "seq_logps": [float(x) for x in seq.detach()], "loss": float(loss),
                 "dlogps": rows(dlp), "entropy": rows(ent), "mean_logit": rows(mlogit)},
        "lora": {"r": lc["r"], "alpha": lc["alpha"], "rslora": lc["rslora"], "targets": targets,
                 "scale": float(scale), "ref_chosen": lref_c, "ref_rejected": lref_r,
                 "logps": rows(llp), "seq_logps": [float(x) for x in lseq.detach()], "loss": float(lloss),
                 "dlogps": rows(ldlp)},
    }
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump(golden, f)
    print(f"{c['name']}: T={ids.shape[1]} loss={float(loss):.6f} lora_loss={float(lloss):.6f} "
          f"params={sum(v.size for v in w.values())}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "model", "testdata"))
    ap.add_argument("--seed", type=int, default=20240611)
    a = ap.parse_args()
    torch.manual_seed(0)
    for i, c in enumerate(CASES):
        gen_case(c, a.out, a.seed + i)


if __name__ == "__main__":
    main()
