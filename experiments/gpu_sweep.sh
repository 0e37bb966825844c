#!/usr/bin/env bash
# The appendix's recipe search on a GPU: causal HydraRec's recipe variants, SASRec beside them
# and gBCE, each trained for 60 epochs (--recipe gpu-sweep: the book's settings, validation and
# test metrics after every epoch, no early stopping) on the corrected ML-1M, every run side by
# side as its own process with one CPU thread. The appendix reads each run at 48 and 60 epochs.
# Usage on a CUDA machine: OUT=dir HYDRAREC_DATA=... bash experiments/gpu_sweep.sh [limit_s]
# Each run's epochs go to $OUT/logs/NAME.jsonl (--epoch-log) and, when it ends, its
# metrics.json to $OUT/logs/NAME.json; $OUT/sweep.tgz is refreshed every 20 s, so a run cut
# off at the limit still returns its history. Results: results/sweep_gpu/.
# RUNS="causal_base_s0 ..." chooses runs; EXTRA adds flags to each (a dry run: EXTRA="--device
# cpu --epochs 1").
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LIMIT=${1:-480}
mkdir -p "$OUT/logs"
export PYTHONHASHSEED=0
CAUSAL="--model hydrarec_causal"
MEAN="--model hydrarec_causal_mean"
declare -A R=(
  [causal_base_s0]="$CAUSAL --seed 0"
  [causal_base_s1]="$CAUSAL --seed 1"
  [causal_base_s2]="$CAUSAL --seed 2"
  [causal_mean_s0]="$MEAN --seed 0"
  [causal_mean_s1]="$MEAN --seed 1"
  [causal_mean_s2]="$MEAN --seed 2"
  [causal_untied_s0]="$CAUSAL --no-tied --seed 0"
  [causal_mean_untied_s0]="$MEAN --no-tied --seed 0"
  [causal_mean_d128_s0]="$MEAN --d 128 --seed 0"
  [causal_mean_drop01_s0]="$MEAN --dropout 0.1 --seed 0"
  [causal_mean_lr1e3_s0]="$MEAN --lr 1e-3 --seed 0"
  [causal_mean_l3_s0]="$MEAN --layers 3 --seed 0"
  [causal_mean_ffn4_s0]="$MEAN --ffn-mult 4 --seed 0"
  [causal_mean_cos48_s0]="$MEAN --epochs 48 --schedule cosine --seed 0"
  [sasrec_base_s0]="--model sasrec --seed 0"
  [causal_gbce_s0]="$CAUSAL --loss gbce --negatives 256 --seed 0"
  [causal_gbce_untied_s0]="$CAUSAL --loss gbce --negatives 256 --no-tied --seed 0"
)
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/logs/gpu.txt" 2>&1
for NAME in ${RUNS:-${!R[@]}}; do
  # shellcheck disable=SC2086
  ( $PY -m hydrarec_minimal.train --recipe gpu-sweep ${R[$NAME]} ${EXTRA:-} \
      --quiet --epoch-log "$OUT/logs/$NAME.jsonl" --out "runs/sweep_gpu/$NAME" \
      > "$OUT/logs/$NAME.out" 2>&1 \
    && cp "runs/sweep_gpu/$NAME/metrics.json" "$OUT/logs/$NAME.json" ) &
done
snap() { tar czf "$OUT/sweep.tgz.tmp" -C "$OUT" logs && mv "$OUT/sweep.tgz.tmp" "$OUT/sweep.tgz"; }
END=$((SECONDS + LIMIT))
while [ $SECONDS -lt $END ] && [ -n "$(jobs -r)" ]; do sleep 20; snap; done
nvidia-smi > "$OUT/logs/nvidia-smi-end.txt" 2>&1
snap
echo "finished: $(ls "$OUT"/logs/*.json 2>/dev/null | wc -l) runs of $(ls "$OUT"/logs/*.jsonl | wc -l)"
