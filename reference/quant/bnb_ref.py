#!/usr/bin/env python3
"""Reference rendering of bitsandbytes' 4-bit (NF4/FP4) and 8-bit blockwise formulas.

Needs the Debian python (/usr/bin/python3) with python3-torch. bitsandbytes itself is not
installed; the formulas are re-implemented from its source (bitsandbytes-foundation/
bitsandbytes @ 95f9af30: bitsandbytes/backends/default/ops.py quantize_4bit /
_dequantize_4bit_compute / quantize_blockwise / _dequantize_blockwise_compute,
bitsandbytes/functional.py create_dynamic_map / get_4bit_type / quantize_4bit
(compress_statistics: offset = absmax.mean(), quantize_blockwise(absmax - offset,
blocksize=256)) / dequantize_4bit / QuantState.as_dict(packed=True),
bitsandbytes/utils.py pack_dict_to_tensor).

Writes quant/testdata/bnb4.safetensors: for each case a weight "<case>.weight" laid out as
a hub *-bnb-4bit checkpoint stores it (U8 [n/2, 1] packed, high nibble first;
.absmax, .quant_map, [.nested_absmax, .nested_quant_map], .quant_state.bitsandbytes__<t>
as UTF-8 JSON bytes), the source tensor "<case>.source" (F32 or BF16) and the
dequantized weight "<case>.dequant" (F32, then in the source dtype as
dequantize_4bit returns it). Usage: /usr/bin/python3 reference/quant/bnb_ref.py OUT_DIR
"""
import json
import struct
import sys

import torch

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4_RAW = [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]


def code4(t):
    d = torch.tensor(NF4 if t == "nf4" else FP4_RAW)
    d.div_(d.abs().max())
    return d


def dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    for _ in range(256 - len(data)):
        data.append(0)
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


def absmax_scale(a, blocksize):
    n = a.numel()
    rem = n % blocksize
    full = n - rem
    com = a[:full].reshape(full // blocksize, blocksize)
    absmax = com.abs().max(dim=-1)[0]
    scaled = torch.clamp(com * (1.0 / absmax.clamp(min=1e-38).view(-1, 1)), -1, 1).reshape(-1)
    if rem:
        am = a[full:].abs().max().clamp(min=1e-38)
        absmax = torch.cat([absmax, am.unsqueeze(0)])
        scaled = torch.cat([scaled, torch.clamp(a[full:] / am, -1, 1)])
    return scaled, absmax


def quantize_blockwise(a, code, blocksize):
    scaled, absmax = absmax_scale(a.reshape(-1).float(), blocksize)
    bounds = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, bounds, out_int32=True).to(torch.uint8), absmax


def dequantize_blockwise(q, absmax, code, blocksize):
    n = q.numel()
    out = code[q.to(torch.int64)]
    rem = n % blocksize
    full = n - rem
    parts = [(out[:full].reshape(-1, blocksize) * absmax[:full // blocksize].view(-1, 1)).reshape(full)]
    if rem:
        parts.append(out[full:] * absmax[full // blocksize])
    return torch.cat(parts)


def quantize_4bit(a, t, blocksize):
    code = code4(t)
    order = torch.argsort(code)
    bounds = (code[order[:-1]] + code[order[1:]]) / 2
    scaled, absmax = absmax_scale(a.reshape(-1).float(), blocksize)
    if scaled.numel() % 2:
        scaled = torch.nn.functional.pad(scaled, (0, 1))
    q = torch.bucketize(scaled, bounds, out_int32=True)
    if t != "nf4":
        q = order[q.long()]
    q8 = q.to(torch.uint8)
    return ((q8[::2] << 4) | q8[1::2]).unsqueeze(1), absmax


def dequantize_4bit(packed, absmax, t, blocksize, shape, dtype):
    a = packed.reshape(-1)
    n = 1
    for s in shape:
        n *= s
    dq = torch.empty(a.numel() * 2, dtype=torch.int32)
    dq[1::2] = (a & 0xF).to(torch.int32)
    dq[::2] = (a >> 4).to(torch.int32)
    out = code4(t)[dq.to(torch.int64)][:n]
    rem = n % blocksize
    full = n - rem
    res = torch.empty(n, dtype=torch.float32)
    res[:full] = (out[:full].view(-1, blocksize) * absmax[:full // blocksize].view(-1, 1)).reshape(full)
    if rem:
        res[full:] = out[full:] * absmax[full // blocksize]
    return res.reshape(shape).to(dtype)


ST = {torch.float32: "F32", torch.bfloat16: "BF16", torch.uint8: "U8"}


def raw(t):
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().tobytes()
    return t.contiguous().numpy().tobytes()


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = raw(t)
        header[name] = {"dtype": ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1]
    g = torch.Generator().manual_seed(1234)
    cases = [  # name, shape, dtype, quant type, blocksize, double quant
        ("nf4_f32", (48, 40), torch.float32, "nf4", 64, False),
        ("nf4_bf16_dq", (64, 72), torch.bfloat16, "nf4", 64, True),
        ("fp4_f32_dq", (32, 50), torch.float32, "fp4", 64, True),
        ("nf4_odd", (7, 37), torch.float32, "nf4", 64, True),  # n % 64 != 0, n odd
        ("nf4_bs128_bf16", (16, 96), torch.bfloat16, "nf4", 128, False),
    ]
    tensors = {}
    for name, shape, dtype, t, bs, dq in cases:
        w = (torch.randn(shape, generator=g) * 0.05).to(dtype)
        w.view(-1)[3] = 0.0  # a zero, and a block scaled by a large value
        w.view(-1)[5] = 0.4
        packed, absmax = quantize_4bit(w, t, bs)
        p = name + ".weight"
        tensors[name + ".source"] = w
        state = {"quant_type": t, "blocksize": bs, "dtype": str(dtype).replace("torch.", ""), "shape": list(shape)}
        tensors[p] = packed
        tensors[p + ".quant_map"] = code4(t)
        if dq:
            offset = absmax.mean()
            code2 = dynamic_map()
            qabs, abs2 = quantize_blockwise(absmax - offset, code2, 256)
            tensors[p + ".absmax"] = qabs
            tensors[p + ".nested_absmax"] = abs2
            tensors[p + ".nested_quant_map"] = code2
            state.update({"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": offset.item()})
            absmax_used = dequantize_blockwise(qabs, abs2, code2, 256) + torch.tensor(offset.item())
        else:
            tensors[p + ".absmax"] = absmax
            absmax_used = absmax
        js = json.dumps({k: state[k] for k in ["quant_type", "blocksize", "dtype", "shape"] +
                         (["nested_blocksize", "nested_dtype", "nested_offset"] if dq else [])})
        tensors[p + ".quant_state.bitsandbytes__" + t] = torch.tensor(list(js.encode()), dtype=torch.uint8)
        tensors[name + ".dequant"] = dequantize_4bit(packed, absmax_used.float(), t, bs, shape, dtype)
        if dq:  # the absmax before double quant, for the quantize-on-load check
            tensors[name + ".absmax_raw"] = absmax
    tensors["dynamic_map"] = dynamic_map()
    write_safetensors(out + "/bnb4.safetensors", tensors)


if __name__ == "__main__":
    main()
