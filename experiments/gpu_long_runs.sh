#!/usr/bin/env bash
# Part III's longer runs on a GPU: the five models of the main table, seed 0, each for a fixed
# GPU budget (default 45 s, about 55 epochs at max length 200 on an H200), same settings as
# results/run_main_table.sh otherwise. Usage: HYDRAREC_DATA=... bash experiments/gpu_long_runs.sh OUT
set -u
OUT=${1:?output folder}
WORK=${WORK:-/tmp/gpu_long}
mkdir -p "$OUT" "$WORK"
PY=${PYTHON:-python3}
COMMON="--dataset ml-1m --max-len 200 --d 64 --layers 2 --dropout 0.2 --loss ce --lr 2e-3
        --batch-size 128 --precision bf16 --epochs 500 --patience 15 --time-budget-s ${BUDGET:-45}
        --test-every-epoch --device ${DEVICE:-cuda} --quiet"
for SPEC in "sasrec:sdpa:causal" "hydrarec_causal:hydra:causal" "linear_causal:linear:causal" \
            "bert4rec:sdpa:bidirectional" "hydrarec_bidirectional:hydra:bidirectional"; do
  IFS=: read NAME ATT MODE <<< "$SPEC"
  $PY -m hydrarec_minimal.train $COMMON --attention $ATT --mode $MODE --seed 0 \
      --out "$WORK/$NAME" >> "$WORK/log.txt" 2>&1
  rm -f "$WORK/$NAME/checkpoint.pt"
  tar czf "$OUT/gpu_long_runs.tgz" -C "$WORK" .
done
