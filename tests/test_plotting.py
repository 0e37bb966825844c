"""Tests for hydrarec_minimal/plotting.py: the palette, the style, the shared figures."""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from hydrarec_minimal import plotting  # noqa: E402
from hydrarec_minimal.attention import ATTENTIONS  # noqa: E402
from hydrarec_minimal.model import MODELS  # noqa: E402


def test_loglog_slope_recovers_the_exponent():
    xs = [64, 128, 256, 512]
    assert plotting.loglog_slope(xs, [x**2 for x in xs]) == pytest.approx(2.0)
    assert plotting.loglog_slope(xs, [3 * x for x in xs]) == pytest.approx(1.0)
    assert math.isnan(plotting.loglog_slope([1], [1]))


def test_human_bytes():
    assert plotting.human_bytes(512) == "512 B"
    assert plotting.human_bytes(1536) == "1.5 KiB"
    assert plotting.human_bytes(8 * 2**30) == "8.0 GiB"


def distance(a, b) -> float:
    return math.dist(a, b)


def test_one_colour_per_model_and_no_two_alike():
    keys = [k for k in plotting.COLORS if k != "other"]
    for a, b in itertools.combinations(keys, 2):
        assert distance(plotting.COLORS[a], plotting.COLORS[b]) > 0.15, (a, b)
    # the pair the book compares most is far apart (blue against vermillion)
    assert distance(plotting.color_of("sdpa"), plotting.color_of("hydra")) > 0.8
    for name in list(ATTENTIONS) + list(MODELS)[:6] + ["most_popular", "markov", "ease"]:
        assert plotting.color_of(name) != plotting.COLORS["other"], name
    assert plotting.color_of("hydra_causal") == plotting.color_of("hydrarec_causal")
    assert plotting.color_of("sasrec") == plotting.color_of("sdpa (causal)")


def test_finish_labels_everything():
    plotting.set_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4], label="x")
    plotting.finish(ax, "title", "x (s)", "y (ms)")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("title", "x (s)", "y (ms)")
    assert ax.get_legend() is not None
    plt.close(fig)


def test_runtime_figure_marks_skipped_points():
    rows = [
        {"variant": "softmax", "T": 64, "d": 8, "B": 1, "dtype": "float32", "device": "cpu",
         "skipped": False, "median_s": 1e-3, "min_s": 1e-3, "max_s": 2e-3, "peak_bytes": 1 << 20},
        {"variant": "softmax", "T": 128, "d": 8, "B": 1, "dtype": "float32", "device": "cpu",
         "skipped": True, "reason": "needs 9.0 GiB; 4.0 GiB free here, 50% of it allowed"},
    ]  # fmt: skip
    fig = plotting.runtime_figure(rows)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("needs 9.0 GiB" in t for t in texts)
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel() and fig.axes[0].get_title()
    plt.close(fig)


def test_training_figure_takes_runs_validated_every_few_epochs():
    """Records without 'valid' (eval_every > 1) raised a KeyError before."""
    hist = [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5, "valid": {"ndcg@10": 0.1}}]
    fig = plotting.training_figure({"hydrarec": hist})
    (line,) = fig.axes[1].get_lines()
    assert list(line.get_xdata()) == [2]
    plt.close(fig)
