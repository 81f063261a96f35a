"""Golden for PEFT's rank_pattern / alpha_pattern (issue 17, point 4).

Writes model/testdata/qwen2_bias/adapter_patterns/: an adapter_config.json with
rank_pattern and alpha_pattern, adapter_model.safetensors (the qwen2_bias adapter with
the pattern ranks sliced out of it), and golden.json: per module the rank and scaling
PEFT gives it, and the token log-probs of the qwen2_bias golden batch under the adapter.

PEFT semantics (peft/utils/other.py get_pattern_key, tuners/lora/model.py
_create_and_replace): the module's name in the base model (model.layers.0.self_attn.q_proj)
is tested against each pattern key in order with re.match(rf"(.*\\.)?({key})$", name);
the first matching key gives r and lora_alpha; scaling = alpha / r (alpha / sqrt(r) with
use_rslora). The forward is ref_model.forward with each lora_B pre-multiplied by its
module's scaling (lora_scale 1).

Run: /usr/bin/python3 reference/model/lora_patterns.py (from the repository root).
"""
import json
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import ref_model as R  # noqa: E402

CASE = os.path.join("model", "testdata", "qwen2_bias")
OUT = os.path.join(CASE, "adapter_patterns")

R_DEFAULT, ALPHA_DEFAULT = 4, 16.0
# insertion order matters: the first key that matches wins
RANK_PATTERN = {"model.layers.1.self_attn.v_proj": 2, r"layers\.0\..*q_proj": 3}
ALPHA_PATTERN = {"_proj": 1000.0, "q_proj": 64.0, "layers.1.self_attn.v_proj": 2.0}


def pattern_value(pattern, name, default):
    for key, v in pattern.items():
        if re.match(rf"(.*\.)?({key})$", name):
            return v
    return default


def main():
    os.makedirs(OUT, exist_ok=True)
    cfg, w = R.load_hf_dir(CASE)
    spec = R.Spec(cfg)
    acfg = json.load(open(os.path.join(CASE, "adapter", "adapter_config.json")))
    assert acfg["r"] == R_DEFAULT and acfg["lora_alpha"] == ALPHA_DEFAULT and not acfg["use_rslora"]
    base = R.read_safetensors(os.path.join(CASE, "adapter", "adapter_model.safetensors"))
    lora, scaled, modules = {}, {}, {}
    for l in range(spec.L):
        for mod in acfg["target_modules"]:
            name = f"model.layers.{l}.self_attn.{mod}"
            r = pattern_value(RANK_PATTERN, name, R_DEFAULT)
            alpha = pattern_value(ALPHA_PATTERN, name, ALPHA_DEFAULT)
            scale = alpha / r
            a = base["base_model.model." + name + ".lora_A.weight"][:r]
            b = base["base_model.model." + name + ".lora_B.weight"][:, :r]
            lora["base_model.model." + name + ".lora_A.weight"] = np.ascontiguousarray(a)
            lora["base_model.model." + name + ".lora_B.weight"] = np.ascontiguousarray(b)
            scaled[name + ".lora_A.weight"] = torch.tensor(a, dtype=torch.float64)
            scaled[name + ".lora_B.weight"] = torch.tensor(b, dtype=torch.float64) * scale
            modules[name] = {"rank": r, "alpha": alpha, "scale": scale}
    out_cfg = dict(acfg)
    out_cfg["rank_pattern"] = RANK_PATTERN
    out_cfg["alpha_pattern"] = ALPHA_PATTERN
    json.dump(out_cfg, open(os.path.join(OUT, "adapter_config.json"), "w"), indent=2)
    R.write_safetensors(os.path.join(OUT, "adapter_model.safetensors"), lora, metadata={"format": "pt"})

    g = json.load(open(os.path.join(CASE, "golden.json")))
    ids, labels, pos, segs = (torch.tensor(g[k]) for k in ("ids", "labels", "positions", "segments"))
    P = R.Params(w, requires_grad=False)
    with torch.no_grad():
        lp = R.token_logps(R.forward(spec, P, ids, pos, segs, lora=scaled, lora_scale=1.0), labels)
    json.dump({"modules": modules, "logps": [[float(x) for x in r] for r in lp.numpy()]},
              open(os.path.join(OUT, "golden.json"), "w"))


if __name__ == "__main__":
    main()
