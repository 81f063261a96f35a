#!/usr/bin/env python3
"""Writes a real-size benchmark checkpoint: a real model's config.json with random bf16
weights (normal(0, 0.02) drawn from one 16M-value pool at random offsets, so a 7B file
takes minutes, not an hour; norms 1), sharded as the hub ships it (model-0000i-of-0000n
.safetensors + model.safetensors.index.json), optionally pre-quantized as the hub's
*-bnb-4bit models (every decoder linear weight in bitsandbytes 4-bit, formulas of
reference/quant/bnb_ref.py; embeddings, norms and the head bf16), and pre-tokenized pairs.

  /usr/bin/python3 reference/bench/gen_shape.py --shape qwen2.5-7b --out DIR [--shards 4]
      [--bnb4 nf4|fp4 [--double-quant]] [--pairs 8] [--prompt 128] [--completion 104:120]

Shapes (config.json of the hub repos Qwen/Qwen2.5-0.5B, -1.5B, -7B-Instruct and
Qwen/Qwen3-1.7B): qwen2.5-0.5b, qwen2.5-1.5b, qwen2.5-7b, qwen3-1.7b.
Needs the Debian python (/usr/bin/python3) with python3-numpy (and python3-torch for --bnb4).
"""
import argparse, json, os, struct, sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

QWEN2 = {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
         "eos_token_id": 151645, "hidden_act": "silu", "initializer_range": 0.02, "model_type": "qwen2",
         "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "torch_dtype": "bfloat16", "use_cache": True,
         "use_sliding_window": False}
SHAPES = {
    "qwen2.5-0.5b": dict(QWEN2, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, max_position_embeddings=32768, max_window_layers=24,
                         sliding_window=32768, tie_word_embeddings=True, vocab_size=151936),
    "qwen2.5-1.5b": dict(QWEN2, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, max_position_embeddings=131072, max_window_layers=28,
                         sliding_window=131072, tie_word_embeddings=True, vocab_size=151936),
    "qwen2.5-7b": dict(QWEN2, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, max_position_embeddings=32768, max_window_layers=28,
                       sliding_window=131072, tie_word_embeddings=False, vocab_size=152064),
    "qwen3-1.7b": {"architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
                   "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
                   "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 6144,
                   "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
                   "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
                   "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
                   "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True,
                   "use_sliding_window": False, "vocab_size": 151936},
}


def tensor_shapes(cfg):
    C, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    NH, NKV, V = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    HD = cfg.get("head_dim") or C // NH
    qwen2 = cfg["model_type"] == "qwen2"
    out = [("model.embed_tokens.weight", (V, C))]
    for l in range(L):
        p = f"model.layers.{l}."
        out += [(p + "self_attn.q_proj.weight", (NH * HD, C)), (p + "self_attn.k_proj.weight", (NKV * HD, C)),
                (p + "self_attn.v_proj.weight", (NKV * HD, C)), (p + "self_attn.o_proj.weight", (C, NH * HD))]
        if qwen2:
            out += [(p + "self_attn.q_proj.bias", (NH * HD,)), (p + "self_attn.k_proj.bias", (NKV * HD,)),
                    (p + "self_attn.v_proj.bias", (NKV * HD,))]
        else:
            out += [(p + "self_attn.q_norm.weight", (HD,)), (p + "self_attn.k_norm.weight", (HD,))]
        out += [(p + "mlp.gate_proj.weight", (F, C)), (p + "mlp.up_proj.weight", (F, C)), (p + "mlp.down_proj.weight", (C, F)),
                (p + "input_layernorm.weight", (C,)), (p + "post_attention_layernorm.weight", (C,))]
    out.append(("model.norm.weight", (C,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, C)))
    return out


def bf16_round(a):
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


class Pool:
    def __init__(self, rng, n=1 << 24):
        self.rng = rng
        self.bits = bf16_round(rng.standard_normal(n, dtype=np.float32) * 0.02)
        self.n = n

    def take(self, count):
        off = int(self.rng.integers(0, self.n))
        reps = (off + count + self.n - 1) // self.n
        return np.tile(self.bits, reps)[off:off + count] if reps > 1 else self.bits[off:off + count]


def is_linear(name):
    return name.startswith("model.layers.") and name.endswith("_proj.weight")


