#!/usr/bin/env bash
# Short diagnostic runs behind chapter 7's note on the sampled losses (why gBCE does not learn
# here): a few minutes of CPU each, same model and settings as results/run_losses.sh, with
# negatives drawn per sequence (hydrarec_minimal.model.losses). Resumable; writes
# results/losses/probes/*.json.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
COMMON="--dataset ml-1m --attention hydra --mode causal --max-len 200 --d 64 --layers 2
        --dropout 0.2 --lr 2e-3 --batch-size 128 --epochs 500 --patience 500
        --budget-clock cpu --threads 2 --quiet --seed 0"
mkdir -p results/losses/probes runs/probes
probe() {  # name, CPU seconds, extra arguments
  local NAME=$1 BUDGET=$2; shift 2
  [ -f results/losses/probes/$NAME.json ] && return 0
  $PY -m hydrarec_minimal.train $COMMON --time-budget-s "$BUDGET" "$@" --resume --out runs/probes/$NAME
  cp runs/probes/$NAME/metrics.json results/losses/probes/$NAME.json
}
probe gbce256_per_sequence 200 --loss gbce --negatives 256 --bf16
probe gbce256_per_sequence_fp32 90 --loss gbce --negatives 256
probe bce1 75 --loss gbce --negatives 1 --gbce-t 0 --bf16
probe sampled512 75 --loss sampled --negatives 512 --bf16
