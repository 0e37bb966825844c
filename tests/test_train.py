"""Tests for hydrarec_minimal/train.py: a real (small) training run, resume, CLI, errors."""

from __future__ import annotations

import json

import pytest
import torch

from hydrarec_minimal import train as T
from hydrarec_minimal.data import build


def synthetic(users=200, items=120, seed=0):
    """Sequences with learnable structure: each user walks up the item ids from a random start."""
    g = torch.Generator().manual_seed(seed)
    raw = {}
    for u in range(users):
        start = int(torch.randint(1, items, (1,), generator=g))
        n = int(torch.randint(6, 20, (1,), generator=g))
        raw[u + 1] = [(start + i) % items + 1 for i in range(n)]
    return build("synthetic", raw, min_item_count=1)


def small(**kw):
    """A configuration that trains in about a second."""
    base = dict(
        dataset="synthetic",
        max_len=16,
        d=16,
        layers=1,
        batch_size=16,
        epochs=4,
        dropout=0.1,
        lr=3e-3,
        threads=1,
    )
    return T.TrainConfig(**(base | kw))


@pytest.mark.parametrize("attention", ["sdpa", "linear", "hydra"])
@pytest.mark.parametrize(
    "mode, loss", [("causal", "ce"), ("causal", "gbce"), ("bidirectional", "ce")]
)
def test_training_learns_and_writes_metrics(tmp_path, attention, mode, loss):
    data = synthetic()
    cfg = small(attention=attention, mode=mode, loss=loss, epochs=6 if mode == "causal" else 12)
    res = T.train(cfg, tmp_path, data=data, progress=False)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"] == res["test"]
    assert {"ndcg@10", "hr@10", "mrr", "ndcg@1", "hr@20"} <= set(res["test"])
    assert len(res["history"]) == res["best_epoch"] + (len(res["history"]) - res["best_epoch"])
    assert all(r["train_s"] > 0 for r in res["history"])
    assert res["environment"]["torch"] == torch.__version__
    assert res["command"].startswith("python -m hydrarec_minimal.train")
    pop = T.evaluate(
        T.most_popular_scores(data.split(), data.num_items, data.num_users),
        data.split().test_input,
        data.split().test_target,
    )
    assert res["test"]["ndcg@10"] > pop["ndcg@10"], "a trained model must beat most-popular"
    assert res["test_uniform100"]["ndcg@10"] >= res["test"]["ndcg@10"]


def test_resume_after_a_kill_ends_with_the_same_metrics(tmp_path):
    data = synthetic()
    cfg = small(epochs=4)
    full = T.train(cfg, tmp_path / "full", data=data, progress=False)

    calls = {"n": 0}
    steps = -(-data.num_users // cfg.batch_size)

    def kill_in_epoch_three():
        calls["n"] += 1
        return calls["n"] > 2 * steps + 1  # die one step into the third epoch

    with pytest.raises(T.Stopped):
        T.train(cfg, tmp_path / "cut", data=data, progress=False, should_stop=kill_in_epoch_three)
    ck = T.load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert ck["epoch"] == 1  # epochs 1 and 2 (0-based 0, 1) were checkpointed
    resumed = T.train(cfg, tmp_path / "cut", data=data, progress=False, resume=True)
    assert resumed["test"] == full["test"]
    assert [r["loss"] for r in resumed["history"]] == [r["loss"] for r in full["history"]]


def test_resume_accepts_a_checkpoint_older_than_a_setting(tmp_path):
    """A checkpoint written before a setting existed counts it as its default (and refuses
    a run that asks for anything else)."""
    data = synthetic()
    T.train(small(epochs=1), tmp_path, data=data, progress=False)
    ck = T.load_checkpoint(tmp_path / "checkpoint.pt")
    config = json.loads(ck["config"])
    del config["hydra_mean"], config["tied"]
    ck["config"] = json.dumps(config)
    T.save_checkpoint(tmp_path / "checkpoint.pt", ck)
    result = T.train(small(epochs=2), tmp_path, data=data, progress=False, resume=True)
    assert len(result["history"]) == 2
    with pytest.raises(ValueError, match="other settings.*hydra_mean"):
        T.train(small(epochs=3, hydra_mean=True), tmp_path, data=data, progress=False, resume=True)


def test_resume_refuses_a_different_model(tmp_path):
    data = synthetic()
    T.train(small(epochs=1), tmp_path, data=data, progress=False)
    with pytest.raises(ValueError, match="other settings.*d"):
        T.train(small(epochs=2, d=32), tmp_path, data=data, progress=False, resume=True)


def test_early_stopping_and_time_budget(tmp_path):
    data = synthetic()
    res = T.train(small(epochs=50, patience=1, lr=0.5), tmp_path / "a", data=data, progress=False)
    assert res["stop_reason"] == "early stopping" and len(res["history"]) < 50
    res = T.train(small(epochs=50, time_budget_s=1e-9), tmp_path / "b", data=data, progress=False)
    assert res["stop_reason"] == "time budget" and len(res["history"]) == 1


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"max_len": 1}, "max_len"),
        ({"d": 10, "heads": 3}, "divisible"),
        ({"loss": "mse"}, "loss"),
        ({"mask_prob": 0.0}, "mask_prob"),
        ({"attention": "nope"}, "attention"),
    ],
)
def test_invalid_hyperparameters(kw, message):
    with pytest.raises(ValueError, match=message):
        small(**kw)


