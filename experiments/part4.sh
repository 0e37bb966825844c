#!/usr/bin/env bash
# Part IV (chapter 9): Hydra with forgetting and its ablations, and what order is worth, all
# with the 15-minute CPU recipe on ML-1M, in the order that answers the chapter's questions
# soonest. Resumable. STAGE=1: seed 0 of every variant; STAGE=2: seeds 1 and 2 of the ones
# the chapter's table reports with three seeds; STAGE=order: shuffled histories.
source "$(dirname "$0")/lib.sh"
case ${STAGE:-1} in
  1) NAMES=${NAMES:-hydrarec_decay hydrarec_decay_positions hydrarec_decay_conv hydrarec_decay_fixed sasrec_no_positions hydrarec_bidirectional_nomask hydrarec_decay_bidirectional hydra_decay_sdpa hydrarec_bidirectional_last}
     SEEDS=0 ;;
  2) NAMES=${NAMES:-hydrarec_decay hydrarec_decay_bidirectional}
     SEEDS="1 2" ;;
  order)
     for NAME in ${NAMES:-sasrec hydrarec_causal hydrarec_decay}; do
       run_once "results/order/${NAME}_shuffled_s0.json" "runs/order/${NAME}_shuffled_s0" \
         --recipe cpu15 --model "$NAME" --order shuffled --seed 0
     done
     baseline_once results/order/markov_shuffled.json markov --order shuffled
     baseline_once results/order/ease_shuffled.json ease --order shuffled
     exit 0 ;;
esac
for SEED in $SEEDS; do
  for NAME in $NAMES; do
    run_once "results/part4/${NAME}_s$SEED.json" "runs/part4/${NAME}_s$SEED" \
      --recipe cpu15 --model "$NAME" --seed "$SEED"
  done
done
