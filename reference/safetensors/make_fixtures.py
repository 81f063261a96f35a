#!/usr/bin/python3
"""Generates the safetensors fixtures and goldens under hf/safetensors/testdata/.

Run with Debian's python (torch + numpy):  /usr/bin/python3 reference/safetensors/make_fixtures.py

Independence: the files are written by the small writer below (not by preftune's Go code),
one file by the peer benchmark's numpy writer (shared/peer/make_bench_inputs.py), and every
expected float comes from torch's own dtype conversion (.to(torch.float32 / bfloat16 /
float16)) on this machine (torch 1.13, x86 with F16C/AVX-512). Expected values are stored as
IEEE bit patterns so NaN payloads, -0 and subnormals compare exactly.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "hf", "safetensors", "testdata")

TORCH_DTYPE = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
               "I64": torch.int64, "I32": torch.int32}


def raw_bytes(t):
    """Little-endian bytes of a contiguous torch tensor (bf16 goes through an int16 view)."""
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def f32_bits(t):
    """float32 bit patterns of torch's conversion of t to float32, as Python ints."""
    return [int(x) for x in t.to(torch.float32).contiguous().view(torch.int32).numpy().view(np.uint32).ravel()]


def sha256_f32(t):
    return hashlib.sha256(t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).hexdigest()


def from_bits_u32(bits):
    return torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32).copy())


def from_bits_u16(bits, dtype):
    t = torch.from_numpy(np.array(bits, dtype=np.uint16).view(np.int16).copy())
    return t.view(dtype)


