# Shared by the experiment scripts (each one sources it): the repository root, the Python to
# use, and run_once, the skip / resume / copy pattern every training script follows.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
export PYTHONHASHSEED=0
# Waiting OpenMP threads sleep instead of spinning: a run's CPU-time budget then counts its
# own work, even while other processes share the machine (spinning cost a run a third of its
# epochs here when a second process was busy).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# run_once RESULT RUN_DIR ARGS...: train unless RESULT exists (resuming RUN_DIR's checkpoint
# if an earlier attempt was cut off), then copy the run's metrics.json to RESULT. Stored CPU
# runs compute in float32 ($PRECISION): the recipes' 'auto' would pick bfloat16 on a processor
# with bfloat16 units, and runs compared under one CPU-time budget must compute alike.
run_once() {
  local result=$1 dir=$2
  shift 2
  [ -f "$result" ] && return 0
  mkdir -p "$(dirname "$result")"
  "$PY" -m hydrarec_minimal.train --precision "${PRECISION:-fp32}" "$@" --resume --quiet \
    --out "$dir"
  cp "$dir/metrics.json" "$result"
}

# baseline_once RESULT NAME ARGS...: evaluate a baseline (hydrarec_minimal.baselines) once.
baseline_once() {
  local result=$1 name=$2 dir
  shift 2
  [ -f "$result" ] && return 0
  dir="runs/baselines/$(basename "$(dirname "$result")")_$(basename "$result" .json)"
  mkdir -p "$(dirname "$result")"
  "$PY" -m hydrarec_minimal.baselines --name "$name" "$@" --out "$dir"
  cp "$dir/metrics.json" "$result"
}
