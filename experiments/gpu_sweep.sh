#!/usr/bin/env bash
# The appendix's recipe search on a GPU: causal HydraRec's recipe variants, SASRec beside them
# and gBCE, each trained for 60 epochs (--recipe gpu-sweep: the book's settings, validation and
# test metrics after every epoch, no early stopping) on the corrected ML-1M, every run side by
# side as its own process with one CPU thread. The appendix reads each run at the epochs that
# 15 CPU minutes buy causal HydraRec and at 60.
# Usage on a CUDA machine: OUT=dir HYDRAREC_DATA=... bash experiments/gpu_sweep.sh [limit_s]
# Each run's epochs go to $OUT/logs/NAME.jsonl (--epoch-log) and, when it ends, its
# metrics.json to $OUT/logs/NAME.json; $OUT/sweep.tgz is refreshed every 20 s, so a run cut
# off at the limit still returns its history. Results: results/sweep_gpu/.
# RUNS="causal_base_s0 ..." chooses runs (NAME_sSEED); EXTRA adds flags to each (a dry run:
# EXTRA="--device cpu --epochs 0").
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LIMIT=${1:-480}
mkdir -p "$OUT/logs"
export PYTHONHASHSEED=0
CAUSAL="--model hydrarec_causal"
MEAN="--model hydrarec_causal_mean"
declare -A R=(  # run name -> its flags (the seed comes from RUNS)
  [causal_base]="$CAUSAL"
  [causal_mean]="$MEAN"
  [causal_untied]="$CAUSAL --no-tied"
  [causal_mean_untied]="$MEAN --no-tied"
  [causal_mean_d128]="$MEAN --d 128"
  [causal_mean_drop01]="$MEAN --dropout 0.1"
  [causal_mean_lr1e3]="$MEAN --lr 1e-3"
  [causal_mean_l3]="$MEAN --layers 3"
  [causal_mean_ffn4]="$MEAN --ffn-mult 4"
  [causal_mean_cos48]="$MEAN --epochs 48 --schedule cosine"
  [sasrec_base]="--model sasrec"
  [causal_gbce]="$CAUSAL --loss gbce --negatives 256"
  [causal_gbce_untied]="$CAUSAL --loss gbce --negatives 256 --no-tied"
)
DEFAULT=""  # seeds 0-2 of every recipe change and of SASRec; seed 0 of gBCE
for NAME in "${!R[@]}"; do
  case $NAME in causal_gbce*) SEEDS=0 ;; *) SEEDS="0 1 2" ;; esac
  for SEED in $SEEDS; do DEFAULT="$DEFAULT ${NAME}_s$SEED"; done
done
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/logs/gpu.txt" 2>&1
for NAME in ${RUNS:-$DEFAULT}; do
  # shellcheck disable=SC2086
  ( $PY -m hydrarec_minimal.train --recipe gpu-sweep ${R[${NAME%_s*}]} --seed "${NAME##*_s}" \
      ${EXTRA:-} \
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
