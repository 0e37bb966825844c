#!/usr/bin/env bash
# The book's GPU benchmarks in one script (ran once on an H200, 2026-11-27). Stages 1 and 2
# are stored under benchmarks/gpu/. Stage 3's training runs were on the earlier tie order of
# ML-1M; no chapter read them and they are no longer stored (git history). Usage:
#   HYDRAREC_DATA=folder-with-ml-1m bash experiments/gpu_benchmarks.sh OUT_DIR
# 1. attention sweep (chapters 2 and 4); 2. training-step breakdown (chapter 8);
# 3. long-history training, max length 50..2000, SASRec (sdpa) vs HydraRec (chapter 8).
# Results are packed into OUT_DIR/gpu_results.tgz after every stage, so a run cut short
# still returns what it finished.
set -u
OUT=${1:?output folder}
WORK=${WORK:-/tmp/gpu_work}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
LENGTHS=${LENGTHS:-50 200 800 2000}
pack() { tar czf "$OUT/gpu_results.tgz" -C "$WORK" . ; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$WORK/gpu.txt" 2>&1
$PY -m hydrarec_minimal.bench sweep --device ${DEVICE:-cuda} --t-min 64 --t-max ${T_MAX:-65536} \
    --d 64 --batch 4 --repeats 10 --out "$WORK/sweep_cuda_d64" > "$WORK/sweep.log" 2>&1
pack
$PY -m hydrarec_minimal.costs breakdown --device ${DEVICE:-cuda} --lengths ${LENGTHS// /,} \
    --precision bf16 --out "$WORK/breakdown_cuda" > "$WORK/breakdown.log" 2>&1
pack
for L in $LENGTHS; do
  for ATT in sdpa hydra; do
    $PY -m hydrarec_minimal.train --dataset ml-1m --attention $ATT --mode causal --max-len $L \
        --epochs 200 --patience 10 --time-budget-s ${BUDGET:-40} --precision bf16 --lr 2e-3 \
        --device ${DEVICE:-cuda} --quiet --out "$WORK/long_${ATT}_L${L}" >> "$WORK/long.log" 2>&1
    rm -f "$WORK/long_${ATT}_L${L}/checkpoint.pt"
    pack
  done
done
ls -R "$WORK"
