"""How much memory does training take, and what does computing the loss in chunks save?

Trains causal HydraRec on ML-1M (the book's recipe, a few epochs) in a fresh process per
setting and records the process's peak resident memory and the median seconds per epoch:
the full cross-entropy over the whole batch at once (the recipe the stored runs use) against
the same loss computed a few thousand positions at a time (``TrainConfig(loss_chunk=...)``),
and the training explorer's default run on ML-100K. Settings run alternately, so
they see the same machine. Writes benchmarks/training_memory.json; chapter 7 reads it.
Usage: HYDRAREC_DATA=... .venv/bin/python experiments/training_memory.py [rounds]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from hydrarec_minimal.machine import environment
from hydrarec_minimal.runs import write

SETTINGS = {  # name -> TrainConfig overrides on top of the cpu15 recipe
    "ML-1M, whole batch": dict(dataset="ml-1m", epochs=2, loss_chunk=0),
    "ML-1M, chunks of 2,048": dict(dataset="ml-1m", epochs=2, loss_chunk=2048),
    "ML-100K, explorer default": dict(dataset="ml-100k", epochs=3, loss_chunk=2048),
}
CHILD = """
import json, sys
from hydrarec_minimal import machine, train
cfg = train.TrainConfig.from_recipe("cpu15", "hydrarec_causal", time_budget_s=0,
                                    test_every_epoch=False, **json.loads(sys.argv[1]))
result = train.train(cfg, progress=False)
print(json.dumps({"peak_rss_bytes": machine.proc_status("VmHWM"),
                  "epoch_s": [h["train_s"] for h in result["history"]],
                  "precision": result["config"]["precision"]}))
"""


def measure(overrides: dict) -> dict:
    """One training run in a fresh process: its peak memory and epoch times."""
    run = subprocess.run([sys.executable, "-c", CHILD, json.dumps(overrides)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(rounds: int = 2) -> None:
    """Alternate the settings for a few rounds and write the peaks and epoch times."""
    found: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    for _ in range(rounds):
        for name, overrides in SETTINGS.items():
            found[name].append(measure(overrides))
            print(name, found[name][-1], flush=True)
    rows = [{"setting": name, **SETTINGS[name],
             "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
             "median_epoch_s": statistics.median(s for r in runs for s in r["epoch_s"]),
             "precision": runs[0]["precision"]}
            for name, runs in found.items()]  # fmt: skip
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "training_memory.json"
    write(path, {"rows": rows, "rounds": found, "environment": environment()})
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
