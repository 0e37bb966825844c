#!/usr/bin/env bash
# Short probes behind chapter 7's note on the sampled losses: one to three minutes of CPU
# each, causal HydraRec, the 15-minute recipe otherwise. Resumable.
source "$(dirname "$0")/lib.sh"
probe() {  # name, CPU seconds, extra arguments
  local name=$1 budget=$2
  shift 2
  run_once "results/losses/probes/$name.json" "runs/probes/$name" --recipe cpu15 \
    --model hydrarec_causal --time-budget-s "$budget" --no-test-every-epoch --seed 0 "$@"
}
probe gbce256_per_sequence 200 --loss gbce --negatives 256
probe bce1 75 --loss gbce --negatives 1 --gbce-t 0
probe sampled512 75 --loss sampled --negatives 512
