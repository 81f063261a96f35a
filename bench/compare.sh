#!/usr/bin/env bash
# Side-by-side DPO speed: preftune bench vs the PyTorch eager peer
# (../shared/peer/torch_dpo_step.py), same model, same pairs, same steps.
#
#   bench/compare.sh [-r ROUNDS] [-s STEPS] [-w WORKDIR] [CONFIG ...]
#
# CONFIG is any of small-full small-lora base-full qwen-lora (default: all four):
#   small-full  preset small, full fine-tuning, precomputed reference, 2 pairs/step
#   small-lora  preset small, LoRA r=16, live reference, 2 pairs/step
#   base-full   preset base, full fine-tuning, precomputed reference, 8 pairs/step
#   qwen-lora   preset qwen (151,936 vocab, 2 layers), LoRA r=16, live reference, 2 pairs/step
#
# Inputs come from make_bench_inputs.py (generated once into WORKDIR). For each
# configuration the two programs run alternately, A B A B ..., ROUNDS times (default
# 3), each printing one JSON line; the load average is logged before every run. The
# summary is the ratio of the medians of pairs_per_s (preftune / peer) and of
# peak_rss_mb. Raw lines: WORKDIR/results/CONFIG.{preftune,peer}.jsonl.
#
# Environment: PEER_DIR (default ../shared/peer from the repo root), PYTHON
# (/usr/bin/python3, needs torch + numpy), PREFTUNE_BIN (a prebuilt binary instead of
# `go build ./cmd/preftune`), PREFTUNE_FLAGS (extra bench flags, e.g. --plain).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peer}
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=3
STEPS=5
WORK=${TMPDIR:-/tmp}/preftune-compare
while getopts "r:s:w:" o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	s) STEPS=$OPTARG ;;
	w) WORK=$OPTARG ;;
	*) sed -n '2,24p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(small-full small-lora base-full qwen-lora)

mkdir -p "$WORK/results"
BIN=${PREFTUNE_BIN:-}
if [ -z "$BIN" ]; then
	BIN=$WORK/preftune
	(cd "$ROOT" && go build -o "$BIN" ./cmd/preftune)
fi
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}

preset_of() { echo "${1%%-*}"; }
args_of() {
	case $1 in
	small-full) echo "--batch-pairs 2 --ref precompute" ;;
	small-lora) echo "--batch-pairs 2 --lora-r 16 --ref live" ;;
	base-full) echo "--batch-pairs 8 --ref precompute" ;;
	qwen-lora) echo "--batch-pairs 2 --lora-r 16 --ref live" ;;
	*) echo "unknown configuration $1" >&2; exit 2 ;;
	esac
}

for cfg in "${CONFIGS[@]}"; do
	args=$(args_of "$cfg")
	p=$(preset_of "$cfg")
	if [ ! -f "$WORK/$p/pairs.jsonl" ]; then
		"$PYTHON" "$PEER_DIR/make_bench_inputs.py" --preset "$p" --out "$WORK/$p" >/dev/null
	fi
	: >"$WORK/results/$cfg.preftune.jsonl"
	: >"$WORK/results/$cfg.peer.jsonl"
	for r in $(seq 1 "$ROUNDS"); do
		echo "# $cfg round $r preftune load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
		# shellcheck disable=SC2086
		"$BIN" bench --model "$WORK/$p/model" --data "$WORK/$p/pairs.jsonl" --steps "$STEPS" $args ${PREFTUNE_FLAGS:-} \
			| tee -a "$WORK/results/$cfg.preftune.jsonl" >&2
		echo "# $cfg round $r peer load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
		# shellcheck disable=SC2086
		"$PYTHON" "$PEER_DIR/torch_dpo_step.py" --model "$WORK/$p/model" --data "$WORK/$p/pairs.jsonl" --steps "$STEPS" $args \
			| tee -a "$WORK/results/$cfg.peer.jsonl" >&2
	done
done

"$PYTHON" - "$WORK/results" "${CONFIGS[@]}" <<'EOF'
import json, statistics, sys
res = sys.argv[1]
print(f"{'configuration':<12} {'preftune pairs/s':>17} {'peer pairs/s':>13} {'ratio':>6} {'preftune RSS MB':>16} {'peer RSS MB':>12} {'RSS ratio':>9} {'mfu':>5}")
for cfg in sys.argv[2:]:
    a = [json.loads(l) for l in open(f"{res}/{cfg}.preftune.jsonl") if l.strip()]
    b = [json.loads(l) for l in open(f"{res}/{cfg}.peer.jsonl") if l.strip()]
    pa, pb = statistics.median(x["pairs_per_s"] for x in a), statistics.median(x["pairs_per_s"] for x in b)
    ra, rb = statistics.median(x["peak_rss_mb"] for x in a), statistics.median(x["peak_rss_mb"] for x in b)
    mfu = statistics.median(x["mfu"] for x in a)
    print(f"{cfg:<12} {pa:>17.3f} {pb:>13.3f} {pa/pb:>6.2f} {ra:>16.1f} {rb:>12.1f} {ra/rb:>9.2f} {mfu:>5.2f}")
EOF
