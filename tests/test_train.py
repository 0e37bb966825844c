"""Tests for hydrarec_minimal/train.py: real (small) training runs, resume, recipes, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import synthetic

from hydrarec_minimal import metrics as M
from hydrarec_minimal import runs
from hydrarec_minimal import train as T
from hydrarec_minimal.baselines import popularity_scores
from hydrarec_minimal.model import MODELS

GOLDEN = Path(__file__).parent / "data" / "golden_short_runs.json"


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


@pytest.mark.parametrize("attention", ["sdpa", "linear", "hydra", "hydra_decay"])
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
    assert 1 <= res["best_epoch"] <= len(res["history"])
    best = res["history"][res["best_epoch"] - 1]["valid"]["ndcg@10"]
    assert best == res["valid"]["ndcg@10"] == max(r["valid"]["ndcg@10"] for r in res["history"])
    assert all(r["train_s"] > 0 for r in res["history"])
    assert res["environment"]["torch"] == torch.__version__
    assert res["command"].startswith("python -m hydrarec_minimal.train")
    assert res["data"]["fingerprint"] == data.fingerprint()
    split = data.split()
    ranks = torch.tensor(res["test_ranks"])
    assert M.metrics_from_ranks(ranks)["ndcg@10"] == pytest.approx(res["test"]["ndcg@10"])
    pop_scores = popularity_scores(split, data.num_items, data.num_users)
    pop = M.evaluate(pop_scores, split.test_input, split.test_target)
    assert res["test"]["ndcg@10"] > pop["ndcg@10"], "a trained model must beat most-popular"
    assert res["test_uniform100"]["ndcg@10"] >= res["test"]["ndcg@10"]


def test_short_runs_are_unchanged_by_the_refactor():
    """The same short runs as before the package was split into its present files (made
    with the earlier code, tests/data/golden_short_runs.json) give the same numbers."""
    golden = json.loads(GOLDEN.read_text())
    data = synthetic(users=120, items=150)
    for key, expected in golden.items():
        attention, mode, loss = key.split("-")
        cfg = T.TrainConfig(dataset="synthetic", attention=attention, mode=mode, loss=loss,
                            max_len=16, d=16, layers=2, batch_size=16, epochs=2, dropout=0.1,
                            lr=3e-3, threads=1, negatives=8)  # fmt: skip
        got = T.train(cfg, data=data, progress=False)
        assert [h["loss"] for h in got["history"]] == pytest.approx(expected["losses"], rel=1e-6)
        assert got["test"] == pytest.approx(expected["test"], rel=1e-6), key


def test_training_leaves_the_callers_random_state_and_threads_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    T.train(small(epochs=1, threads=1), data=synthetic(), progress=False)
    assert torch.equal(torch.rand(3), expected), "the global RNG moved"
    assert torch.get_num_threads() == threads


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
    ck = runs.load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert ck["epoch"] == 1  # epochs 1 and 2 (0-based 0, 1) were checkpointed
    resumed = T.train(cfg, tmp_path / "cut", data=data, progress=False, resume=True)
    assert resumed["test"] == full["test"]
    assert [r["loss"] for r in resumed["history"]] == [r["loss"] for r in full["history"]]


def test_resume_accepts_a_checkpoint_older_than_a_setting(tmp_path):
    """A checkpoint written before a setting existed counts it as its default, and one
    written with the old bf16 flag counts it as its precision (and refuses a change)."""
    data = synthetic()
    T.train(small(epochs=1), tmp_path, data=data, progress=False)
    ck = runs.load_checkpoint(tmp_path / "checkpoint.pt")
    config = json.loads(ck["config"])
    del config["hydra_mean"], config["tied"], config["positions"], config["precision"]
    config["bf16"] = False
    ck["config"] = json.dumps(config)
    T.save_checkpoint(tmp_path / "checkpoint.pt", ck)
    result = T.train(small(epochs=2), tmp_path, data=data, progress=False, resume=True)
    assert len(result["history"]) == 2
    with pytest.raises(ValueError, match="other settings.*hydra_mean"):
        T.train(small(epochs=3, hydra_mean=True), tmp_path, data=data, progress=False, resume=True)
    with pytest.raises(ValueError, match="other settings.*precision"):
        T.train(small(epochs=3, precision="bf16"), tmp_path, data=data, progress=False, resume=True)


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
    res = T.train(
        small(epochs=50, time_budget_s=1e-9, budget_clock="cpu"), data=data, progress=False
    )
    assert res["stop_reason"] == "time budget" and res["history"][0]["cpu_s"] > 0


def test_eval_every_validates_only_every_few_epochs_and_the_last():
    res = T.train(small(epochs=5, eval_every=2), data=synthetic(), progress=False)
    checked = [r["epoch"] for r in res["history"] if "valid" in r]
    assert checked == [2, 4, 5]
    assert res["best_epoch"] in checked


def test_lr_factor_warms_up_then_follows_the_schedule():
    cfg = small(warmup=4, schedule="linear")
    assert T.lr_factor(cfg, 0, 0.0) == 0.25 and T.lr_factor(cfg, 3, 0.0) == 1.0
    assert T.lr_factor(cfg, 10, 0.5) == 0.5 and T.lr_factor(cfg, 10, 1.0) == 0.0
    cos = small(schedule="cosine")
    assert T.lr_factor(cos, 5, 0.5) == pytest.approx(0.5)
    assert T.lr_factor(cos, 5, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert T.lr_factor(small(), 99, 0.7) == 1.0  # constant
    assert T.lr_factor(cos, 5, 2.0) == pytest.approx(0.0, abs=1e-12)  # clipped to the end


def test_shuffled_order_trains_on_the_same_films():
    data = synthetic()
    res = T.train(small(epochs=2, order="shuffled"), data=data, progress=False)
    assert res["config"]["order"] == "shuffled"
    assert res["data"]["fingerprint"] == data.fingerprint()  # same data, read out of order


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"max_len": 1}, "max_len"),
        ({"d": 10, "heads": 3}, "divisible"),
        ({"loss": "mse"}, "loss"),
        ({"mask_prob": 0.0}, "mask_prob"),
        ({"attention": "nope"}, "attention"),
        ({"precision": "fp8"}, "precision"),
        ({"order": "random"}, "order"),
        ({"recipe": "fast"}, "unknown recipe"),
        ({"model": "gpt"}, "unknown model"),
    ],
)
def test_invalid_hyperparameters(kw, message):
    with pytest.raises(ValueError, match=message):
        small(**kw)


def test_recipes_and_models_by_name():
    cfg = T.TrainConfig.from_recipe("cpu15", "hydrarec_decay", seed=2)
    assert (cfg.lr, cfg.time_budget_s, cfg.budget_clock, cfg.precision) == (
        2e-3,
        900,
        "cpu",
        "auto",
    )
    assert (cfg.attention, cfg.positions, cfg.seed) == ("hydra_decay", "none", 2)
    assert T.cli_args(cfg) == ["--recipe", "cpu15", "--model", "hydrarec_decay", "--seed", "2"]
    assert T.TrainConfig.from_recipe("cpu45").time_budget_s == 2700
    for name, (label, settings) in MODELS.items():
        assert label and T.TrainConfig(**settings, model=name)  # every named model is valid
    with pytest.raises(ValueError, match="unknown recipe"):
        T.TrainConfig.from_recipe("fast")


def test_cli_applies_the_recipe_then_the_model_then_explicit_flags(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(T, "train", lambda cfg, *a, **k: seen.setdefault("cfg", cfg) and {
        "test": {"ndcg@10": 0.0, "hr@10": 0.0}})  # fmt: skip
    argv = ["--recipe", "cpu15", "--model", "sasrec", "--lr", "1e-3", "--out", str(tmp_path)]
    assert T.main(argv) == 0
    cfg = seen["cfg"]
    assert (cfg.lr, cfg.time_budget_s, cfg.attention, cfg.recipe) == (1e-3, 900, "sdpa", "cpu15")


def test_cli_rejects_bad_values_and_unknown_datasets(tmp_path, capsys):
    assert T.main(["--out", str(tmp_path), "--max-len", "1"]) == 2
    assert "max_len must be >= 2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown dataset"):
        T.main(["--out", str(tmp_path), "--dataset", "ml-25m", "--epochs", "1"])


def test_cli_arguments_round_trip():
    for cfg in (small(attention="sdpa", precision="bf16"), T.TrainConfig.from_recipe("cpu15")):
        args = T.parser().parse_args(T.cli_args(cfg) + ["--out", "x"])
        skip = ("out", "resume", "quiet", "epoch_log")
        parsed = {k: v for k, v in vars(args).items() if k not in skip}
        if cfg.recipe:  # what main() does: the recipe's values as defaults
            parsed = T.RECIPES[cfg.recipe] | {k: v for k, v in parsed.items()
                                              if v != T.TrainConfig().record().get(k)}  # fmt: skip
        assert T.TrainConfig(**parsed) == cfg


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
    assert runs.read_epochs(log) == history and len(history) == 3


def test_cloze_masks_real_items_only_and_at_least_one():
    g = torch.Generator().manual_seed(0)
    seqs = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]])
    for _ in range(20):
        x, y = T.cloze_batch(seqs, 0.2, 99, g)
        assert ((x == 99) == (y > 0)).all()
        assert (y[seqs == 0] == 0).all() and ((y > 0).sum(1) >= 1).all()
        assert (y[y > 0] == seqs[y > 0]).all()


def test_cloze_for_the_last_item_readout_asks_for_the_next_film():
    g = torch.Generator().manual_seed(0)
    seqs = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5], [0, 0, 0, 0, 9]])
    for _ in range(20):
        x, y = T.cloze_next_batch(seqs, 0.5, 99, g)
        history = torch.cat([torch.zeros_like(seqs[:, :1]), seqs[:, :-1]], 1)
        assert (x[:, -1] == history[:, -1]).all()  # the last real item is never masked
        assert y[:, -1].tolist() == [7, 5, 0]  # ... and predicts the film after it
        assert not (x == seqs[:, -1:]).any()  # the film to predict is not in the input
        inner = y[:, :-1]
        assert ((x[:, :-1] == 99) == (inner > 0)).all()
        assert (inner[inner > 0] == history[:, :-1][inner > 0]).all()


def test_the_last_item_readout_trains_and_scores():
    cfg = small(mode="bidirectional", attention="hydra", readout="last", epochs=2)
    res = T.train(cfg, data=synthetic(), progress=False)
    assert res["config"]["readout"] == "last"
    assert all(math.isfinite(r["loss"]) for r in res["history"])
    assert 0 <= res["test"]["ndcg@10"] <= 1


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device"):
        T.train(small(device="tpu"), data=synthetic(), progress=False)


def test_fp16_trains_with_a_gradient_scaler_on_the_cpu():
    res = T.train(small(epochs=2, precision="fp16"), data=synthetic(), progress=False)
    assert res["config"]["precision"] == "fp16"
    assert all(math.isfinite(r["loss"]) for r in res["history"])


def test_auto_precision_is_recorded_as_what_ran(monkeypatch):
    from hydrarec_minimal import machine

    monkeypatch.setattr(machine, "cpu_flags", lambda: {"avx2"})
    res = T.train(small(epochs=1, precision="auto"), data=synthetic(), progress=False)
    assert res["config"]["precision"] == "fp32"
    resolved = T.TrainConfig.from_recipe("cpu15", precision="fp32")  # the recipe says auto
    assert T.cli_args(resolved) == ["--recipe", "cpu15", "--precision", "fp32"]


def test_the_sasrec_plus_recipe_to_convergence_is_what_the_stored_run_used():
    """results/converge/sasrec_plus_s0.json ran gpu-converge with SASRec+'s settings as flags;
    the named recipe must give the same settings."""
    stored = runs.read(runs.stored("results", "converge", "sasrec_plus_s0.json"))["config"]
    cfg = T.TrainConfig.from_recipe("sasrec-plus-converge", "sasrec").record()
    differ = {k: (v, stored[k]) for k, v in cfg.items() if k in stored and stored[k] != v}
    assert differ == {"recipe": ("sasrec-plus-converge", "gpu-converge")}
    plus = T.RECIPES["sasrec-plus"]
    assert all(cfg[k] == plus[k] for k in ("lr", "dropout", "init_std", "activation"))


def test_the_stored_sweep_runs_follow_the_gpu_sweep_recipe():
    """results/sweep_gpu ran --recipe gpu-sweep: its runs of the book's models differ from the
    named recipe only in their seed and the precision 'auto' became on the GPU."""
    for name, model in (("causal_base", "hydrarec_causal"), ("sasrec_base", "sasrec")):
        stored = runs.read(runs.stored("results", "sweep_gpu", f"{name}_s1.json"))["config"]
        cfg = T.TrainConfig.from_recipe("gpu-sweep", model, seed=1, precision="bf16").record()
        assert {k: (v, stored[k]) for k, v in cfg.items() if stored.get(k, v) != v} == {}
        assert stored["epochs"] == 60 and stored["eval_every"] == 1
