"""Does the running-mean variant of causal Hydra cost more per training step than the sum?

Times full training steps (forward, full cross-entropy, backward, AdamW) of causal HydraRec on
real ML-1M batches (128 users, length 200, d = 64, 2 blocks, bfloat16), with the running sum
and with the running mean, alternating so that both see the same machine state. Writes
benchmarks/step_time_hydra_mean.json; chapter 7 reads it.
Usage: HYDRAREC_DATA=... python benchmarks/step_time_hydra_mean.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydrarec_minimal.bench import environment, keep_freed_memory  # noqa: E402
from hydrarec_minimal.data import load_movielens  # noqa: E402
from hydrarec_minimal.model import HydraRec, ModelConfig, losses  # noqa: E402
from hydrarec_minimal.train import causal_examples  # noqa: E402

REPEATS, WARMUP = 12, 2


def main() -> None:
    """Time both variants on the same batches and write the medians."""
    torch.set_num_threads(2)
    keep_freed_memory()
    data = load_movielens("ml-1m")
    inputs, targets = causal_examples(data.split().train, 200)
    times: dict[str, list[float]] = {"sum": [], "mean": []}
    models, opts = {}, {}
    for name in times:
        torch.manual_seed(0)
        models[name] = HydraRec(ModelConfig(num_items=data.num_items, hydra_mean=name == "mean"))
        opts[name] = torch.optim.AdamW(models[name].parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for rep in range(REPEATS):
        idx = torch.randperm(inputs.shape[0], generator=g)[:128]
        for name, model in models.items():
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = losses(model(inputs[idx]), targets[idx], model.item_weights())
            opts[name].zero_grad(set_to_none=True)
            loss.backward()
            opts[name].step()
            if rep >= WARMUP:
                times[name].append(time.perf_counter() - t)
    out = {
        "what": "seconds per training step, causal HydraRec, ML-1M batch of 128, L 200, d 64",
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "all_s": times,
        "environment": environment(),
    }
    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print({k: round(v, 4) for k, v in out["median_s"].items()})


if __name__ == "__main__":
    main()
