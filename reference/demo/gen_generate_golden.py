#!/usr/bin/env python3
"""Greedy-continuation goldens for model.Generate, from the PyTorch reference decoder.

  /usr/bin/python3 reference/demo/gen_generate_golden.py --out model/testdata/generate_golden.json

For a few of the tiny models in model/testdata (written by reference/model/gen_fixtures.py),
with and without their PEFT LoRA adapter, it continues a fixed prompt greedily for STEPS
tokens. Every step recomputes the whole sequence with reference/model/ref_model.py's forward
(no cache, float64), so the goldens say nothing about how a cache is kept: they are the
argmax token ids and the logits of every step, plus the smallest top-1/top-2 logit gap
(a greedy sequence is only a meaningful golden when that gap is well above float32 noise).
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import ref_model as R  # noqa: E402

CASES = [
    # (fixture, use adapter, prompt ids)
    ("llama_gqa", False, [5, 17, 42, 9]),
    ("llama_gqa", True, [5, 17, 42, 9]),
    ("llama_tied_rope3", False, [1, 30, 2]),
    ("qwen2_bias", False, [7, 99, 13, 0, 64]),
    ("qwen3_qknorm", True, [11, 3, 58]),
    ("mistral_window", False, [4, 8, 15, 16, 23, 42]),  # window 5: the continuation runs past it
]
STEPS = 12


def load_adapter(case_dir):
    cfg = json.load(open(os.path.join(case_dir, "adapter", "adapter_config.json")))
    raw = R.read_safetensors(os.path.join(case_dir, "adapter", "adapter_model.safetensors"))
    lora = {k[len("base_model.model."):]: torch.tensor(v, dtype=torch.float64) for k, v in raw.items()}
    r, alpha = cfg["r"], cfg["lora_alpha"]
    scale = alpha / (r ** 0.5) if cfg.get("use_rslora") else alpha / r
    return lora, scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", default=os.path.join(HERE, "..", "..", "model", "testdata"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = []
    for name, use_adapter, prompt in CASES:
        case_dir = os.path.join(args.testdata, name)
        cfg, w = R.load_hf_dir(case_dir)
        spec = R.Spec(cfg)
        P = R.Params(w, requires_grad=False)
        lora, scale = (load_adapter(case_dir) if use_adapter else (None, 1.0))
        ids = list(prompt)
        gen, step_logits, min_gap = [], [], float("inf")
        with torch.no_grad():
            for _ in range(STEPS):
                t = torch.tensor([ids], dtype=torch.int64)
                pos = torch.arange(len(ids))[None]
                seg = torch.zeros_like(t)
                logits = R.forward(spec, P, t, pos, seg, lora=lora, lora_scale=scale)[0, -1]
                top = torch.topk(logits, 2).values
                min_gap = min(min_gap, float(top[0] - top[1]))
                nxt = int(torch.argmax(logits))
                step_logits.append([float(x) for x in logits])
                gen.append(nxt)
                ids.append(nxt)
        out.append({"case": name, "adapter": use_adapter, "prompt": prompt, "generated": gen,
                    "logits": step_logits, "min_top2_gap": min_gap})
        print(f"{name} adapter={use_adapter}: {gen} (min top-2 gap {min_gap:.4f})")
    with open(args.out, "w") as f:
        json.dump({"steps": STEPS, "cases": out}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
