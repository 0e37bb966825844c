"""Tests for hydrarec_minimal/metrics.py on cases computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from hydrarec_minimal import metrics as M


def test_metrics_from_ranks_by_hand():
    ranks = torch.tensor([0, 1, 4, 9, 10, 30])
    m = M.metrics_from_ranks(ranks)
    assert m["hr@1"] == pytest.approx(1 / 6)
    assert m["hr@5"] == pytest.approx(3 / 6)
    assert m["hr@10"] == pytest.approx(4 / 6)
    assert m["hr@20"] == pytest.approx(5 / 6)
    ndcg10 = (1 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 6
    assert m["ndcg@10"] == pytest.approx(ndcg10)
    assert m["ndcg@1"] == pytest.approx(1 / 6)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 10 + 1 / 11 + 1 / 31) / 6)


def test_full_ranks_exclude_seen_items_and_padding():
    # items 0..5; user 0's target is item 3, seen items 1 and 5 score higher but are excluded
    scores = torch.tensor([[9.0, 8.0, 1.0, 5.0, 6.0, 7.0]])
    targets = torch.tensor([3])
    assert M.full_ranks(scores, targets, [[]]).item() == 3  # 1, 5, 4 ahead (pad excluded)
    assert M.full_ranks(scores, targets, [[1, 5]]).item() == 1  # only item 4 ahead


def test_target_is_never_excluded_even_if_seen_before():
    scores = torch.tensor([[0.0, 3.0, 2.0, 1.0]])
    assert M.full_ranks(scores, torch.tensor([2]), [[2, 1]]).item() == 0


def test_ties_count_against_the_target():
    scores = torch.zeros(1, 5)  # an untrained model that scores everything the same
    assert M.full_ranks(scores, torch.tensor([2]), [[]]).item() == 3  # 1, 3, 4 tie ahead
    assert M.sampled_ranks(scores, torch.tensor([2]), torch.tensor([[1, 3]])).item() == 2


def test_sampled_ranks_by_hand():
    scores = torch.tensor([[0.0, 0.1, 0.5, 0.9, 0.3]])
    assert M.sampled_ranks(scores, torch.tensor([2]), torch.tensor([[1, 4]])).item() == 0
    assert M.sampled_ranks(scores, torch.tensor([2]), torch.tensor([[3, 4]])).item() == 1


def test_negatives_avoid_seen_items_and_follow_popularity():
    g = torch.Generator().manual_seed(0)
    seen = [[1, 2, 3], [4]]
    neg = M.sample_negatives(10, seen, n=5, generator=g)
    assert neg.shape == (2, 5)
    for row, s in zip(neg.tolist(), seen, strict=True):
        assert not set(row) & set(s) and 0 not in row and len(set(row)) == 5
    pop = torch.zeros(11)
    pop[[5, 6, 7]] = 1.0  # only three items have any popularity
    neg = M.sample_negatives(10, [[]], n=3, popularity=pop, generator=g)
    assert sorted(neg[0].tolist()) == [5, 6, 7]
    with pytest.raises(ValueError, match="fewer than"):
        M.sample_negatives(10, [[]], n=4, popularity=pop, generator=g)


def test_popularity_scores_count_training_items():
    counts = M.popularity_scores([[1, 2, 2], [2, 3]], num_items=4)
    assert counts.tolist() == [0, 1, 3, 1, 0]


def test_ndcg_per_user_matches_the_average():
    ranks = torch.tensor([0, 3, 12, 9])
    per_user = M.ndcg_per_user(ranks)
    assert per_user.mean().item() == pytest.approx(M.metrics_from_ranks(ranks)["ndcg@10"])
    assert per_user[2] == 0


def test_paired_test_finds_a_real_difference_and_not_a_fake_one():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2000, generator=g)
    better = M.paired_test(a + 0.05, a, n=2000)
    assert (
        better["p_value"] < 0.01
        and better["ci_low"] > 0.04
        and better["mean_difference"] == pytest.approx(0.05)
    )
    noise = M.paired_test(a, a[torch.randperm(2000, generator=g)], n=2000)
    assert noise["ci_low"] < 0 < noise["ci_high"] and noise["p_value"] > 0.05
    with pytest.raises(ValueError, match="same users"):
        M.paired_test(a, a[:10])


def test_paired_test_draws_in_chunks_the_numbers_of_one_draw():
    """Chunking saves memory (10,000 x 6,040 draws) and must not change a stored p-value."""
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2500, generator=g), torch.rand(2500, generator=g)
    d, g = (a - b).double(), torch.Generator().manual_seed(0)
    boot = d[torch.randint(0, 2500, (2500, 2500), generator=g)].mean(1)
    null = ((torch.randint(0, 2, (2500, 2500), generator=g) * 2 - 1) * d).mean(1)
    got = M.paired_test(a, b, n=2500)
    assert got["ci_low"] == torch.quantile(boot, 0.025).item()
    assert got["ci_high"] == torch.quantile(boot, 0.975).item()
    assert got["p_value"] == ((null.abs() >= d.mean().abs()).sum().item() + 1) / 2501


def test_a_nan_score_for_the_target_is_refused_not_counted_as_a_hit():
    """A NaN target score used to rank -1: a hit with NDCG = inf."""
    scores = torch.tensor([[0.0, 0.5, float("nan"), 0.1]])
    with pytest.raises(ValueError, match="NaN for 1 user"):
        M.full_ranks(scores, torch.tensor([2]), [[]])
    with pytest.raises(ValueError, match="NaN"):
        M.sampled_ranks(scores, torch.tensor([2]), torch.tensor([[1, 3]]))


def test_evaluate_refuses_an_unknown_protocol():
    with pytest.raises(ValueError, match="protocol"):
        M.evaluate(torch.zeros(1, 4), [[1]], torch.tensor([2]), "popular50")


def test_holm_adjustment_by_hand():
    assert M.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert M.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert M.holm([]) == []


def test_p_values_below_the_resolution_of_the_test_are_not_printed_as_numbers():
    assert M.p_text(1 / 5001, draws=5000) == "< 0.001"
    assert M.p_text(0.0004) == "< 0.001" and M.p_text(0.0371) == "0.037"
