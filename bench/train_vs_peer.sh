#!/usr/bin/env bash
# Side-by-side: `preftune train` itself (what users run) against the PyTorch eager peer
# (../shared/peer/torch_dpo_step.py), same model, same pairs, alternating A B A B.
#
#   bench/train_vs_peer.sh [-r ROUNDS] [-s STEPS] [-w WORKDIR] [-a none|bf16] [-t float32|bfloat16] [-q] [CONFIG ...]
#
# CONFIG: small-full (preset small, full FT, precomputed ref, 2 pairs/step),
#         small-lora (preset small, LoRA r16, live ref, 2 pairs/step),
#         qwen05b-lora (Qwen2.5-0.5B shape from reference/bench/gen_qwen05b.py, bf16
#         checkpoint, LoRA r16, live ref, 2 pairs/step).
# preftune's step time = (train_runtime of max_steps 1+S − train_runtime of max_steps 1)/S
# (train_results.json), so loading, setup and the first step's warm-up cancel; its peak
# RSS is the whole `train` process's (GNU time, max_steps 1+S run). The peer's numbers
# are its own JSON line (median step time after a warm-up step, ru_maxrss). -a bf16
# runs the peer with --autocast bf16 (PyTorch's CPU bf16 path). One JSON line per run
# in WORKDIR/results/CONFIG.{preftune,peer}.jsonl; a summary table at the end.
# preftune runs without gradient checkpointing (TRL's default is on): the peer keeps every
# activation too, so both take the same forward and backward.
# -t bfloat16 runs preftune with bf16: true (bf16 products of the frozen weights);
# -q with load_in_4bit: true (NF4, double quant) for the LoRA configs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peer}
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=2 STEPS=3 AUTOCAST=none COMPUTE=float32 QUANT=0
WORK=${TMPDIR:-/tmp}/preftune-train-vs-peer
while getopts "r:s:w:a:t:q" o; do
	case $o in
	r) ROUNDS=$OPTARG ;; s) STEPS=$OPTARG ;; w) WORK=$OPTARG ;; a) AUTOCAST=$OPTARG ;; t) COMPUTE=$OPTARG ;; q) QUANT=1 ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(small-full small-lora qwen05b-lora)
mkdir -p "$WORK/results"
BIN=${PREFTUNE_BIN:-$WORK/preftune}
[ -n "${PREFTUNE_BIN:-}" ] || (cd "$ROOT" && go build -o "$BIN" ./cmd/preftune)
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}

inputs() { # config → input dir
	case $1 in
	small-*) d=$WORK/in-small; [ -f "$d/pairs.jsonl" ] || "$PYTHON" "$PEER_DIR/make_bench_inputs.py" --preset small --out "$d" >&2 ;;
	qwen05b-*) d=$WORK/in-qwen05b; [ -f "$d/pairs.jsonl" ] || "$PYTHON" "$ROOT/reference/bench/gen_qwen05b.py" --out "$d" >&2 ;;
	esac
	echo "$d"
}
peer_args() {
	case $1 in
	small-full) echo "--batch-pairs 2 --ref precompute" ;;
	*-lora) echo "--batch-pairs 2 --lora-r 16 --ref live" ;;
	esac
}
train_yaml() { # config dir out steps
	local lora="" ref=true
	case $1 in *-lora) lora=$'finetuning_type: lora\nlora_rank: 16\nlora_alpha: 16\nlora_dropout: 0\nlora_target: all'; ref=false ;; *) lora="finetuning_type: full" ;; esac
	cat <<Y
model_name_or_path: $2/model
dataset: $2/pairs.jsonl
output_dir: $3
overwrite_output_dir: true
loss_type: sigmoid
beta: 0.1
learning_rate: 1.0e-5
lr_scheduler_type: constant
weight_decay: 0
max_grad_norm: 0
per_device_train_batch_size: 2
gradient_accumulation_steps: 1
max_steps: $4
save_strategy: "no"
logging_steps: 1000
plot_loss: false
precompute_ref_log_probs: $ref
gradient_checkpointing: false
$lora
$( [ "$COMPUTE" = bfloat16 ] && echo "bf16: true" )
$( [ "$QUANT" = 1 ] && [ -n "$lora" ] && [ "$lora" != "finetuning_type: full" ] && printf 'load_in_4bit: true\nbnb_4bit_use_double_quant: true' )
Y
}
run_train() { # config dir steps → prints "runtime rss_mb"
	local out=$WORK/run-$1-$3
	train_yaml "$1" "$2" "$out" "$3" >"$WORK/$1-$3.yaml"
	PREFTUNE_CACHE=$WORK/cache /usr/bin/time -f "%M" -o "$WORK/time.txt" "$BIN" train "$WORK/$1-$3.yaml" >/dev/null 2>"$WORK/train.log" || { tail -20 "$WORK/train.log" >&2; exit 1; }
	rt=$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['train_runtime'])" "$out/train_results.json")
	echo "$rt $(( $(cat "$WORK/time.txt") / 1024 ))"
}
for cfg in "${CONFIGS[@]}"; do
	dir=$(inputs "$cfg")
	pf=$WORK/results/$cfg.preftune.jsonl pp=$WORK/results/$cfg.peer.jsonl
	: >"$pf"; : >"$pp"
	for r in $(seq "$ROUNDS"); do
		echo "[$cfg round $r] load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
		read -r t1 _ <<<"$(run_train "$cfg" "$dir" 1)"
		read -r tn rss <<<"$(run_train "$cfg" "$dir" $((1 + STEPS)))"
		"$PYTHON" -c "import json,sys; t1,tn,s,rss=map(float,sys.argv[1:]); st=(tn-t1)/s; print(json.dumps({'impl':'preftune train','step_s':round(st,4),'pairs_per_s':round(2/st,4),'peak_rss_mb':rss}))" "$t1" "$tn" "$STEPS" "$rss" | tee -a "$pf" >&2
		# shellcheck disable=SC2046
		"$PYTHON" "$PEER_DIR/torch_dpo_step.py" --model "$dir/model" --data "$dir/pairs.jsonl" --steps "$STEPS" --autocast "$AUTOCAST" $(peer_args "$cfg") | tail -1 | tee -a "$pp" >&2
	done
	"$PYTHON" - "$cfg" "$pf" "$pp" "$AUTOCAST" "$COMPUTE$([ "$QUANT" = 1 ] && echo ', nf4')" <<'PY'
import json, statistics, sys
cfg, pf, pp, ac = sys.argv[1:5]
a = [json.loads(l) for l in open(pf)]; b = [json.loads(l) for l in open(pp)]
ma = statistics.median(x["pairs_per_s"] for x in a); mb = statistics.median(x["pairs_per_s"] for x in b)
ra = max(x["peak_rss_mb"] for x in a); rb = max(x["peak_rss_mb"] for x in b)
print(f"| {cfg} (peer autocast {ac}, train compute {sys.argv[5]}) | train {ma:.3f} pairs/s, peer {mb:.3f} → {ma/mb:.2f}× | RSS train {ra:.0f} MB, peer {rb:.0f} MB → {ra/rb:.2f}× |")
PY
done
