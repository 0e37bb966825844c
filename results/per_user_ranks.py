"""Add each stored run's per-user test ranks (full ranking) to results/<group>/ranks.json.

The metrics files hold averages; chapter 8's significance tests need each user's rank. This
reloads the best-validation weights from each run's checkpoint (runs/<group>/<name>/), scores
the test targets, and stores the 0-based ranks. Usage: python results/per_user_ranks.py main
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from hydrarec_minimal import metrics as M
from hydrarec_minimal.data import load_movielens
from hydrarec_minimal.model import HydraRec, ModelConfig
from hydrarec_minimal.train import load_checkpoint, most_popular_scores, score_users

ROOT = Path(__file__).resolve().parents[1]


def ranks_of(name: str, group: str, data, split) -> list[int] | None:
    """Test ranks of one stored run, or None when its checkpoint is not on this machine."""
    result = json.loads((ROOT / "results" / group / f"{name}.json").read_text())
    ckpt = ROOT / "runs" / group / name / "checkpoint.pt"
    if name == "most_popular":
        scores = most_popular_scores(split, data.num_items, data.num_users)
    elif ckpt.exists():  # the run's own thread count: sums are then added in the same order
        torch.set_num_threads(result["config"].get("threads") or torch.get_num_threads())
        model = HydraRec(ModelConfig(**result["model"]))
        model.load_state_dict(load_checkpoint(ckpt)["best_state"])
        scores = score_users(model, split.test_input)
    else:
        return None
    ranks = M.full_ranks(scores, split.test_target, split.test_input)
    assert abs(M.metrics_from_ranks(ranks)["ndcg@10"] - result["test"]["ndcg@10"]) < 1e-6
    return ranks.tolist()


def main(group: str = "main") -> None:
    """Fill results/<group>/ranks.json with every run that has a checkpoint here."""
    out = ROOT / "results" / group / "ranks.json"
    ranks = json.loads(out.read_text()) if out.exists() else {}
    data = load_movielens("ml-1m")
    split = data.split()
    for path in sorted((ROOT / "results" / group).glob("*.json")):
        if path.name == "ranks.json" or path.stem in ranks:
            continue
        r = ranks_of(path.stem, group, data, split)
        if r is not None:
            ranks[path.stem] = r
            print("ranks for", path.stem)
    out.write_text(json.dumps(ranks, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
