#!/usr/bin/env bash
# Chapter 7's loss comparison: causal HydraRec with the sampled losses under the 15-minute
# CPU recipe (the main table's hydrarec_causal runs use the full cross-entropy). Resumable.
source "$(dirname "$0")/lib.sh"
for SPEC in gbce:256 sampled:512; do
  LOSS=${SPEC%%:*} NEG=${SPEC##*:}
  run_once "results/losses/hydrarec_causal_${LOSS}${NEG}_s0.json" \
    "runs/losses/hydrarec_causal_${LOSS}${NEG}_s0" \
    --recipe cpu15 --model hydrarec_causal --loss "$LOSS" --negatives "$NEG" --seed 0
done
