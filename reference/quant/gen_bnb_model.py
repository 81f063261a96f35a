#!/usr/bin/env python3
"""Pre-quantized bitsandbytes checkpoints of a tiny model, with float64 log-prob goldens.

Needs the Debian python (/usr/bin/python3) with python3-torch and python3-numpy.
From model/testdata/llama_bf16 (a tiny Llama stored in BF16) it writes, for each case,
model/testdata/<case>/ laid out as the hub's *-bnb-4bit models are: config.json with
quantization_config (transformers' BitsAndBytesConfig.to_dict keys), model.safetensors
where every decoder linear weight is bitsandbytes 4-bit (reference/quant/bnb_ref.py:
U8 packed codes + .absmax, .quant_map, [.nested_absmax, .nested_quant_map],
.quant_state.bitsandbytes__<type>) and the embedding, norms and lm_head stay BF16, and
golden.json: the llama_bf16 batch and the per-token log-probs of a float64 forward
(reference/model/ref_model.py) over the weights as bitsandbytes dequantizes them; with
llama_bf16's LoRA adapter on top (QLoRA): the log-probs and d(Σ dlogps·logps)/d(LoRA)
for llama_bf16's golden dlogps, in grads_lora.safetensors, and the adapter dir.

Usage: /usr/bin/python3 reference/quant/gen_bnb_model.py [--out model/testdata]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import bnb_ref as Q  # noqa: E402
import ref_model as R  # noqa: E402

CASES = [  # name, quant type, double quant
    ("llama_bnb4_nf4", "nf4", False),
    ("llama_bnb4_nf4_dq", "nf4", True),
    ("llama_bnb4_fp4_dq", "fp4", True),
]


def bits_tensor(a):
    """float32 numpy array holding bf16 values → torch bf16 tensor (exact)."""
    return torch.tensor(a, dtype=torch.float32).to(torch.bfloat16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "model", "testdata"))
    args = ap.parse_args()
    src = os.path.join(args.out, "llama_bf16")
    cfg, w = R.load_hf_dir(src)
    base_golden = json.load(open(os.path.join(src, "golden.json")))
    spec = R.Spec(cfg)
    for name, t, dq in CASES:
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        tensors, deq = {}, {}
        for k, v in w.items():
            is_linear = k.startswith("model.layers.") and any(k.endswith("." + m + ".weight") for m in R.LINEARS)
            x = bits_tensor(v)
            if not is_linear:
                tensors[k] = x
                deq[k] = v
                continue
            packed, absmax = Q.quantize_4bit(x, t, 64)
            state = {"quant_type": t, "blocksize": 64, "dtype": "bfloat16", "shape": list(x.shape)}
            tensors[k] = packed
            tensors[k + ".quant_map"] = Q.code4(t)
            if dq:
                offset = absmax.mean()
                code2 = Q.dynamic_map()
                qabs, abs2 = Q.quantize_blockwise(absmax - offset, code2, 256)
                tensors[k + ".absmax"] = qabs
                tensors[k + ".nested_absmax"] = abs2
                tensors[k + ".nested_quant_map"] = code2
                state.update({"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": offset.item()})
                used = Q.dequantize_blockwise(qabs, abs2, code2, 256) + torch.tensor(offset.item())
            else:
                tensors[k + ".absmax"] = absmax
                used = absmax
            tensors[k + ".quant_state.bitsandbytes__" + t] = torch.tensor(list(json.dumps(state).encode()), dtype=torch.uint8)
            deq[k] = Q.dequantize_4bit(packed, used.float(), t, 64, tuple(x.shape), torch.bfloat16).float().numpy()
        Q.write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        qcfg = dict(cfg)
        qcfg["quantization_config"] = {
            "quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False,
            "bnb_4bit_quant_type": t, "bnb_4bit_use_double_quant": dq, "bnb_4bit_compute_dtype": "bfloat16",
            "bnb_4bit_quant_storage": "uint8", "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0,
        }
        json.dump(qcfg, open(os.path.join(d, "config.json"), "w"), indent=2)
        P = R.Params(deq, requires_grad=False)
        ids, labels, pos, segs = (torch.tensor(base_golden[k]) for k in ("ids", "labels", "positions", "segments"))
        with torch.no_grad():
            lp = R.token_logps(R.forward(spec, P, ids, pos, segs), labels)
        golden = {k: base_golden[k] for k in ("ids", "labels", "positions", "segments", "n_pairs")}
        golden["case"] = name
        golden["full"] = {"logps": lp.tolist(), "seq_logps": lp.sum(-1).tolist()}
        with open(os.path.join(src, "pairs.jsonl"), "rb") as a, open(os.path.join(d, "pairs.jsonl"), "wb") as b:
            b.write(a.read())
        # QLoRA: the llama_bf16 adapter on the dequantized base
        acfg = json.load(open(os.path.join(src, "adapter", "adapter_config.json")))
        lw = R.read_safetensors(os.path.join(src, "adapter", "adapter_model.safetensors"))
        lw = {k[len("base_model.model."):]: v for k, v in lw.items()}
        L = R.Params(lw).w
        scale = acfg["lora_alpha"] / acfg["r"]
        llp = R.token_logps(R.forward(spec, P, ids, pos, segs, lora=L, lora_scale=scale), labels)
        dl = torch.tensor(base_golden["lora"]["dlogps"], dtype=torch.float64)
        (llp * dl).sum().backward()
        R.write_safetensors(os.path.join(d, "grads_lora.safetensors"),
                            {"base_model.model." + k: v.grad.numpy().astype(np.float32) for k, v in L.items()})
        os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
        for f in ("adapter_config.json", "adapter_model.safetensors"):
            with open(os.path.join(src, "adapter", f), "rb") as a, open(os.path.join(d, "adapter", f), "wb") as b:
                b.write(a.read())
        # merge_and_unload into the dequantized base, saved as bf16 (what preftune export writes)
        merged = dict(deq)
        with torch.no_grad():
            for k in lw:
                if not k.endswith(".lora_A.weight"):
                    continue
                mod = k[: -len(".lora_A.weight")]
                A = torch.tensor(lw[k], dtype=torch.float64)
                B = torch.tensor(lw[mod + ".lora_B.weight"], dtype=torch.float64)
                W = torch.tensor(deq[mod + ".weight"], dtype=torch.float64) + scale * (B @ A)
                merged[mod + ".weight"] = W.float().to(torch.bfloat16).float().numpy()
            mlp = R.token_logps(R.forward(spec, R.Params(merged, requires_grad=False), ids, pos, segs), labels)
        golden["merged"] = {"logps": mlp.tolist()}
        golden["lora"] = {"logps": llp.detach().tolist(), "seq_logps": llp.detach().sum(-1).tolist(), "dlogps": base_golden["lora"]["dlogps"],
                          "r": acfg["r"], "alpha": acfg["lora_alpha"], "rslora": False, "scale": scale}
        json.dump(golden, open(os.path.join(d, "golden.json"), "w"))
        print(name, "done")


if __name__ == "__main__":
    main()
