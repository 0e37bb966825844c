"""Does the running-mean variant of causal Hydra cost more per training step than the sum?

Times training steps of causal HydraRec on real ML-1M batches (``bench.epoch_cost``: 128
users, length 200, d = 64, 2 blocks, bfloat16, full cross-entropy) with the running sum and
with the running mean, in alternating rounds so that both see the same machine state. Writes
benchmarks/step_time_hydra_mean.json; chapter 7 reads it.
Usage: HYDRAREC_DATA=... python benchmarks/step_time_hydra_mean.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydrarec_minimal.bench import environment, epoch_cost, keep_freed_memory  # noqa: E402

ROUNDS, STEPS = 3, 5


def main() -> None:
    """Alternate the two variants for a few rounds and write the median step times."""
    torch.set_num_threads(2)
    keep_freed_memory()
    times: dict[str, list[float]] = {"sum": [], "mean": []}
    for _ in range(ROUNDS):
        for name in times:
            times[name].append(epoch_cost(steps=STEPS, hydra_mean=name == "mean")["step_s"])
    out = {
        "what": "seconds per training step, causal HydraRec, ML-1M batch of 128, L 200, d 64 "
        f"(median of {ROUNDS} rounds of bench.epoch_cost, each the median of {STEPS} steps)",
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "rounds_s": times,
        "environment": environment(),
    }
    Path(__file__).with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    print({k: round(v, 4) for k, v in out["median_s"].items()})


if __name__ == "__main__":
    main()