def write_st(path, tensors, metadata=None, pad=True):
    """Writes a safetensors file: tensors is a list of (name, torch tensor) in data order."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t in tensors:
        dt = {v: k for k, v in TORCH_DTYPE.items()}[t.dtype]
        b = raw_bytes(t)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def describe(tensors, metadata, ints=()):
    """Expected-values record for a file written from tensors (list of (name, tensor))."""
    out = []
    for name, t in tensors:
        dt = {v: k for k, v in TORCH_DTYPE.items()}[t.dtype]
        rec = {"name": name, "dtype": dt, "shape": list(t.shape)}
        if t.numel() > 4096:
            rec["f32_sha256"] = sha256_f32(t)
        else:
            rec["f32_bits"] = f32_bits(t)
        if name in ints:
            rec["ints"] = [int(x) for x in t.ravel().tolist()]
        out.append(rec)
    return {"metadata": metadata, "tensors": out}


def fmix32(i):
    """murmur3's 32-bit finalizer over a counter: the same pseudo-random bits in Go's test."""
    h = (i * np.uint32(0x9E3779B1)).astype(np.uint32)
    h ^= h >> np.uint32(16)
    h = (h * np.uint32(0x85EBCA6B)).astype(np.uint32)
    h ^= h >> np.uint32(13)
    h = (h * np.uint32(0xC2B2AE35)).astype(np.uint32)
    h ^= h >> np.uint32(16)
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", default=os.path.join(REPO, "..", "shared", "peer", "make_bench_inputs.py"))
    a = ap.parse_args()
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    g = torch.Generator().manual_seed(20240611)
    expected = {"torch_version": torch.__version__, "files": {}}
    pt = {"format": "pt"}

    # F32: ordinary values, a scalar, an empty tensor, IEEE specials.
    special = from_bits_u32([0x7F800000, 0xFF800000, 0x7FC00000, 0x80000000, 0x00000001,
                             0x7F7FFFFF, 0x80800000, 0x3F800000, 0xC0200000, 0x000116C2, 0xFFC12345])
    f32 = [("matrix", torch.randn(3, 4, generator=g)),
           ("scalar", torch.tensor(3.5)),
           ("empty", torch.zeros(0, 3)),
           ("special", special)]
    write_st(os.path.join(OUT, "f32.safetensors"), f32, pt)
    expected["files"]["f32.safetensors"] = describe(f32, pt)

    # F16: every bit pattern, and a few values rounded by torch.
    f16_all = from_bits_u16(np.arange(65536), torch.float16).reshape(256, 256)
    f16 = [("all_bits", f16_all),
           ("values", torch.tensor([[0.1, -2.5, 65504.0], [1e-7, 3.14159, -0.0]]).to(torch.float16))]
    write_st(os.path.join(OUT, "f16.safetensors"), f16, pt)
    expected["files"]["f16.safetensors"] = describe(f16, pt)

    # BF16: every bit pattern, and values rounded by torch.
    bf16_all = from_bits_u16(np.arange(65536), torch.bfloat16)
    bf16 = [("all_bits", bf16_all),
            ("values", torch.tensor([0.1, -2.5, 1e-40, 3.0e38]).to(torch.bfloat16))]
    write_st(os.path.join(OUT, "bf16.safetensors"), bf16)
    expected["files"]["bf16.safetensors"] = describe(bf16, None)

    # F64: float32 rounding of ties, overflow, underflow to subnormal/zero, NaN.
    f64 = torch.from_numpy(np.array([1.0, 1 + 2.0**-24, 1 + 3 * 2.0**-24, 1e39, -1e39, 1e-46, 1e-44, -0.0,
                                     float("nan"), float("inf"), 3.4028235677973366e38, 0.1], dtype="<f8"))
    write_st(os.path.join(OUT, "f64.safetensors"), [("values", f64)])
    expected["files"]["f64.safetensors"] = describe([("values", f64)], None)

    # Integers, including values float32 cannot hold exactly (torch rounds them to nearest-even).
    ints = [("i64", torch.tensor([0, 1, -1, 2**63 - 1, -2**63, 2**24 + 1, 2**60 + 2**36 + 1], dtype=torch.int64)),
            ("i32", torch.tensor([[0, -1, 2**31 - 1], [-2**31, 2**24 + 1, 123]], dtype=torch.int32))]
    write_st(os.path.join(OUT, "ints.safetensors"), ints)
    expected["files"]["ints.safetensors"] = describe(ints, None, ints=("i64", "i32"))

    # No header padding, and a 3-element BF16 tensor first so the F32 data is misaligned.
    unpadded = [("odd_bf16", torch.tensor([1.0, -1.0, 0.5]).to(torch.bfloat16)),
                ("after", torch.arange(5, dtype=torch.float32) / 3)]
    write_st(os.path.join(OUT, "unpadded.safetensors"), unpadded, {"note": "no padding"}, pad=False)
    expected["files"]["unpadded.safetensors"] = describe(unpadded, {"note": "no padding"})

    # A file from the peer benchmark's own numpy writer (F32, no metadata).
    spec = importlib.util.spec_from_file_location("peer", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    rng = np.random.default_rng(7)
    peer_w = {"model.embed_tokens.weight": rng.normal(0, 0.02, (8, 4)).astype(np.float32),
              "model.norm.weight": (1 + 0.1 * rng.standard_normal(4)).astype(np.float32)}
    peer.write_safetensors(os.path.join(OUT, "peer.safetensors"), peer_w)
    expected["files"]["peer.safetensors"] = describe([(k, torch.from_numpy(v)) for k, v in peer_w.items()], None)

    # A sharded model directory as transformers lays it out.
    shard1 = [("model.embed_tokens.weight", torch.randn(4, 3, generator=g)),
              ("model.layers.0.input_layernorm.weight", torch.randn(3, generator=g))]
    norm = torch.randn(3, generator=g)
    head = torch.randn(4, 3, generator=g)
    # Within a shard, the order WriteModel documents: element size, then name.
    shard2 = [("lm_head.weight", head.to(torch.float16)), ("model.norm.weight", norm.to(torch.bfloat16))]
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    total = 0
    weight_map = {}
    for fname, ts in zip(names, (shard1, shard2)):
        write_st(os.path.join(OUT, "sharded", fname), ts, pt)
        for n, t in ts:
            weight_map[n] = fname
            total += len(raw_bytes(t))
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")
    expected["sharded"] = {"files": names, **describe(shard1 + shard2, pt)}
    # The same model as float32 inputs, in transformers' parameter order, for WriteModel
    # (max shard size 60 bytes splits it exactly as above).
    expected["sharded"]["inputs"] = [
        {"name": n, "dtype": d, "shape": list(t.shape), "f32_bits": f32_bits(t)}
        for n, d, t in [("model.embed_tokens.weight", "F32", shard1[0][1]),
                        ("model.layers.0.input_layernorm.weight", "F32", shard1[1][1]),
                        ("lm_head.weight", "F16", head), ("model.norm.weight", "BF16", norm)]]
    expected["sharded"]["max_shard_bytes"] = 60

    # Rounding goldens: float32 inputs and torch's bf16/f16 results, bit for bit.
    curated = [0x00000000, 0x80000000, 0x3F800000, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F80FFFF,
               0x3F7FFFFF, 0x7F7FFFFF, 0x7F7F7FFF, 0x7F7F8000, 0xFF7F8000, 0x7F800000, 0xFF800000,
               0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0x00000001, 0x00008000, 0x00008001,
               0x00018000, 0x007FFFFF, 0x00800000, 0x33000000, 0x33000001, 0x337FFFFF, 0x33800000,
               0x33C00000, 0x38800000, 0x387FE000, 0x387FF000, 0x387FEFFF, 0x477FE000, 0x477FEFFF,
               0x477FF000, 0x477FF001, 0x3DCCCCCD, 0xC0490FDB, 0x40490FDB, 0x3EAAAAAB, 0x4B7FFFFF,
               0xB3FFFFFF, 0x80000001, 0x39800000, 0x3A000FFF, 0x3A001000, 0x3A003000]
    x = from_bits_u32(curated)
    bf = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    hf = x.to(torch.float16).view(torch.int16).numpy().view(np.uint16)
    expected["rounding"] = {"f32_bits": curated, "bf16_bits": [int(v) for v in bf], "f16_bits": [int(v) for v in hf]}

    n = 1 << 20
    rnd = torch.from_numpy(fmix32(np.arange(n, dtype=np.uint32)).view(np.float32).copy())
    expected["random_rounding"] = {
        "count": n,
        "bf16_sha256": hashlib.sha256(raw_bytes(rnd.to(torch.bfloat16))).hexdigest(),
        "f16_sha256": hashlib.sha256(raw_bytes(rnd.to(torch.float16))).hexdigest(),
    }

    # Whole-file writer golden: the exact bytes WriteFile must produce for these tensors
    # (documented layout: __metadata__ first, data by element size then name, compact JSON,
    # space padding to 8). Data bytes come from torch's own conversions.
    wa = torch.tensor([1.0, -0.0, 3.25], dtype=torch.float32)
    wb = from_bits_u32(curated[:8]).reshape(2, 4)
    wc = from_bits_u32(curated[28:33])
    golden = [("a.weight", wa), ("b.weight", wb.to(torch.bfloat16)), ("c.scale", wc.to(torch.float16))]
    write_st(os.path.join(OUT, "writer_golden.safetensors"), golden, pt)
    expected["writer_golden"] = {
        "file": "writer_golden.safetensors",
        "metadata": pt,
        "inputs": [{"name": "c.scale", "dtype": "F16", "shape": [5], "f32_bits": f32_bits(wc)},
                   {"name": "a.weight", "dtype": "F32", "shape": [3], "f32_bits": f32_bits(wa)},
                   {"name": "b.weight", "dtype": "BF16", "shape": [2, 4], "f32_bits": f32_bits(wb)}],
    }

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
