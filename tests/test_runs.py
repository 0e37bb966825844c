"""Tests for hydrarec_minimal/runs.py: stored outputs, reading and writing runs, summaries."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import ML1M_FINGERPRINT, synthetic

from hydrarec_minimal import runs as R
from hydrarec_minimal import train as T
from hydrarec_minimal.metrics import full_ranks, score_users


def test_stored_outputs_are_found_in_the_checkout():
    assert R.stored("results").is_dir() and R.stored("benchmarks", "cpu_d64.json").exists()
    with pytest.raises(ValueError, match="stored outputs live in"):
        R.stored("runs")


def test_stored_outputs_fall_back_to_the_installed_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "CHECKOUT", tmp_path)  # as if installed from a wheel: no checkout
    path = R.stored("results", "main")
    assert path.parts[-4:] == ("hydrarec_minimal", "stored", "results", "main")


def test_every_stored_ml1m_run_was_measured_on_the_corrected_order():
    """Each stored result of ML-1M records the fingerprint of GroupLens's order, so no run on
    the earlier copy (ties in another order) can slip back into a chapter's table."""
    found = []
    for path in sorted(R.stored("results").rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("config", {}).get("dataset") == "ml-1m":
            found.append(path)
            assert record.get("data", {}).get("fingerprint") == ML1M_FINGERPRINT, path
    assert len(found) > 50


def test_stored_cpu_runs_all_computed_in_float32():
    """A CPU table compares runs under one CPU-time budget, so they must compute alike. The
    recipes' 'auto' precision picks bfloat16 on a processor with bfloat16 units; a run made
    so is stored only under a name that says it (``*_bf16_*``), never beside float32 runs."""
    found = []
    for path in sorted(R.stored("results").rglob("*.json")):
        record = json.loads(path.read_text())
        on_cpu = record.get("environment", {}).get("device") == "cpu"
        if on_cpu and "precision" in record.get("config", {}) and "_bf16_" not in path.name:
            found.append(path)
            assert record["config"]["precision"] == "fp32", path
    assert len(found) > 40


def test_read_brings_old_keys_up_to_date_and_write_is_atomic(tmp_path):
    path = R.write(tmp_path / "a" / "metrics.json", {"config": {"bf16": True, "seed": 0}})
    assert not list(path.parent.glob("*.tmp"))
    assert R.read(path)["config"] == {"precision": "bf16", "seed": 0}


def test_seeds_sort_by_seed_and_refuse_mixed_data(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "CHECKOUT", tmp_path)
    for seed, fp in ((1, "aaa"), (0, "aaa"), (2, "bbb")):
        record = {"config": {"seed": seed}, "data": {"fingerprint": fp}, "command": f"s{seed}"}
        R.write(tmp_path / "results" / "g" / f"m_s{seed}.json", record)
    R.write(tmp_path / "results" / "g" / "m_shuffled_s0.json", {"config": {"seed": 9}})
    found = R.seeds("g", "m")
    assert [r["config"]["seed"] for r in found] == [0, 1, 2]
    assert R.same_data(found[:2]) == "aaa"
    with pytest.raises(ValueError, match="different data"):
        R.same_data(found)
    with pytest.raises(ValueError, match="no data fingerprint"):
        R.same_data([{"config": {}}])


def test_summaries():
    assert R.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert R.mean_pm([0.1, 0.3]) == "0.2000 ± 0.1414"
    assert R.mean_pm([0.25, None]) == "0.2500" and R.mean_pm([None]) == "—"
    runs = [{"history": [{"train_s": 1.0}, {"train_s": 9.0}]}, {"history": [{"train_s": 2.0}]}]
    assert R.median_epoch_seconds(runs) == 2.0
    seeds = [{"test": {"ndcg@10": 0.1, "hr@10": 0.3}}, {"test": {"ndcg@10": 0.2, "hr@10": 0.5}}]
    assert R.mean_metric(seeds) == pytest.approx(0.15)
    assert R.mean_metric(seeds, "hr@10") == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no runs"):
        R.mean_metric([])


def test_test_at_picks_the_best_validated_epoch_in_time():
    hist = [
        {"epoch": 1, "cpu_s": 10, "valid": {"ndcg@10": 0.1}, "test": {"ndcg@10": 0.11}},
        {"epoch": 2, "cpu_s": 20, "valid": {"ndcg@10": 0.3}, "test": {"ndcg@10": 0.28}},
        {"epoch": 3, "cpu_s": 30, "valid": {"ndcg@10": 0.2}, "test": {"ndcg@10": 0.35}},
    ]
    assert R.test_at({"history": hist}, 5) is None
    assert R.test_at({"history": hist}, 15)["ndcg@10"] == 0.11
    assert R.test_at({"history": hist}, 99)["ndcg@10"] == 0.28  # chosen by validation, not test
    assert R.test_at({"history": hist}, 1, "epoch")["ndcg@10"] == 0.11
    with pytest.raises(ValueError, match="test_every_epoch"):
        R.test_at({"history": [{"epoch": 1, "cpu_s": 1, "valid": {"ndcg@10": 0}}]}, 9)


def test_epoch_logs_round_trip(tmp_path):
    log = tmp_path / "e.jsonl"
    for r in ({"epoch": 1}, {"epoch": 2, "valid": {"ndcg@10": 0.5}}):
        R.append_epoch(log, r)
    assert R.read_epochs(log) == [{"epoch": 1}, {"epoch": 2, "valid": {"ndcg@10": 0.5}}]


def test_load_model_rebuilds_the_best_validated_model(tmp_path):
    data = synthetic()
    cfg = T.TrainConfig(dataset="synthetic", max_len=16, d=16, layers=1, batch_size=16,
                        epochs=3, threads=1, lr=3e-3)  # fmt: skip
    result = T.train(cfg, tmp_path, data=data, progress=False)
    model = R.load_model(tmp_path)
    assert not model.training
    scores = score_users(model, data.split().test_input)
    ranks = full_ranks(scores, data.split().test_target, data.split().test_input)
    assert ranks.tolist() == result["test_ranks"]
    assert json.loads((tmp_path / "metrics.json").read_text())["best_epoch"] >= 1
    assert torch.is_tensor(R.load_checkpoint(tmp_path / "checkpoint.pt")["rng"])


def test_compare_pairs_users_and_averages_seeds():
    fp = {"data": {"fingerprint": "x"}}
    better = [{"test_ranks": [0, 0, 0, 50], **fp}, {"test_ranks": [0, 1, 0, 50], **fp}]
    worse = [{"test_ranks": [20, 30, 40, 50], **fp}]
    ndcg = R.user_ndcg(better)
    assert ndcg[0] == 1.0 and ndcg[3] == 0.0
    assert ndcg[1] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    res = R.compare(better, worse, draws=2000)
    assert res["mean_difference"] > 0 and res["seeds"] == 1 and res["draws"] == 2000
    last = R.compare(better, worse, draws=200, users=torch.tensor([False, False, False, True]))
    assert last["mean_difference"] == 0.0  # the one user both models miss
    with pytest.raises(ValueError, match="different data"):
        R.compare(better, [{"test_ranks": [0, 0, 0, 0], "data": {"fingerprint": "y"}}])


def test_paired_rows_print_every_test_alike():
    test = {"mean_difference": -0.0085, "ci_low": -0.01394, "ci_high": 0.00321,
            "p_value": 0.0021, "seeds": 3, "draws": 10_000}
    rows = R.paired_rows({"a - b": test, "c - d": test | {"p_value": 0.00005}})
    assert rows["a - b"] == {"difference": "-0.0085", "95% interval": "[-0.0139, +0.0032]",
                             "p": "0.002", "seeds": 3}
    assert rows["c - d"]["p"] == "< 0.001"
    holm = R.paired_rows({("a", "b"): test}, adjusted=[0.5])
    assert holm[("a", "b")]["p (Holm)"] == "0.500" and "p" not in holm[("a", "b")]
    with pytest.raises(ValueError, match="1 adjusted p-values for 2 tests"):
        R.paired_rows({"x": test, "y": test}, adjusted=[0.5])


def test_verdict_needs_a_small_p_and_an_interval_clear_of_zero():
    test = {"mean_difference": -0.0038, "ci_low": -0.0075, "ci_high": -0.0001, "p_value": 0.038}
    assert R.verdict(test) == "not distinguishable from"  # interval below zero, p too large
    assert R.verdict(test | {"p_value": 0.004}) == "worse than"
    assert R.verdict(test, p_value=0.02) == "not distinguishable from"  # Holm's p decides
    ahead = {"mean_difference": 0.0082, "ci_low": 0.0037, "ci_high": 0.0127, "p_value": 0.0001}
    assert R.verdict(ahead) == "better than"
    assert R.verdict(ahead | {"ci_low": -0.0001}) == "not distinguishable from"


def test_first_epoch_above_skips_the_early_epochs_and_says_never():
    history = [{"epoch": e, "valid": {"ndcg@10": v}} for e, v in enumerate([0.3, 0.1, 0.2, 0.4], 1)]
    assert R.first_epoch_above(history, 0.15) == 1
    assert R.first_epoch_above(history, 0.15, after=1) == 3
    assert R.first_epoch_above(history, 0.5) is None
