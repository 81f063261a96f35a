#!/usr/bin/env bash
# Data-parallel scaling on one box: preset small, full fine-tuning, precomputed
# reference, 2 pairs per optimizer step, as `preftune train` (not bench): 1 rank × 2
# threads against 2 ranks × 1 thread × 1 pair, alternating, R repeats.
#   bench/mpi_scaling.sh [-r R] [-s STEPS]     (needs mpirun, /usr/bin/python3 + numpy)
# Prints one line per run: ranks, pairs/s (train_samples_per_second), comm fraction.
set -euo pipefail
R=3 STEPS=20
while getopts r:s: o; do case $o in r) R=$OPTARG ;; s) STEPS=$OPTARG ;; *) exit 2 ;; esac; done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d)}
BIN=${PREFTUNE_BIN:-$WORK/preftune}
[ -x "$BIN" ] || (cd "$ROOT" && go build -o "$BIN" ./cmd/preftune)
[ -f "$WORK/small/pairs.jsonl" ] || /usr/bin/python3 "$ROOT/../shared/peer/make_bench_inputs.py" --preset small --out "$WORK/small" >/dev/null
export PREFTUNE_CACHE=$WORK/cache
cat >"$WORK/cfg.yaml" <<YAML
model_name_or_path: $WORK/small/model
dataset: $WORK/small/pairs.jsonl
learning_rate: 1e-5
max_steps: $STEPS
precompute_ref_log_probs: true
logging_steps: 10
plot_loss: false
save_strategy: "no"
overwrite_output_dir: true
YAML
"$BIN" train "$WORK/cfg.yaml" --output_dir "$WORK/warm" --max_steps 1 --per_device_train_batch_size 2 >/dev/null 2>&1 # reference cache
res() { /usr/bin/python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print('%.3f pairs/s  comm %.1f%%' % (d['train_samples_per_second'], 100*d.get('comm_fraction',0)))" "$1/train_results.json"; }
for i in $(seq "$R"); do
	"$BIN" train "$WORK/cfg.yaml" --output_dir "$WORK/one" --per_device_train_batch_size 2 --threads 2 >/dev/null 2>&1
	echo "1 rank  x 2 threads: $(res "$WORK/one")"
	mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" train "$WORK/cfg.yaml" --output_dir "$WORK/two" --per_device_train_batch_size 1 >/dev/null 2>&1
	echo "2 ranks x 1 thread : $(res "$WORK/two")"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
