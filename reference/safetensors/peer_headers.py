#!/usr/bin/python3
"""Runs the peer benchmark's model writer (shared/peer/make_bench_inputs.py, numpy only) for
its "small" (Llama layout) and "qwen" (Qwen2 layout: q/k/v bias, tied head) presets, and keeps
only what hf/config's tests need: each preset's config.json and the safetensors header of its
model.safetensors (tensor names, dtypes, shapes), under hf/config/testdata/peer-<preset>/.

The peer script names tensors independently of preftune, so its headers check
Config.Parameters and Config.CheckTensors against a second implementation.

  /usr/bin/python3 reference/safetensors/peer_headers.py
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "hf", "config", "testdata")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", default=os.path.join(REPO, "..", "shared", "peer", "make_bench_inputs.py"))
    a = ap.parse_args()
    for preset in ("small", "qwen"):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, a.peer, "--preset", preset, "--pairs", "1", "--out", tmp],
                           check=True, stdout=subprocess.DEVNULL)
            model = os.path.join(tmp, "model")
            dst = os.path.join(OUT, "peer-" + preset)
            os.makedirs(dst, exist_ok=True)
            shutil.copy(os.path.join(model, "config.json"), os.path.join(dst, "config.json"))
            with open(os.path.join(model, "model.safetensors"), "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
            with open(os.path.join(dst, "header.json"), "w") as f:
                json.dump(header, f, indent=1)
                f.write("\n")
            print(preset, len(header), "tensors ->", dst)


if __name__ == "__main__":
    main()
