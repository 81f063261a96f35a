#!/usr/bin/env python3
"""PyTorch reference for preftune's model engine (independent of the Go code).

Builds the Llama / Qwen2 / Qwen3 / Mistral decoder stack from a Hugging Face model dir
(config.json + model.safetensors) with the semantics of transformers' modeling code:

  * RMSNorm computed in float: x * rsqrt(mean(x^2) + eps) * weight        (LlamaRMSNorm)
  * rotate-half RoPE, inv_freq = 1/theta^(2i/head_dim); rope_scaling "llama3"
    (modeling_rope_utils._compute_llama3_parameters) and "linear"
  * grouped-query attention (repeat_kv), scale head_dim^-0.5, causal + padding mask
  * Mistral sliding window with transformers' masking_utils convention:
    key k is visible from query q iff k <= q and k > q - sliding_window
  * Qwen2 q/k/v bias (attention_bias for Llama/Qwen3), Qwen3 q_norm/k_norm: RMSNorm over head_dim
    applied per head before RoPE, explicit head_dim (may differ from hidden/heads)
  * SwiGLU MLP: down(silu(gate(x)) * up(x)), final norm, tied or untied lm_head
  * LoRA as PEFT's lora.Linear: W x + b + scale * B(A(dropout(x))), scale = alpha/r
    (alpha/sqrt(r) with use_rslora)

Everything is computed in float64 by default so the goldens are the exact answer that a float32
implementation should approach. Needs only Debian's python3-torch and python3-numpy (no transformers).
"""
import json
import math
import os
import struct

import numpy as np
import torch

LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# ---------------------------------------------------------------------------------------------
# safetensors (small numpy reader/writer: F32, F16, BF16)

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name}: unsupported dtype {dt}")
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def to_bf16_bits(a):
    """float32 array -> uint16 bf16 bits, round to nearest even (as torch does)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_round(a):
    return (to_bf16_bits(a).astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        if dtype == "BF16":
            b = to_bf16_bits(arr).astype("<u2").tobytes()
        else:
            b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_hf_dir(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    return cfg, w


# ---------------------------------------------------------------------------------------------
# config

class Spec:
    """The architecture facts the forward pass needs, read from config.json like transformers does."""

    def __init__(self, cfg):
        self.model_type = cfg["model_type"]
        self.D = cfg["hidden_size"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads") or self.H
        self.hd = cfg.get("head_dim") or self.D // self.H
        self.L = cfg["num_hidden_layers"]
        self.V = cfg["vocab_size"]
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        self.rope_scaling = cfg.get("rope_scaling")
        self.tied = bool(cfg.get("tie_word_embeddings", False))  # Llama/Qwen2/Qwen3/MistralConfig default
        self.qk_norm = self.model_type == "qwen3"
        if self.model_type == "qwen2":
            self.qkv_bias = True
        else:
            self.qkv_bias = bool(cfg.get("attention_bias", False))
        self.sliding_window = None
        sw = cfg.get("sliding_window")
        if self.model_type == "mistral" and sw:
            self.sliding_window = sw
        elif self.model_type in ("qwen2", "qwen3") and sw and cfg.get("use_sliding_window", False):
            # every layer from max_window_layers on uses the window (Qwen2Attention)
            self.sliding_window = sw
            self.max_window_layers = cfg.get("max_window_layers", self.L)
        self.max_window_layers = getattr(self, "max_window_layers", 0)

    def window(self, layer):
        if self.sliding_window is None:
            return None
        if self.model_type == "mistral":
            return self.sliding_window
        return self.sliding_window if layer >= self.max_window_layers else None


def rope_inv_freq(spec, dtype=torch.float64):
    """inv_freq [hd/2] like modeling_rope_utils (default, linear, llama3)."""
    hd = spec.hd
    inv = 1.0 / (spec.theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(dtype) / hd))
    rs = spec.rope_scaling
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor = rs["factor"]
        lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wl < hi_wl) & ~(wl > lo_wl)
        return torch.where(medium, smoothed, out)
    raise SystemExit(f"rope_scaling type {kind!r} not supported by the reference")


# ---------------------------------------------------------------------------------------------
# model

def rms(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class Params:
    """Leaf tensors keyed by HF name; LoRA tensors keyed by PEFT name (without base_model.model.)."""

    def __init__(self, weights, dtype=torch.float64, requires_grad=True):
        self.w = {k: torch.tensor(v, dtype=dtype, requires_grad=requires_grad) for k, v in weights.items()}


def lora_key(prefix, mod, which):
    # e.g. model.layers.0.self_attn.q_proj.lora_A.weight
    return f"{prefix}{mod}.lora_{which}.weight"


def forward(spec, P, ids, positions, segs, lora=None, lora_scale=1.0, use_lora=True):
    """Logits [B,T,V] for ids [B,T] (int64), positions [B,T], segment ids [B,T] (-1 = padding).

    Query q of row b sees key k iff segs[b,k] == segs[b,q] >= 0, k <= q, and (sliding window W)
    k > q - W. Padding queries see only themselves (their outputs are never used).
    """
    w = P.w
    B, T = ids.shape
    dt = w["model.embed_tokens.weight"].dtype
    hd, H, KV = spec.hd, spec.H, spec.KV
    inv = rope_inv_freq(spec, dt)
    ang = positions.to(dt)[..., None] * inv  # [B,T,hd/2]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [B,1,T,hd]
    qi = torch.arange(T)[:, None]
    ki = torch.arange(T)[None, :]
    same = (segs[:, :, None] == segs[:, None, :]) & (segs[:, :, None] >= 0)  # [B,T,T]
    eye = torch.eye(T, dtype=torch.bool)[None]

    def mask_for(layer):
        allow = same & (ki <= qi)[None]
        W = spec.window(layer)
        if W is not None:
            allow = allow & (ki > qi - W)[None]
        allow = allow | ((segs < 0)[:, :, None] & eye)
        return torch.zeros(B, 1, T, T, dtype=dt).masked_fill(~allow[:, None], float("-inf"))

    def linear(x, prefix, mod, bias=False):
        y = x @ w[prefix + mod + ".weight"].T
        if bias:
            y = y + w[prefix + mod + ".bias"]
        if lora is not None and use_lora:
            a = lora.get(lora_key(prefix, mod, "A"))
            if a is not None:
                b = lora[lora_key(prefix, mod, "B")]
                y = y + (x @ a.T) @ b.T * lora_scale
        return y

    x = w["model.embed_tokens.weight"][ids]
    rep = H // KV
    for l in range(spec.L):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"], spec.eps)
        a = p + "self_attn."
        q = linear(h, a, "q_proj", spec.qkv_bias).view(B, T, H, hd)
        k = linear(h, a, "k_proj", spec.qkv_bias).view(B, T, KV, hd)
        v = linear(h, a, "v_proj", spec.qkv_bias).view(B, T, KV, hd)
        if spec.qk_norm:
            q = rms(q, w[a + "q_norm.weight"], spec.eps)
            k = rms(k, w[a + "k_norm.weight"], spec.eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if rep > 1:
            k = k[:, :, None].expand(B, KV, rep, T, hd).reshape(B, H, T, hd)
            v = v[:, :, None].expand(B, KV, rep, T, hd).reshape(B, H, T, hd)
        s = (q @ k.transpose(-1, -2)) * hd ** -0.5 + mask_for(l)
        o = s.softmax(-1) @ v
        o = o.transpose(1, 2).reshape(B, T, H * hd)
        x = x + linear(o, a, "o_proj")
        h = rms(x, w[p + "post_attention_layernorm.weight"], spec.eps)
        m = p + "mlp."
        g = linear(h, m, "gate_proj")
        u = linear(h, m, "up_proj")
        x = x + linear(torch.nn.functional.silu(g) * u, m, "down_proj")
    x = rms(x, w["model.norm.weight"], spec.eps)
    head = w["model.embed_tokens.weight"] if spec.tied else w["lm_head.weight"]
    return x @ head.T


def token_logps(logits, labels):
    """log softmax(logits[b,t])[labels[b,t]], 0 where labels < 0. [B,T]"""
    lp = torch.log_softmax(logits, -1)
    safe = labels.clamp(min=0)
    g = lp.gather(-1, safe[..., None])[..., 0]
    return torch.where(labels >= 0, g, torch.zeros_like(g))


def lora_targets(spec_targets):
    """PEFT target_modules: list of names, or 'all' / 'all-linear' = every linear except lm_head."""
    if spec_targets in ("all", "all-linear"):
        return list(LINEARS)
    return [t.strip() for t in spec_targets.split(",") if t.strip()]
