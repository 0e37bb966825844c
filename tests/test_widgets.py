"""Tests for hydrarec_minimal/widgets.py: the explorers run, redraw and refuse bad input."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from hydrarec_minimal import widgets  # noqa: E402


def test_runtime_explorer_measures_and_describes_the_crossover():
    ex = widgets.RuntimeExplorer(
        variants=("softmax", "hydra"), t_range=(16, 64), d=8, batch=1, repeats=1
    )
    rows = ex.run()
    expected = [(v, t) for t in (16, 32, 64) for v in ("softmax", "hydra")]
    assert [(r["variant"], r["T"]) for r in rows] == expected
    assert ex.progress.value == ex.progress.max == 6
    assert "hydra" in ex.message.value and "softmax" in ex.message.value
    assert not ex.run_button.disabled


@pytest.mark.parametrize(
    "change, message",
    [
        ({"d": 0}, "D (features)"),
        ({"batch": 0}, "batch"),
        ({"variants": ()}, "at least one variant"),
    ],
)
def test_runtime_explorer_refuses_bad_settings_with_a_message(change, message):
    ex = widgets.RuntimeExplorer(t_range=(16, 32))
    for name, value in change.items():
        getattr(ex, name).value = value
    assert ex.run() == []
    assert "Cannot run" in ex.message.value and message in ex.message.value


def test_runtime_figure_marks_skipped_points():
    rows = [
        {"variant": "softmax", "T": 64, "D": 8, "B": 1, "dtype": "float32", "device": "cpu",
         "skipped": False, "median_s": 1e-3, "min_s": 1e-3, "max_s": 2e-3, "peak_bytes": 1 << 20},
        {"variant": "softmax", "T": 128, "D": 8, "B": 1, "dtype": "float32", "device": "cpu",
         "skipped": True, "reason": "needs 9.0 GB, 4.0 GB allowed"},
    ]  # fmt: skip
    fig = widgets.runtime_figure(rows)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("needs 9.0 GB" in t for t in texts)
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel() and fig.axes[0].get_title()


@pytest.mark.skipif(not os.environ.get("HYDRAREC_DATA"), reason="needs MovieLens (HYDRAREC_DATA)")
def test_training_explorer_trains_and_stops():
    ex = widgets.TrainingExplorer(
        dataset="ml-100k", epochs=1, max_len=20, d=16, layers=1, threads=1
    )
    ex.start(background=False)
    assert ex.result is not None and len(ex.history) == 1
    assert ex.message.value.startswith("done: test NDCG@10")
    ex._stop.set()  # as if Stop was pressed before the first step finished
    ex._run(ex.config())
    assert "stopped during epoch 1" in ex.message.value
    assert not ex.train_button.disabled and ex.stop_button.disabled


def test_training_explorer_refuses_bad_settings():
    ex = widgets.TrainingExplorer(dataset="ml-100k")
    ex.epochs.value = 0
    ex.start(background=False)
    assert "Cannot train" in ex.message.value and "epochs" in ex.message.value
    ex.epochs.value, ex.d.value, ex.layers.value = 1, 10, 1
    ex._base = {"heads": 3}
    ex.start(background=False)
    assert "divisible" in ex.message.value


def test_panels_have_a_text_form_for_static_pages():
    assert "run this notebook" in repr(widgets.RuntimeExplorer().panel)
