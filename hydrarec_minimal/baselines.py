"""Recommenders without a neural network, the floors every model must clear:

- **most popular**: the films rated most often in training, for everyone;
- **Markov chain** (first order): after film a, the films that most often followed a in
  training, ties broken by popularity; the simplest model that uses order;
- **EASE** (Steck 2019): a closed-form item-to-item linear model over the set of films a
  user rated; strong, and blind to order.

Each scores every user's input history, like a trained model, so ``metrics`` evaluates them
the same way. ``python -m hydrarec_minimal.baselines --name markov --out DIR`` writes a
metrics.json beside the trained runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

from . import metrics as M
from .data import SequenceData, Split, load_movielens
from .machine import environment
from .runs import write

NAMES = ("most_popular", "markov", "ease")
EASE_LAMBDAS = (50.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)  # the grid validation chooses from


def popularity_scores(split: Split, num_items: int, users: int) -> Tensor:
    """(users, N + 1): every user gets the training counts of every item."""
    return M.popularity_scores(split.train, num_items).expand(users, -1)


def transition_counts(train: list[list[int]], num_items: int) -> Tensor:
    """(N + 1, N + 1) counts of film b directly following film a in the training histories."""
    pairs = torch.tensor(
        [(a, b) for s in train for a, b in zip(s[:-1], s[1:], strict=True)], dtype=torch.long
    )
    counts = torch.zeros((num_items + 1) ** 2)
    if len(pairs):
        counts.index_add_(0, pairs[:, 0] * (num_items + 1) + pairs[:, 1], torch.ones(len(pairs)))
    return counts.view(num_items + 1, num_items + 1)


def markov_scores(split: Split, num_items: int, inputs: list[list[int]]) -> Tensor:
    """(users, N + 1): counts of what followed each user's last film, plus popularity scaled
    below one count, so that it only breaks ties."""
    counts = transition_counts(split.train, num_items)
    pop = M.popularity_scores(split.train, num_items)
    last = torch.tensor([s[-1] if s else 0 for s in inputs])
    return counts[last] + pop / (pop.max() + 1)


def item_matrix(histories: list[list[int]], num_items: int) -> Tensor:
    """(users, N + 1) float64 0/1 matrix: which films each history holds."""
    x = torch.zeros(len(histories), num_items + 1, dtype=torch.float64)
    for u, s in enumerate(histories):
        x[u, s] = 1.0
    return x


def ease_weights(train: list[list[int]], num_items: int, lam: float) -> Tensor:
    """EASE's (N + 1, N + 1) item-item weights: B = I - P / diag(P), P = (X^T X + lam I)^-1,
    so that diag(B) = 0 (an item never predicts itself)."""
    x = item_matrix(train, num_items)
    gram = x.T @ x + lam * torch.eye(num_items + 1, dtype=torch.float64)
    p = torch.linalg.inv(gram)
    b = -p / torch.diagonal(p)[None, :]
    b.fill_diagonal_(0.0)
    return b


def ease_scores(weights: Tensor, inputs: list[list[int]], num_items: int) -> Tensor:
    """(users, N + 1) EASE scores of each input history."""
    return (item_matrix(inputs, num_items) @ weights).float()


def best_ease_lambda(data: SequenceData, split: Split) -> tuple[float, dict[float, float]]:
    """The regularisation with the best validation NDCG@10 on ``EASE_LAMBDAS``, and all scores."""
    found = {}
    for lam in EASE_LAMBDAS:
        scores = ease_scores(
            ease_weights(split.train, data.num_items, lam), split.valid_input, data.num_items
        )
        found[lam] = M.evaluate(scores, split.valid_input, split.valid_target)["ndcg@10"]
    return max(found, key=found.get), found


def scores_for(name: str, data: SequenceData, split: Split, which: str) -> Tensor:
    """A baseline's scores of every user's 'valid' or 'test' input."""
    inputs = split.test_input if which == "test" else split.valid_input
    if name == "most_popular":
        return popularity_scores(split, data.num_items, len(inputs))
    if name == "markov":
        return markov_scores(split, data.num_items, inputs)
    if name == "ease":
        lam, _ = best_ease_lambda(data, split)
        return ease_scores(ease_weights(split.train, data.num_items, lam), inputs, data.num_items)
    raise ValueError(f"unknown baseline {name!r}; choose one of {NAMES}")


def evaluate_baseline(name: str, data: SequenceData, order: str = "time") -> dict:
    """A baseline's record in the layout of a training run's metrics.json (per-user test
    ranks included, for paired tests)."""
    split = data.split(order)
    valid = M.evaluate(
        scores_for(name, data, split, "valid"), split.valid_input, split.valid_target
    )
    test_scores = scores_for(name, data, split, "test")
    test = M.evaluate_all(test_scores, data, split)
    record = {
        "config": {"dataset": data.name, "model": name, "order": order},
        "data": data.summary(),
        "valid": valid,
        "test": test["full"],
        "test_uniform100": test["uniform100"],
        "test_popular100": test["popular100"],
        "test_ranks": M.full_ranks(test_scores, split.test_target, split.test_input).tolist(),
        "environment": environment(),
        "command": f"python -m hydrarec_minimal.baselines --name {name} --dataset {data.name} "
        f"--order {order} --out DIR",
    }
    if name == "ease":
        record["config"]["lambda"], record["valid_by_lambda"] = best_ease_lambda(data, split)
    return record


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: evaluate one baseline, write DIR/metrics.json."""
    p = argparse.ArgumentParser(prog="python -m hydrarec_minimal.baselines", description=__doc__)
    p.add_argument("--name", choices=NAMES, required=True)
    p.add_argument("--dataset", default="ml-1m")
    p.add_argument("--order", default="time", choices=("time", "shuffled"))
    p.add_argument("--min-item-count", type=int, default=5)
    p.add_argument("--out", required=True, help="folder for metrics.json")
    a = p.parse_args(argv)
    record = evaluate_baseline(a.name, load_movielens(a.dataset, a.min_item_count), a.order)
    write(Path(a.out) / "metrics.json", record)
    print(f"{a.name}: test NDCG@10 {record['test']['ndcg@10']:.4f} (full ranking)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
