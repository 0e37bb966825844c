#!/usr/bin/env bash
# Part III's main table: the five models of the comparison (and the running-mean variant of
# causal HydraRec), three seeds each, with the book's 15-minute CPU recipe (--recipe cpu15:
# 15 minutes of CPU time per thread on 2 threads), and the baselines beside them.
# Resumable: finished runs are skipped, interrupted ones resume from their checkpoint.
# Usage: bash experiments/main_table.sh   (writes results/main/*.json; checkpoints in runs/)
# SEEDS="1 2" and NAMES="sasrec ..." restrict it to some seeds or models.
source "$(dirname "$0")/lib.sh"
baseline_once results/main/most_popular.json most_popular
baseline_once results/main/markov.json markov
baseline_once results/main/ease.json ease
for SEED in ${SEEDS:-0 1 2}; do
  for NAME in ${NAMES:-sasrec hydrarec_causal linear_causal bert4rec hydrarec_bidirectional hydrarec_causal_mean}; do
    run_once "results/main/${NAME}_s$SEED.json" "runs/main/${NAME}_s$SEED" \
      --recipe cpu15 --model "$NAME" --seed "$SEED"
  done
done
