#!/usr/bin/env python3
"""Writes the Qwen2.5-0.5B-shaped benchmark inputs: the real Qwen2.5-0.5B config.json
(24 layers, hidden 896, 14 heads / 2 kv, ffn 4864, vocab 151,936, q/k/v bias, tied
embeddings; copied from hf/config/testdata/qwen2.5-0.5b.json) with random bf16 weights
(normal(0, 0.02), norms 1), and pre-tokenized pairs (prompt 128, completions 96-128).

  /usr/bin/python3 reference/bench/gen_qwen05b.py --out DIR [--pairs 32] [--seed 1234]

DIR/model/{config.json,model.safetensors}, DIR/pairs.jsonl. Needs numpy (Debian python3-numpy).
"""
import argparse, json, os, struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "..", "..", "hf", "config", "testdata", "qwen2.5-0.5b.json")


def bf16_bytes(a):
    """float32 → bfloat16 bytes, round to nearest even (torch's rule)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
    return r.tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    cfg = json.load(open(CONFIG))
    C, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    HD = C // NH
    rng = np.random.default_rng(a.seed)
    shapes = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,)}
    for l in range(L):
        p = f"model.layers.{l}."
        shapes.update({
            p + "input_layernorm.weight": (C,), p + "post_attention_layernorm.weight": (C,),
            p + "self_attn.q_proj.weight": (NH * HD, C), p + "self_attn.q_proj.bias": (NH * HD,),
            p + "self_attn.k_proj.weight": (NKV * HD, C), p + "self_attn.k_proj.bias": (NKV * HD,),
            p + "self_attn.v_proj.weight": (NKV * HD, C), p + "self_attn.v_proj.bias": (NKV * HD,),
            p + "self_attn.o_proj.weight": (C, NH * HD),
            p + "mlp.gate_proj.weight": (F, C), p + "mlp.up_proj.weight": (F, C), p + "mlp.down_proj.weight": (C, F),
        })
    os.makedirs(os.path.join(a.out, "model"), exist_ok=True)
    header, off = {}, 0
    for name, shp in shapes.items():
        n = int(np.prod(shp)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shp), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path = os.path.join(a.out, "model", "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shp in shapes.items():
            if name.endswith("norm.weight"):
                arr = np.ones(shp, dtype=np.float32)
            else:
                arr = (rng.standard_normal(shp, dtype=np.float32) * 0.02)
            f.write(bf16_bytes(arr))
    os.replace(path + ".tmp", path)
    with open(os.path.join(a.out, "model", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(a.out, "pairs.jsonl"), "w") as f:
        for _ in range(a.pairs):
            prompt = rng.integers(0, V, 128).tolist()
            c = rng.integers(0, V, int(rng.integers(96, 129))).tolist()
            r = rng.integers(0, V, int(rng.integers(96, 129))).tolist()
            f.write(json.dumps({"prompt_input_ids": prompt, "chosen_input_ids": c, "rejected_input_ids": r}) + "\n")


if __name__ == "__main__":
    main()
