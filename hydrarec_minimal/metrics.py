"""Ranking metrics for next-item prediction (HR@k, NDCG@k, MRR) under two protocols, and how
a model's scores for every user are computed and evaluated.

- **full**: the target is ranked against every item, with the user's already-seen items
  excluded (the protocol of Klenitskiy & Vasilev 2023 and Petrov & Macdonald 2022);
- **sampled**: against 100 sampled negatives the user has not rated, drawn uniformly (SASRec
  paper) or by popularity (BERT4Rec paper). Sampled numbers are 3-4x higher and are not
  comparable with full-ranking numbers (Krichene & Rendle 2020).

Ranks are 0-based and pessimistic: an item whose score ties the target's counts as ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .data import SequenceData, Split, pad_left
from .model import HydraRec

KS = (1, 5, 10, 20)


def metrics_from_ranks(ranks: Tensor, ks: Sequence[int] = KS) -> dict[str, float]:
    """HR@k (hit if rank < k), NDCG@k (1 / log2(rank + 2) if a hit) and MRR, averaged."""
    ranks = ranks.double()
    out = {}
    for k in ks:
        hit = ranks < k
        out[f"hr@{k}"] = hit.double().mean().item()
        out[f"ndcg@{k}"] = torch.where(hit, 1.0 / torch.log2(ranks + 2.0), 0.0).mean().item()
    out["mrr"] = (1.0 / (ranks + 1.0)).mean().item()
    return out


def exclude_seen(scores: Tensor, seen: Sequence[Sequence[int]], targets: Tensor) -> Tensor:
    """Set the scores of padding (item 0) and of each user's seen items to -inf, but never
    the target's own score (a re-watched item is still a fair target)."""
    scores = scores.clone()
    scores[:, 0] = float("-inf")
    rows = [i for i, s in enumerate(seen) for _ in s]
    cols = [j for s in seen for j in s]
    if rows:
        keep = scores[torch.arange(len(targets)), targets].clone()
        scores[rows, cols] = float("-inf")
        scores[torch.arange(len(targets)), targets] = keep
    return scores


def check_target_scores(target: Tensor) -> None:
    """A NaN score cannot be ranked (it would count as a hit): refuse it, naming the users."""
    bad = torch.isnan(target).flatten().nonzero().flatten()
    if len(bad):
        raise ValueError(
            f"the target's score is NaN for {len(bad)} user(s) (first: {bad[:5].tolist()}): "
            "the model diverged or its input was invalid"
        )


def full_ranks(scores: Tensor, targets: Tensor, seen: Sequence[Sequence[int]]) -> Tensor:
    """0-based rank of each target among all items, seen items and padding excluded."""
    scores = exclude_seen(scores.float(), seen, targets)
    target = scores.gather(1, targets[:, None])
    check_target_scores(target)
    ahead = (scores > target).sum(1) + (scores == target).sum(1) - 1
    return ahead


