#!/usr/bin/env bash
# Every CPU run the book reads, in the order that completes chapters soonest (about 12 hours
# of a 2-core CPU). Resumable: run it again after an interruption.
set -eu
cd "$(dirname "$0")"
SEEDS=0 bash main_table.sh
STAGE=1 bash part4.sh
SEEDS="1 2" bash main_table.sh
STAGE=2 bash part4.sh
STAGE=order bash part4.sh
bash long_runs.sh
bash losses.sh
bash loss_probes.sh
# Not here: gpu_converge.sh, gpu_sweep.sh and gpu_benchmarks.sh need a CUDA GPU.
