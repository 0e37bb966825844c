#!/usr/bin/env bash
# Chapter 8's longer runs: SASRec and causal HydraRec for 45 minutes of CPU time per thread
# with early stopping (--recipe cpu45), seed 0: the comparison nearer convergence, and
# SASRec with SASRec+'s own hyperparameters (--recipe sasrec-plus, 15 minutes) for the
# harness check against Klenitskiy & Vasilev's 0.182. Resumable. NAMES restricts it.
source "$(dirname "$0")/lib.sh"
for NAME in ${NAMES:-sasrec hydrarec_causal}; do
  run_once "results/long/${NAME}_45min_s0.json" "runs/long/${NAME}_45min_s0" \
    --recipe cpu45 --model "$NAME" --seed 0
done
run_once results/long/sasrec_plus_recipe_s0.json runs/long/sasrec_plus_recipe_s0 \
  --recipe sasrec-plus --model sasrec --seed 0
