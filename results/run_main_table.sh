#!/usr/bin/env bash
# Part III's main table: five models x three seeds on the full ML-1M, same harness and budget.
# Each run: 15 minutes of CPU per thread (2 threads; --budget-clock cpu, so a busy machine
# does not shorten a run), test metrics recorded every epoch for the 5- and 15-minute points.
# Resumable: re-running skips finished runs and resumes interrupted ones from their checkpoint.
# Usage: bash results/run_main_table.sh   (writes results/main/*.json; checkpoints in runs/)
# SEEDS="1 2" and NAMES="sasrec ..." restrict it to some seeds or models; the running-mean
# variant (hydrarec_causal_mean) runs only when NAMES asks for it.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
COMMON="--dataset ml-1m --max-len 200 --d 64 --layers 2 --dropout 0.2 --loss ce --lr 2e-3
        --batch-size 128 --bf16 --epochs 500 --patience 500 --time-budget-s 900
        --budget-clock cpu --threads 2 --test-every-epoch --quiet"
declare -A MODELS=(
  [sasrec]="--attention sdpa --mode causal"
  [hydrarec_causal]="--attention hydra --mode causal"
  [linear_causal]="--attention linear --mode causal"
  [bert4rec]="--attention sdpa --mode bidirectional"
  [hydrarec_bidirectional]="--attention hydra --mode bidirectional"
  [hydrarec_causal_mean]="--attention hydra --hydra-mean --mode causal"  # variant, not the paper's
)
mkdir -p results/main runs/main
[ -f results/main/most_popular.json ] || {
  $PY -m hydrarec_minimal.train --dataset ml-1m --most-popular --out runs/main/most_popular
  cp runs/main/most_popular/metrics.json results/main/most_popular.json; }
for SEED in ${SEEDS:-0 1 2}; do
  for NAME in ${NAMES:-sasrec hydrarec_causal linear_causal bert4rec hydrarec_bidirectional}; do
    OUT=runs/main/${NAME}_s${SEED}
    [ -f results/main/${NAME}_s${SEED}.json ] && continue
    $PY -m hydrarec_minimal.train $COMMON ${MODELS[$NAME]} --seed $SEED --resume --out $OUT
    cp $OUT/metrics.json results/main/${NAME}_s${SEED}.json
  done
done
