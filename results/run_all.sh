#!/usr/bin/env bash
# Every CPU training run the book reads, in the order that gives complete chapters soonest:
# the main table's seed 0, the loss comparison, the long SASRec run, then seeds 1 and 2.
# All resumable: run it again after an interruption.
set -eu
cd "$(dirname "$0")/.."
SEEDS=0 bash results/run_main_table.sh
bash results/run_losses.sh
bash results/run_long_sasrec.sh
SEEDS="1 2" bash results/run_main_table.sh
