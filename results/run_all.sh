#!/usr/bin/env bash
# Every CPU training run the book reads, in the order that gives complete chapters soonest:
# the main table's seed 0, seeds 1 and 2 of the three causal models (the paper's first claim),
# the loss comparison, the 45-minute SASRec and HydraRec runs, then seeds 1 and 2 of the
# bidirectional models, then the running-mean variant.
# All resumable: run it again after an interruption.
set -eu
cd "$(dirname "$0")/.."
SEEDS=0 bash results/run_main_table.sh
SEEDS="1 2" NAMES="sasrec hydrarec_causal linear_causal" bash results/run_main_table.sh
bash results/run_losses.sh
bash results/run_long.sh
SEEDS="1 2" NAMES="bert4rec hydrarec_bidirectional" bash results/run_main_table.sh
# the running-mean variant of causal HydraRec (chapter 7's sweep), three seeds
NAMES=hydrarec_causal_mean bash results/run_main_table.sh
# Not here: results/run_sweep_gpu.sh (needs a CUDA GPU: PART=1 and PART=2, about 6 minutes each
# on an H200) and results/run_loss_probes.sh (short probes, chapter 7).
