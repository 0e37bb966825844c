"""Tests for hydrarec_minimal/bench.py: cost tables, memory estimates, sweeps, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hydrarec_minimal import bench as B
from hydrarec_minimal import fused, machine
from hydrarec_minimal.attention import ATTENTIONS
from hydrarec_minimal.runs import read_table

STORED = Path(__file__).resolve().parents[1] / "benchmarks"


def test_softmax_costs_by_hand():
    steps = B.attention_costs("softmax", b=1, t=4, d=2)
    assert [s["flops"] for s in steps] == [2 * 16 * 2, 5 * 16, 2 * 16 * 2]
    assert steps[0]["bytes"] == (2 * 8 + 16) * 4  # read Q and K, write S


def test_costs_scale_as_the_book_says():
    def total(kind, t, d):
        return sum(s["flops"] for s in B.attention_costs(kind, 1, t, d))

    assert total("softmax", 2048, 64) / total("softmax", 1024, 64) == pytest.approx(4, rel=0.01)
    assert total("hydra", 2048, 64) / total("hydra", 1024, 64) == 2
    assert total("hydra", 1024, 128) / total("hydra", 1024, 64) == 2
    assert total("linear", 1024, 128) / total("linear", 1024, 64) == pytest.approx(4, rel=0.02)
    with pytest.raises(ValueError):
        B.attention_costs("rnn", 1, 1, 1)


def test_memory_estimate_for_naive_softmax_at_16k():
    need = B.memory_estimate("softmax", b=4, t=16384, d=64)
    assert 14 * 2**30 < need < 15 * 2**30  # 3.5 T x T matrices of 4 GiB
    assert B.memory_estimate("hydra", 4, 16384, 64) < 200e6  # a few B x T x D buffers


@pytest.mark.parametrize("name", ["cpu_d64.json", "gpu/sweep_cuda_d64.json"])
def test_memory_estimate_covers_every_measured_peak(name):
    """The estimate decides which points are run: it must not be below any peak measured in
    the stored sweeps (CPU and GPU), and for the big points not far above it (within 4x)."""
    rows = [r for r in read_table(STORED / name)["rows"] if r.get("peak_bytes")]
    assert rows
    for r in rows:
        bytes_per = 4 if r["dtype"] == "float32" else 2
        est = B.memory_estimate(r["attention"], r["B"], r["T"], r["d"], bytes_per)
        assert est >= r["peak_bytes"], (r["variant"], r["T"], est, r["peak_bytes"])
        if r["peak_bytes"] > 2**30:
            assert est < 4 * r["peak_bytes"], (r["variant"], r["T"])


def test_log_lengths_and_ranges():
    assert B.log_lengths(64, 1024) == [64, 128, 256, 512, 1024]
    assert B.log_lengths(5, 5) == [5]
    for args, msg in [((0, 10), ">= 1"), ((100, 10), "larger than")]:
        with pytest.raises(ValueError, match=msg):
            B.log_lengths(*args)
    with pytest.raises(ValueError, match=r"d \(features\)"):
        B.check_range(1, 2, d=0)


def test_sweep_measures_and_skips_what_would_not_fit():
    rows = B.sweep(["softmax", "hydra_causal"], [16, 32], d=8, batch=2, repeats=2)
    assert [(r["variant"], r["T"]) for r in rows] == [
        ("softmax", 16),
        ("hydra_causal", 16),
        ("softmax", 32),
        ("hydra_causal", 32),
    ]
    assert all(not r["skipped"] and r["median_s"] > 0 and len(r["times_s"]) == 2 for r in rows)
    skipped = B.sweep(["softmax"], [64], d=8, batch=2, repeats=1, memory_fraction=1e-12)
    assert skipped[0]["skipped"] and skipped[0]["reason"].startswith("needs ")


def test_a_point_that_does_not_fit_a_2_gib_container_is_refused(tmp_path, monkeypatch):
    """From-scratch softmax at T = 16,384, B = 4 needs about 14 GiB: inside a container with
    a 2 GiB limit it is skipped with a message saying what it needs and what there is, and
    never started (the attention function is not called)."""
    (tmp_path / "memory.max").write_text(str(2 * 2**30) + "\n")
    (tmp_path / "memory.current").write_text(str(512 * 2**20) + "\n")
    real = machine.free_memory
    monkeypatch.setattr(B, "free_memory", lambda dev: real(dev, cgroup_root=tmp_path))
    calls = []
    monkeypatch.setitem(ATTENTIONS, "softmax", lambda *a, **k: calls.append(1))
    rows = B.sweep(["softmax"], [16384], d=64, batch=4, repeats=1)
    assert rows[0]["skipped"] and not calls
    assert rows[0]["reason"].startswith("needs 14.1 GiB; 1.5 GiB free here")


def test_sweep_stops_when_asked():
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 2

    rows = B.sweep(["hydra", "sdpa"], [8, 16, 32], d=4, batch=1, repeats=1, should_stop=stop)
    assert len(rows) == 2


def test_variants_come_from_the_attention_registry():
    assert set(B.VARIANT_NAMES) == {a + c for a in ATTENTIONS for c in ("", "_causal")}
    v = B.variant("hydra_decay_causal")
    assert (v.attention, v.causal, v.fn) == ("hydra_decay", True, ATTENTIONS["hydra_decay"])
    with pytest.raises(ValueError, match="unknown variant"):
        B.sweep(["flash"], [8])


def test_crossover():
    rows = [
        {"variant": v, "T": t, "median_s": s, "skipped": False}
        for v, t, s in [
            ("a", 1, 2.0),
            ("b", 1, 1.0),
            ("a", 2, 1.0),
            ("b", 2, 1.5),
            ("a", 4, 1.0),
            ("b", 4, 4.0),
        ]
    ]
    assert B.crossover(rows, "a", "b") == 2
    assert B.crossover(rows, "b", "a") is None


def test_cli_writes_json_and_csv(tmp_path):
    out = tmp_path / "s"
    assert (
        B.main(
            [
                "sweep",
                "--variants",
                "sdpa,hydra",
                "--t-min",
                "8",
                "--t-max",
                "16",
                "--d",
                "4",
                "--batch",
                "1",
                "--repeats",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    payload = json.loads(out.with_suffix(".json").read_text())
    assert payload["environment"]["torch"] == torch.__version__
    assert len(payload["rows"]) == 4
    assert out.with_suffix(".csv").read_text().count("\n") == 5
    assert B.main(["sweep", "--t-min", "9", "--t-max", "3", "--out", str(out)]) == 2


def test_old_result_files_load_with_todays_keys():
    rows = read_table(STORED / "cpu_d64.json")["rows"]
    assert all("d" in r and "attention" in r and "D" not in r for r in rows)


def test_roofline_pairs_each_call_with_a_bandwidth_probe():
    res = B.roofline(dims=(8,), t=256, batch=2, repeats=3, bandwidth_bytes=2**20)
    assert res["bandwidth"]["bytes"] == 2**20 and res["bandwidth"]["GBps"] > 0
    hydra = [r for r in res["rows"] if r["variant"].startswith("hydra")]
    assert {(r["variant"], r["method"]) for r in hydra} == {
        ("hydra", "simple"),
        ("hydra", "tiled"),
        ("hydra_causal", "simple"),
        ("hydra_causal", "chunked"),
        ("hydra_causal", "tiled"),
    } | ({("hydra", "fused"), ("hydra_causal", "fused")} if fused.available() else set())
    for r in hydra:
        assert r["min_s"] <= r["median_s"]
        assert r["GBps"] == pytest.approx(4 * 2 * 256 * 8 * 4 / r["min_s"] / 1e9)
        assert r["fraction_of_bandwidth"] == pytest.approx(r["GBps"] / r["bandwidth_GBps"])
        assert r["median_round_fraction"] > 0
    assert {r["variant"] for r in res["rows"]} >= {"sdpa", "sdpa_causal"}


def test_hydra_speedups_from_stored_runs():
    roof = read_table(STORED / "roofline_cpu.json")["rows"]
    gpu = read_table(STORED / "gpu" / "sweep_cuda_d64.json")["rows"]
    s = B.hydra_speedups(roof, gpu)
    assert s["sweep"]["T"] == 65536
    assert s["roofline"]["non-causal"] > s["roofline"]["causal"] > 100
    assert s["sweep"]["non-causal"] > 100 > s["sweep"]["causal"] > 1
