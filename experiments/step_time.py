"""What does a variant cost per training step, against the book's causal HydraRec?

Times training steps of causal HydraRec on real ML-1M batches (``costs.step_times``: 128
users, length 200, d = 64, 2 blocks, the recipe's precision, full cross-entropy) with the
running sum, the running mean, Hydra with forgetting, and the cross-entropy computed in
chunks of positions: each a fresh model, interleaved step by step on the same batches so
that all see the same machine state. Writes benchmarks/step_time.json (median and quartiles
of the seconds per step); chapters 7 and 9 and the appendix read it.
Usage: HYDRAREC_DATA=... .venv/bin/python experiments/step_time.py
"""

from __future__ import annotations

import statistics
from pathlib import Path

from hydrarec_minimal.costs import step_times
from hydrarec_minimal.machine import environment, freed_memory_kept, torch_threads
from hydrarec_minimal.runs import write

STEPS = 40
VARIANTS = {  # name -> TrainConfig settings
    "sum": dict(attention="hydra"),
    "mean": dict(attention="hydra", hydra_mean=True),
    "decay": dict(attention="hydra_decay"),
    "sum, loss in chunks of 1,024": dict(attention="hydra", loss_chunk=1024),
    "sum, loss in chunks of 4,096": dict(attention="hydra", loss_chunk=4096),
}


def main() -> None:
    """Time the variants step by step and write the medians and quartiles."""
    with torch_threads(2), freed_memory_kept():
        times = step_times(VARIANTS, steps=STEPS)
    record = {
        "what": "seconds per training step of causal HydraRec, ML-1M batches of 128 x 200, "
        f"{STEPS} steps per variant interleaved step by step",
        "median_s": {name: statistics.median(t) for name, t in times.items()},
        "quartiles_s": {name: statistics.quantiles(t, n=4) for name, t in times.items()},
        "steps_s": times,
        "environment": environment(),
    }
    write(Path(__file__).resolve().parents[1] / "benchmarks" / "step_time.json", record)
    print(record["median_s"])


if __name__ == "__main__":
    main()
