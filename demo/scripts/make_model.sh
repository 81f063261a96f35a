#!/usr/bin/env bash
# Reproduces demo/assets/model, the SFT model `preftune demo` starts from:
#   1. mkmodel init: the task's SFT corpus (seeded split; held-out numbers left out),
#      a byte-level BPE tokenizer learned on it, and a randomly initialised Llama;
#   2. preftune train demo/scripts/sft.yaml (stage: sft): training from scratch;
#   3. mkmodel ship: BF16 weights + config + tokenizer into demo/assets/model, and the
#      shipped model's own held-out success rate (sft_eval.json).
# Every step is deterministic for a given seed and machine (about 15 minutes on 2 cores).
# Usage, from anywhere: demo/scripts/make_model.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-$(mktemp -d -t preftune-demo-model.XXXXXX)}
mkdir -p "$work"
echo "make_model: work dir $work" >&2

go build -o "$work/mkmodel" ./demo/scripts/mkmodel
go build -o "$work/preftune" ./cmd/preftune
"$work/mkmodel" init -out "$work"
"$work/preftune" train demo/scripts/sft.yaml \
  --model_name_or_path "$work/init" --dataset "$work/data/sft.jsonl" --output_dir "$work/sft"
"$work/mkmodel" ship -from "$work/sft" -to demo/assets/model
