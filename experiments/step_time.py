"""What does a variant cost per training step, against the book's causal HydraRec?

Times training steps of causal HydraRec on real ML-1M batches (``costs.epoch_cost``: 128
users, length 200, d = 64, 2 blocks, the recipe's precision, full cross-entropy) with the
running sum, the running mean, Hydra with forgetting, and the cross-entropy computed in
chunks of positions, in alternating rounds so that all see the same machine state. Writes
benchmarks/step_time.json; chapters 7 and 9 and the appendix read it.
Usage: HYDRAREC_DATA=... .venv/bin/python experiments/step_time.py
"""

from __future__ import annotations

import statistics
from pathlib import Path

from hydrarec_minimal.costs import epoch_cost
from hydrarec_minimal.machine import environment, freed_memory_kept, torch_threads
from hydrarec_minimal.runs import write

ROUNDS, STEPS = 6, 8
VARIANTS = {  # name -> epoch_cost arguments
    "sum": dict(attention="hydra"),
    "mean": dict(attention="hydra", hydra_mean=True),
    "decay": dict(attention="hydra_decay"),
    "sum, loss in chunks of 1,024": dict(attention="hydra", loss_chunk=1024),
    "sum, loss in chunks of 4,096": dict(attention="hydra", loss_chunk=4096),
}


def main() -> None:
    """Alternate the variants for a few rounds and write the median step times."""
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with torch_threads(2), freed_memory_kept():
        for _ in range(ROUNDS):
            for name, kw in VARIANTS.items():
                times[name].append(epoch_cost(steps=STEPS, **kw)["step_s"])
        record = {
            "what": "seconds per training step of causal HydraRec, ML-1M batches of 128 x 200",
            "median_s": {name: statistics.median(t) for name, t in times.items()},
            "rounds_s": times,
            "environment": environment(),
        }
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "step_time.json"
    write(path, record)
    print(record["median_s"])


if __name__ == "__main__":
    main()
