"""Tests for hydrarec_minimal/baselines.py: most popular, Markov chain, EASE."""

from __future__ import annotations

import pytest
import torch
from conftest import synthetic

from hydrarec_minimal import baselines as BL
from hydrarec_minimal.data import sequence_data


def test_transition_counts_by_hand():
    counts = BL.transition_counts([[1, 2, 3], [1, 2], [2, 1]], num_items=3)
    assert counts[1, 2] == 2 and counts[2, 3] == 1 and counts[2, 1] == 1 and counts.sum() == 4


def test_markov_scores_follow_the_last_film_and_break_ties_by_popularity():
    data = sequence_data("x", {1: [1, 2, 3, 9, 9], 2: [1, 2, 4, 9, 9], 3: [5, 3, 9, 9]}, 1)
    split = data.split()
    scores = BL.markov_scores(split, data.num_items, [[1], [5]])
    two, three = data.movie_ids.index(2) + 1, data.movie_ids.index(3) + 1
    assert scores[0].argmax() == two  # 1 was followed by 2 twice
    assert scores[1].argmax() == three
    assert (scores[0] - scores[0].floor()).max() < 1  # popularity only breaks ties


def test_ease_matches_its_closed_form():
    data = synthetic(users=60, items=20)
    split = data.split()
    lam = 10.0
    b = BL.ease_weights(split.train, data.num_items, lam)
    assert torch.diagonal(b).abs().max() == 0
    x = BL.item_matrix(split.train, data.num_items)
    # B minimises ||X - X B||^2 + lam ||B||^2 with diag(B) = 0: the gradient is zero off the
    # diagonal (Steck 2019's Lagrangian condition)
    grad = -x.T @ (x - x @ b) + lam * b
    off = grad - torch.diag(torch.diagonal(grad))
    assert off.abs().max() < 1e-8


def test_every_baseline_beats_nothing_and_records_its_data():
    data = synthetic()
    results = {name: BL.evaluate_baseline(name, data) for name in BL.NAMES}
    for r in results.values():
        assert r["data"]["fingerprint"] == data.fingerprint()
        assert len(r["test_ranks"]) == data.num_users
        assert r["test_uniform100"]["ndcg@10"] >= r["test"]["ndcg@10"]
    # the synthetic users walk up the item ids: order is everything, and Markov sees it
    assert results["markov"]["test"]["ndcg@10"] > 0.9
    assert results["markov"]["test"]["ndcg@10"] > results["most_popular"]["test"]["ndcg@10"]
    assert results["ease"]["config"]["lambda"] in BL.EASE_LAMBDAS


def test_shuffled_order_takes_markov_s_advantage_away():
    data = synthetic()
    timed = BL.evaluate_baseline("markov", data)["test"]["ndcg@10"]
    shuffled = BL.evaluate_baseline("markov", data, order="shuffled")["test"]["ndcg@10"]
    assert shuffled < 0.5 * timed


def test_cli_writes_metrics(tmp_path, monkeypatch):
    data = synthetic()
    monkeypatch.setattr(BL, "load_movielens", lambda *a, **k: data)
    assert BL.main(["--name", "most_popular", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "metrics.json").exists()
    with pytest.raises(SystemExit):
        BL.main(["--name", "knn", "--out", str(tmp_path)])