def sample_negatives(
    num_items: int,
    seen: Sequence[Sequence[int]],
    n: int = 100,
    popularity: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(U, n) negatives per user, items 1..num_items not in the user's history, without
    replacement; uniform, or proportional to ``popularity`` (counts indexed by item id)."""
    weights = torch.ones(num_items + 1) if popularity is None else popularity.double().clone()
    weights[0] = 0
    out = torch.empty(len(seen), n, dtype=torch.long)
    for i, s in enumerate(seen):
        w = weights.clone()
        w[list(s)] = 0
        if int((w > 0).sum()) < n:
            raise ValueError(f"user {i} has fewer than {n} unseen items to sample from")
        out[i] = torch.multinomial(w, n, replacement=False, generator=generator)
    return out


def sampled_ranks(scores: Tensor, targets: Tensor, negatives: Tensor) -> Tensor:
    """0-based rank of each target among itself and its sampled negatives (ties count ahead)."""
    target = scores.gather(1, targets[:, None])
    check_target_scores(target)
    neg = scores.gather(1, negatives)
    return (neg >= target).sum(1)


def popularity_scores(train: Sequence[Sequence[int]], num_items: int) -> Tensor:
    """The most-popular baseline's scores: how often each item occurs in the training data."""
    counts = torch.zeros(num_items + 1)
    for s in train:
        counts += torch.bincount(torch.tensor(s, dtype=torch.long), minlength=num_items + 1)
    return counts


def ndcg_per_user(ranks: Tensor, k: int = 10) -> Tensor:
    """Each user's NDCG@k from their 0-based rank (1 / log2(rank + 2) if rank < k, else 0)."""
    ranks = ranks.double()
    return torch.where(ranks < k, 1.0 / torch.log2(ranks + 2.0), 0.0)


def _in_chunks(n: int, draw: Callable[[int], Tensor], chunk: int = 1_000) -> Tensor:
    """Row means of n random draws made ``chunk`` rows at a time: the same numbers as one
    draw of n rows (the generator advances identically) in a fraction of the memory."""
    return torch.cat([draw(min(chunk, n - i)).mean(1) for i in range(0, n, chunk)])


def paired_test(a: Tensor, b: Tensor, n: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Compare two models on the same users: mean of a - b, a 95% bootstrap interval for it
    (users resampled), and a two-sided sign-flip permutation p-value (no difference = each
    user's difference is as likely positive as negative)."""
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same users: {tuple(a.shape)} vs {tuple(b.shape)}")
    d = (a - b).double()
    g = torch.Generator().manual_seed(seed)
    boot = _in_chunks(n, lambda rows: d[torch.randint(0, len(d), (rows, len(d)), generator=g)])
    null = _in_chunks(
        n, lambda rows: (torch.randint(0, 2, (rows, len(d)), generator=g) * 2 - 1) * d
    )
    observed = d.mean()
    return {
        "mean_difference": observed.item(),
        "ci_low": torch.quantile(boot, 0.025).item(),
        "ci_high": torch.quantile(boot, 0.975).item(),
        "p_value": ((null.abs() >= observed.abs()).sum().item() + 1) / (n + 1),
    }


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of several p-values (family-wise error controlled): the
    i-th smallest is multiplied by (m - i), and the results are kept non-decreasing."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def p_text(p: float, draws: int = 10_000) -> str:
    """A p-value as a reader should see it: '< 0.001' below that (a permutation test with
    ``draws`` draws cannot resolve less than 1 / (draws + 1)), else three decimals."""
    floor = 1 / (draws + 1)
    return "< 0.001" if p < max(0.001, floor * 1.5) else f"{p:.3f}"


# ----------------------------------------------------------------------------- models

PROTOCOLS = ("full", "uniform100", "popular100")


@torch.no_grad()
def score_users(model: HydraRec, inputs: list[list[int]], batch_size: int = 512) -> Tensor:
    """(U, N + 1) next-item scores for every user's input history, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    L = model.cfg.max_len
    parts = []
    for i in range(0, len(inputs), batch_size):
        seq = pad_left(inputs[i : i + batch_size], L).to(device)
        parts.append(model.score_next(seq).float().cpu())
    return torch.cat(parts)


@torch.no_grad()
def model_ranks(
    model: HydraRec,
    inputs: list[list[int]],
    targets: Tensor,
    batch_size: int = 512,
    negatives: Tensor | None = None,
) -> Tensor:
    """0-based rank of each user's target under ``model``: among all items (seen excluded),
    or among the user's row of ``negatives``. Users are scored ``batch_size`` at a time and
    ranked at once, so no (users x items) matrix exists whole (MovieLens 20M's would take
    14 GB)."""
    ranks = []
    for i in range(0, len(inputs), batch_size):
        scores = score_users(model, inputs[i : i + batch_size], batch_size)
        t = targets[i : i + batch_size]
        if negatives is None:
            ranks.append(full_ranks(scores, t, inputs[i : i + batch_size]))
        else:
            ranks.append(sampled_ranks(scores, t, negatives[i : i + batch_size]))
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)


def protocol_negatives(protocol: str, data: SequenceData, split: Split, seed: int = 0) -> Tensor:
    """The (U, 100) negatives a sampled protocol draws for every user ('uniform100' or
    'popular100'), among items the user never rated: the same draws as ``evaluate``'s."""
    pop = popularity_scores(split.train, data.num_items) if protocol == "popular100" else None
    return draw_negatives(protocol, data.num_items, data.sequences, pop, seed)


def draw_negatives(
    protocol: str, num_items: int, never: list[list[int]], popularity: Tensor | None, seed: int
) -> Tensor:
    """The one draw behind both sampled protocols: 100 items per user outside ``never``,
    uniform or (for 'popular100') in proportion to ``popularity``, from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    pop = popularity if protocol == "popular100" else None
    return sample_negatives(num_items, never, 100, pop, g)


def evaluate(
    scores: Tensor,
    inputs: list[list[int]],
    targets: Tensor,
    protocol: str = "full",
    popularity: Tensor | None = None,
    seed: int = 0,
    all_seen: list[list[int]] | None = None,
) -> dict[str, float]:
    """Metrics of (U, N + 1) scores under 'full' ranking (seen items excluded) or 100 sampled
    negatives, 'uniform100' or 'popular100' (drawn among items the user never rated)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "full":  # in blocks of users: the seen-items copy of the scores stays small
        ranks = [full_ranks(scores[i : i + 1024], targets[i : i + 1024], inputs[i : i + 1024])
                 for i in range(0, len(targets), 1024)]  # fmt: skip
        return metrics_from_ranks(torch.cat(ranks))
    never = all_seen if all_seen is not None else inputs
    neg = draw_negatives(protocol, scores.shape[1] - 1, never, popularity, seed)
    return metrics_from_ranks(sampled_ranks(scores, targets, neg))


def evaluate_all(scores: Tensor, data: SequenceData, split: Split, which: str = "test") -> dict:
    """Full, uniform-100 and popularity-100 metrics for the 'valid' or 'test' targets."""
    inputs = split.test_input if which == "test" else split.valid_input
    targets = split.test_target if which == "test" else split.valid_target
    pop = popularity_scores(split.train, data.num_items)
    return {
        "full": evaluate(scores, inputs, targets, "full"),
        "uniform100": evaluate(scores, inputs, targets, "uniform100", pop, 0, data.sequences),
        "popular100": evaluate(scores, inputs, targets, "popular100", pop, 0, data.sequences),
    }
