#!/usr/bin/env bash
# The harness check of chapter 8: SASRec with the full cross-entropy (SASRec+) trained longer,
# 45 minutes of CPU per thread, early stopping after 10 epochs without progress, to set beside
# the published SASRec+ NDCG@10 of 0.182 (Klenitskiy & Vasilev 2023). Resumable.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p results/long runs/long
NAME=sasrec_45min_s0
[ -f results/long/$NAME.json ] && exit 0
$PY -m hydrarec_minimal.train --dataset ml-1m --attention sdpa --mode causal --max-len 200 --d 64 \
    --layers 2 --dropout 0.2 --loss ce --lr 2e-3 --batch-size 128 --bf16 --epochs 500 --patience 10 \
    --time-budget-s 2700 --budget-clock cpu --threads 2 --quiet --seed 0 --resume --out runs/long/$NAME
cp runs/long/$NAME/metrics.json results/long/$NAME.json