def write_shard(path, items):
    """items: [(name, dtype, shape, bytes)] → one safetensors file, atomically."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dt, shp, b in items:
        header[name] = {"dtype": dt, "shape": list(shp), "data_offsets": [off, off + len(b)]}
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for *_, b in items:
            f.write(b)
    os.replace(path + ".tmp", path)
    return off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--shards", type=int, default=0, help="0: one shard per ~4 GB")
    ap.add_argument("--bnb4", choices=["nf4", "fp4"])
    ap.add_argument("--double-quant", action="store_true")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--completion", default="104:120")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    cfg = dict(SHAPES[a.shape])
    rng = np.random.default_rng(a.seed)
    pool = Pool(rng)
    shapes = tensor_shapes(cfg)
    if a.bnb4:
        sys.path.insert(0, os.path.join(HERE, "..", "quant"))
        import torch
        import bnb_ref as Q
        cfg["quantization_config"] = {
            "quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False,
            "bnb_4bit_quant_type": a.bnb4, "bnb_4bit_use_double_quant": a.double_quant,
            "bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_quant_storage": "uint8",
            "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0}
    mdir = os.path.join(a.out, "model")
    os.makedirs(mdir, exist_ok=True)

    def tensors_of(name, shp):
        n = int(np.prod(shp))
        if name.endswith("norm.weight"):
            return [(name, "BF16", shp, bf16_round(np.ones(n, np.float32)).tobytes())]
        if name.endswith(".bias"):
            return [(name, "BF16", shp, np.zeros(n, "<u2").tobytes())]
        bits = pool.take(n)
        if not (a.bnb4 and is_linear(name)):
            return [(name, "BF16", shp, bits.tobytes())]
        x = torch.from_numpy(bits.astype(np.int16)).view(torch.bfloat16).reshape(shp)
        packed, absmax = Q.quantize_4bit(x, a.bnb4, 64)
        state = {"quant_type": a.bnb4, "blocksize": 64, "dtype": "bfloat16", "shape": list(shp)}
        out = [(name, "U8", tuple(packed.shape), packed.numpy().tobytes()),
               (name + ".quant_map", "F32", (16,), Q.code4(a.bnb4).numpy().tobytes())]
        if a.double_quant:
            offset = absmax.mean()
            code2 = Q.dynamic_map()
            qabs, abs2 = Q.quantize_blockwise(absmax - offset, code2, 256)
            out += [(name + ".absmax", "U8", tuple(qabs.shape), qabs.numpy().tobytes()),
                    (name + ".nested_absmax", "F32", tuple(abs2.shape), abs2.numpy().tobytes()),
                    (name + ".nested_quant_map", "F32", (256,), code2.numpy().tobytes())]
            state.update({"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": offset.item()})
        else:
            out.append((name + ".absmax", "F32", tuple(absmax.shape), absmax.numpy().tobytes()))
        js = json.dumps(state).encode()
        out.append((name + ".quant_state.bitsandbytes__" + a.bnb4, "U8", (len(js),), js))
        return out

    total = sum(int(np.prod(s)) * 2 for _, s in shapes)
    if a.bnb4:
        total //= 3
    nshards = a.shards or max(1, (total + (4 << 30) - 1) // (4 << 30))
    per = (total + nshards - 1) // nshards
    weight_map, size, shard, cur, cur_bytes = {}, 0, 1, [], 0
    names = [f"model-{i:05d}-of-{nshards:05d}.safetensors" for i in range(1, nshards + 1)]

    def flush():
        nonlocal cur, cur_bytes, shard, size
        if cur:
            size += write_shard(os.path.join(mdir, names[shard - 1]), cur)
            print(f"wrote {names[shard - 1]} ({cur_bytes / 2**30:.2f} GiB)", file=sys.stderr)
            shard += 1
            cur, cur_bytes = [], 0

    for name, shp in shapes:
        items = tensors_of(name, shp)
        nb = sum(len(b) for *_, b in items)
        if cur and cur_bytes + nb > per and shard < nshards:
            flush()
        for it in items:
            weight_map[it[0]] = names[shard - 1]
        cur.append(items) if False else cur.extend(items)
        cur_bytes += nb
    flush()
    if shard - 1 != nshards:  # fewer shards filled than named: rename to the real count
        raise SystemExit(f"internal: filled {shard - 1} of {nshards} shards")
    with open(os.path.join(mdir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": size}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    lo, hi = (int(x) for x in a.completion.split(":"))
    V = cfg["vocab_size"]
    with open(os.path.join(a.out, "pairs.jsonl"), "w") as f:
        for _ in range(a.pairs):
            f.write(json.dumps({"prompt_input_ids": rng.integers(0, V, a.prompt).tolist(),
                                "chosen_input_ids": rng.integers(0, V, int(rng.integers(lo, hi + 1))).tolist(),
                                "rejected_input_ids": rng.integers(0, V, int(rng.integers(lo, hi + 1))).tolist()}) + "\n")


if __name__ == "__main__":
    main()
