"""Tests for hydrarec_minimal/bench.py: cost tables, memory estimates, sweeps, errors."""

from __future__ import annotations

import json

import pytest
import torch

from hydrarec_minimal import bench as B
from hydrarec_minimal import fused


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
    assert 8e9 < need < 9e9  # two 4 GiB T x T matrices: the "about 8 GB" of the reference
    assert B.memory_estimate("hydra", 4, 16384, 64) < 100e6  # a few B x T x D buffers


def test_log_lengths_and_ranges():
    assert B.log_lengths(64, 1024) == [64, 128, 256, 512, 1024]
    assert B.log_lengths(5, 5) == [5]
    for args, msg in [((0, 10), ">= 1"), ((100, 10), "larger than")]:
        with pytest.raises(ValueError, match=msg):
            B.log_lengths(*args)
    with pytest.raises(ValueError, match="D"):
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


def test_unknown_variant_and_device():
    with pytest.raises(ValueError, match="unknown variant"):
        B.sweep(["flash"], [8])
    with pytest.raises(ValueError, match="unknown device"):
        B.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            B.resolve_device("cuda")
    assert B.available_devices()[0] == "cpu"


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
                "--dim",
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


def test_measure_peak_sees_a_large_allocation():
    peak = B.measure_peak(lambda: torch.ones(64 * 2**20 // 4), torch.device("cpu"))
    if peak is None:
        pytest.skip("no /proc on this system")
    assert peak >= 60 * 2**20


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


def test_trim_freed_memory_returns_kept_memory_only_above_its_threshold():
    if not B.keep_freed_memory() or B._proc_status("VmRSS") is None:
        pytest.skip("glibc and /proc only")
    x = torch.ones(256 * 2**20 // 4)  # 256 MiB from the heap (mmap is off now), then freed
    del x
    before = B._proc_status("VmRSS")
    assert not B.trim_freed_memory(fraction=2.0), "never trims below its threshold"
    assert B._proc_status("VmRSS") > before - 64 * 2**20
    B.trim_freed_memory(fraction=0.0)
    assert B._proc_status("VmRSS") < before - 128 * 2**20, "the freed 256 MiB went back to the OS"
