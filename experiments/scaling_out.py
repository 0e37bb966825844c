"""The measurements behind the appendix "Scaling out".

1. The training CLI on ML-100K in one process and under ``torchrun`` with two (gloo, one
   thread each), the same total batch: their metrics and times (results/scaling/).
2. The book's cost model (``costs.epoch_cost``: a few timed steps, times the steps of an
   epoch) predicting the epoch time of histories 2,000 films long over a catalogue of
   ML-20M's size, checked against one epoch actually trained on synthetic data of that
   shape (benchmarks/scaling_out.json).
Usage: HYDRAREC_DATA=... .venv/bin/python experiments/scaling_out.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from hydrarec_minimal import costs, train
from hydrarec_minimal.data import sequence_data
from hydrarec_minimal.machine import environment
from hydrarec_minimal.runs import read, write

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--recipe", "cpu15", "--model", "hydrarec_causal", "--dataset", "ml-100k",
         "--time-budget-s", "0", "--epochs", "10", "--no-test-every-epoch", "--quiet"]  # fmt: skip


def cli(out: Path, ranks: int) -> dict:
    """The training CLI in one process (2 threads) or under torchrun (1 thread per rank)."""
    if out.with_suffix(".json").exists():
        return read(out.with_suffix(".json"))
    launch = [sys.executable]
    threads = ["--threads", "2"]
    if ranks > 1:
        launch += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
        threads = ["--threads", "1"]
    sep = ["--"] if ranks > 1 else []
    cmd = [*launch, "-m", "hydrarec_minimal.train", *sep, *FLAGS, *threads, "--out", str(out)]
    subprocess.run(cmd, check=True, env=os.environ | {"OMP_NUM_THREADS": threads[1]})
    result = read(out / "metrics.json")
    write(out.with_suffix(".json"), result)
    return result


def long_histories(users: int = 128, length: int = 2001, items: int = 26_744, seed: int = 0):
    """Synthetic data of ML-20M's long users' shape: each user walks through the catalogue."""
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(1, items, (users,), generator=g).tolist()
    raw = {u + 1: [(s + 7 * i) % items + 1 for i in range(length)] for u, s in enumerate(starts)}
    return sequence_data("synthetic-long", raw, min_item_count=1)


def main() -> None:
    """Run both measurements and write their files."""
    results = ROOT / "results" / "scaling"
    runs = {n: cli(results / f"hydrarec_causal_ml100k_{n}rank", n) for n in (1, 2)}
    data = long_histories()
    cfg = train.TrainConfig.from_recipe("cpu15", "hydrarec_causal", max_len=2000,
                                        batch_size=16, epochs=1, time_budget_s=0,
                                        test_every_epoch=False, eval_batch_size=64)  # fmt: skip
    predicted = costs.epoch_cost("hydra", max_len=2000, batch=16, steps=3, data=data,
                                 precision=cfg.precision)  # fmt: skip
    trained = train.train(cfg, data=data, progress=False)
    record = {
        "ranks": {n: {"test_ndcg@10": r["test"]["ndcg@10"], "epochs": len(r["history"]),
                      "median_epoch_s": sorted(h["train_s"] for h in r["history"])[
                          len(r["history"]) // 2]} for n, r in runs.items()},
        "cost_model": {"users": data.num_users, "length": 2000, "items": data.num_items,
                       "batch": 16, "predicted_epoch_s": predicted["epoch_s"],
                       "measured_epoch_s": trained["history"][0]["train_s"],
                       "step_s": predicted["step_s"]},
        "environment": environment(),
    }  # fmt: skip
    write(ROOT / "benchmarks" / "scaling_out.json", record)
    print(record["ranks"], record["cost_model"])


if __name__ == "__main__":
    main()