def test_cli_rejects_bad_values_and_unknown_datasets(tmp_path, capsys):
    assert T.main(["--out", str(tmp_path), "--max-len", "1"]) == 2
    assert "max_len must be >= 2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown dataset"):
        T.main(["--out", str(tmp_path), "--dataset", "ml-25m", "--epochs", "1"])


def test_cli_arguments_round_trip():
    cfg = small(attention="sdpa", bf16=True)
    args = T.parser().parse_args(T.cli_args(cfg) + ["--out", "x"])
    skip = ("out", "resume", "quiet", "most_popular", "epoch_log")
    assert T.TrainConfig(**{k: v for k, v in vars(args).items() if k not in skip}) == cfg


def test_cli_epoch_log_holds_every_epoch_of_the_history(tmp_path, monkeypatch):
    data = synthetic()
    monkeypatch.setattr(T, "load_movielens", lambda *a, **k: data)
    log = tmp_path / "epochs.jsonl"
    argv = T.cli_args(small(epochs=3)) + [
        "--out",
        str(tmp_path),
        "--quiet",
        "--epoch-log",
        str(log),
    ]
    assert T.main(argv) == 0
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert T.read_epoch_log(log) == history and len(history) == 3


def test_test_at_counts_epochs_too():
    hist = [
        {"epoch": e, "cpu_s": 10 * e, "valid": {"ndcg@10": v}, "test": {"ndcg@10": t}}
        for e, v, t in ((1, 0.1, 0.11), (2, 0.3, 0.28), (3, 0.2, 0.5))
    ]
    assert T.test_at({"history": hist}, 1, "epoch")["ndcg@10"] == 0.11
    assert T.test_at({"history": hist}, 3, "epoch")["ndcg@10"] == 0.28


def test_cloze_masks_real_items_only_and_at_least_one():
    g = torch.Generator().manual_seed(0)
    seqs = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]])
    for _ in range(20):
        x, y = T.cloze_batch(seqs, 0.2, 99, g)
        assert ((x == 99) == (y > 0)).all()
        assert (y[seqs == 0] == 0).all() and ((y > 0).sum(1) >= 1).all()
        assert (y[y > 0] == seqs[y > 0]).all()


def test_most_popular_baseline_and_cpu_budget(tmp_path):
    data = synthetic()
    pop = T.most_popular(data=data)
    assert 0 < pop["test"]["ndcg@10"] < pop["test_popular100"]["ndcg@10"] + 1
    res = T.train(
        small(epochs=50, time_budget_s=1e-9, budget_clock="cpu"), data=data, progress=False
    )
    assert res["stop_reason"] == "time budget" and res["history"][0]["cpu_s"] > 0


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device"):
        T.train(small(device="tpu"), data=synthetic(), progress=False)


def test_test_at_picks_the_best_validated_epoch_in_time():
    hist = [
        {"epoch": 1, "cpu_s": 10, "valid": {"ndcg@10": 0.1}, "test": {"ndcg@10": 0.11}},
        {"epoch": 2, "cpu_s": 20, "valid": {"ndcg@10": 0.3}, "test": {"ndcg@10": 0.28}},
        {"epoch": 3, "cpu_s": 30, "valid": {"ndcg@10": 0.2}, "test": {"ndcg@10": 0.35}},
    ]
    assert T.test_at({"history": hist}, 5) is None
    assert T.test_at({"history": hist}, 15)["ndcg@10"] == 0.11
    assert T.test_at({"history": hist}, 99)["ndcg@10"] == 0.28  # chosen by validation, not test
    with pytest.raises(ValueError, match="test_every_epoch"):
        T.test_at({"history": [{"epoch": 1, "cpu_s": 1, "valid": {"ndcg@10": 0}}]}, 9)
