#!/usr/bin/env bash
# GPU sessions of many small runs side by side (one process each, 1 CPU thread each).
#  PART=1: a recipe sweep for causal HydraRec (issue #4: what stands between it and 0.17?),
#          60 epochs each with test metrics every epoch (chapter 7 reads them at the epoch
#          count that 15 CPU minutes buy on the 2-core machine), and the bidirectional pair
#          trained to early stopping, seed 0 (issue #5: "at convergence").
#  PART=2: all five models to early stopping with seeds 0-2 (bidirectional seed 0 is part 1's),
#          plus follow-ups of part 1 (a second seed, cosine decay, gBCE with the fixed sampler).
# Usage on a CUDA machine: OUT=dir HYDRAREC_DATA=... PART=1 bash experiments/gpu_sweep.sh [s]
# Every epoch's record goes to $OUT/logs/NAME.jsonl (--epoch-log; train.read_epoch_log reads
# it) and the final record to NAME.json;
# $OUT/sweep.tgz is refreshed every 20 s, so runs cut short still return their history.
# Results: results/sweep_gpu/part1/, results/sweep_gpu/part2/ (NVIDIA H200, 2026-11-27, on the
# earlier tie order of ML-1M: see results/README.md).
# The .jsonl files hold each epoch's record; the .json files (runs that finished) the whole
# record with config and command. Their git_commit field reads 3418a2c, the commit the device's
# copy of .git pointed at; the code that ran is that commit plus the running-mean and untied
# options (commit "Model: optional running-mean Hydra ...") and, in part 2, the sampler fix;
# the epoch logs were written by results/train_logged.py, since folded into --epoch-log (same
# records, same format).
# Runs cut off by the session's limit (part 2: bert4rec_conv_s1, hydrarec_causal_mean_conv_s0,
# causal_gbce) have a .jsonl only; chapter 8 lists them and does not average them.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LIMIT=${1:-480}
RUNS=runs/sweep_gpu
mkdir -p "$RUNS" "$OUT/logs"
BASE="--dataset ml-1m --max-len 200 --d 64 --layers 2 --dropout 0.2 --loss ce --lr 2e-3
      --batch-size 128 --precision bf16 --device cuda --threads 1 --test-every-epoch"
SWEEP="--attention hydra --mode causal --epochs 60 --patience 1000"
CONV="--epochs 400 --eval-every 2 --patience 8"
declare -A R
if [ "${PART:-1}" = 1 ]; then
  R=(
    [causal_base]="$SWEEP --seed 0"
    [causal_mean]="$SWEEP --hydra-mean --seed 0"
    [causal_untied]="$SWEEP --no-tied --seed 0"
    [causal_mean_untied]="$SWEEP --hydra-mean --no-tied --seed 0"
    [causal_mean_d128]="$SWEEP --hydra-mean --d 128 --seed 0"
    [causal_mean_drop01]="$SWEEP --hydra-mean --dropout 0.1 --seed 0"
    [causal_mean_lr1e3]="$SWEEP --hydra-mean --lr 1e-3 --seed 0"
    [causal_mean_l3]="$SWEEP --hydra-mean --layers 3 --seed 0"
    [causal_mean_ffn4]="$SWEEP --hydra-mean --ffn-mult 4 --seed 0"
    [causal_gbce_untied]="$SWEEP --loss gbce --no-tied --seed 0"  # crashed: CUDA sampler bug
    [sasrec_base]="--attention sdpa --mode causal --epochs 60 --patience 1000 --seed 0"
    [bert4rec_conv]="--attention sdpa --mode bidirectional $CONV --seed 0"
    [hydra_bi_conv]="--attention hydra --mode bidirectional $CONV --seed 0"
    [hydra_bi_mean_conv]="--attention hydra --hydra-mean --mode bidirectional $CONV --seed 0"
  )
else
  for S in 0 1 2; do
    R[sasrec_conv_s$S]="--attention sdpa --mode causal $CONV --seed $S"
    R[hydrarec_causal_conv_s$S]="--attention hydra --mode causal $CONV --seed $S"
    R[linear_causal_conv_s$S]="--attention linear --mode causal $CONV --seed $S"
  done
  for S in 1 2; do
    R[bert4rec_conv_s$S]="--attention sdpa --mode bidirectional $CONV --seed $S"
    R[hydra_bi_conv_s$S]="--attention hydra --mode bidirectional $CONV --seed $S"
  done
  R[hydrarec_causal_mean_conv_s0]="--attention hydra --hydra-mean --mode causal $CONV --seed 0"
  R[causal_base_s1]="$SWEEP --seed 1"
  R[causal_mean_s1]="$SWEEP --hydra-mean --seed 1"
  R[causal_mean_cos48]="$SWEEP --hydra-mean --epochs 48 --schedule cosine --seed 0"
  R[causal_mean_l3_cos42]="$SWEEP --hydra-mean --layers 3 --epochs 42 --schedule cosine --seed 0"
  R[causal_gbce]="$SWEEP --loss gbce --seed 0"
  R[causal_gbce_untied]="$SWEEP --loss gbce --no-tied --seed 0"
fi
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/logs/gpu.txt" 2>&1
for NAME in "${!R[@]}"; do
  # shellcheck disable=SC2086
  ( $PY -m hydrarec_minimal.train $BASE ${R[$NAME]} --quiet --epoch-log "$OUT/logs/$NAME.jsonl" \
      --out "$RUNS/$NAME" > "$OUT/logs/$NAME.out" 2>&1 \
    && cp "$RUNS/$NAME/metrics.json" "$OUT/logs/$NAME.json" ) &
done
snap() { tar czf "$OUT/sweep.tgz.tmp" -C "$OUT" logs && mv "$OUT/sweep.tgz.tmp" "$OUT/sweep.tgz"; }
END=$((SECONDS + LIMIT))
while [ $SECONDS -lt $END ] && [ -n "$(jobs -r)" ]; do sleep 20; snap; done
snap
nvidia-smi > "$OUT/logs/nvidia-smi-end.txt" 2>&1
echo "finished: $(ls "$OUT"/logs/*.json 2>/dev/null | wc -l) of ${#R[@]} runs"
