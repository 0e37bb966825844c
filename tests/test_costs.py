"""Tests for hydrarec_minimal/costs.py: a step's breakdown, an epoch, scoring, serving."""

from __future__ import annotations

import json
import os

import pytest

from hydrarec_minimal import costs as C

needs_data = pytest.mark.skipif(
    not os.environ.get("HYDRAREC_DATA"), reason="needs MovieLens (HYDRAREC_DATA)"
)


def test_step_breakdown_times_every_component():
    res = C.step_breakdown("hydra", max_len=16, tokens=64, num_items=50, d=8, repeats=2)
    parts = {r["component"]: r["median_s"] for r in res["rows"]}
    norms = "layer norms, residuals, dropout"
    assert set(parts) == {"embeddings", "attention", "feed-forward", norms,
                          "output layer and loss", "whole step"}  # fmt: skip
    assert all(t > 0 for t in parts.values())
    assert res["B"] == 4 and res["max_len"] == 16


@needs_data
def test_epoch_and_inference_costs_on_real_batches():
    epoch = C.epoch_cost("hydra_decay", max_len=20, batch=32, steps=2, dataset="ml-100k")
    assert epoch["steps_per_epoch"] == 30 and epoch["epoch_s"] == pytest.approx(
        30 * epoch["step_s"]
    )
    assert epoch["precision"] in ("fp32", "bf16")
    inf = C.inference_cost("sdpa", "bidirectional", max_len=20, dataset="ml-100k", repeats=1)
    assert inf["users"] == 943 and inf["ms_per_user"] > 0


@needs_data
def test_step_times_interleave_variants_without_touching_their_settings():
    variants = {
        "sum": dict(attention="hydra"),
        "decay": dict(attention="hydra_decay", precision="fp32"),
    }
    times = C.step_times(variants, steps=3, warmup=1, max_len=20, batch=32, dataset="ml-100k")
    assert list(times) == ["sum", "decay"] and all(len(t) == 3 for t in times.values())
    assert all(s > 0 for t in times.values() for s in t)
    assert variants["decay"] == dict(attention="hydra_decay", precision="fp32")


@pytest.mark.parametrize("kind", list(C.STREAMING))
def test_streaming_cost_and_state_bytes(kind):
    short = C.streaming_cost(kind, 10, num_items=30, d=8, layers=2, repeats=2)
    long = C.streaming_cost(kind, 300, num_items=30, d=8, layers=2, repeats=2)
    assert short["ms_per_event"] > 0
    if kind == "hydrarec_recurrent":  # d float32 numbers per block, whatever the history
        assert short["state_bytes"] == long["state_bytes"] == 2 * 8 * 4
    elif kind == "sasrec_kv_cache":  # a key and a value per film and block
        assert long["state_bytes"] == 2 * 2 * 300 * 8 * 4
    elif kind == "sasrec_last200":
        assert long["state_bytes"] == 200 * 4
    else:
        assert long["state_bytes"] == 300 * 4
    with pytest.raises(ValueError, match="unknown way"):
        C.streaming_cost("rnn", 10)


def test_cli_streaming_writes_json(tmp_path):
    out = tmp_path / "s"
    argv = ["streaming", "--ways", "hydrarec_recurrent", "--histories", "5,10", "--repeats", "1",
            "--out", str(out)]  # fmt: skip
    assert C.main(argv) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["history"] for r in rows] == [5, 10]
