#!/usr/bin/env bash
# Chapter 7's loss comparison: causal HydraRec on ML-1M with the sampled losses, same settings
# and 15-minute CPU budget as results/run_main_table.sh (whose hydrarec_causal runs use the
# full cross-entropy). Resumable. Writes results/losses/*.json.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
COMMON="--dataset ml-1m --attention hydra --mode causal --max-len 200 --d 64 --layers 2
        --dropout 0.2 --lr 2e-3 --batch-size 128 --bf16 --epochs 500 --patience 500
        --time-budget-s 900 --budget-clock cpu --threads 2 --test-every-epoch --quiet --seed 0"
mkdir -p results/losses runs/losses
for SPEC in "gbce:256" "sampled:512"; do
  LOSS=${SPEC%%:*}; NEG=${SPEC##*:}
  NAME=hydrarec_causal_${LOSS}${NEG}_s0
  [ -f results/losses/$NAME.json ] && continue
  $PY -m hydrarec_minimal.train $COMMON --loss $LOSS --negatives $NEG --resume --out runs/losses/$NAME
  cp runs/losses/$NAME/metrics.json results/losses/$NAME.json
done
