"""Tests for hydrarec_minimal/plotting.py."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from hydrarec_minimal import plotting  # noqa: E402


def test_loglog_slope_recovers_the_exponent():
    xs = [64, 128, 256, 512]
    assert plotting.loglog_slope(xs, [x**2 for x in xs]) == pytest.approx(2.0)
    assert plotting.loglog_slope(xs, [3 * x for x in xs]) == pytest.approx(1.0)
    assert math.isnan(plotting.loglog_slope([1], [1]))


def test_human_bytes():
    assert plotting.human_bytes(512) == "512 B"
    assert plotting.human_bytes(1536) == "1.5 KiB"
    assert plotting.human_bytes(8 * 2**30) == "8.0 GiB"


def test_one_colour_per_variant_and_finish_labels_everything():
    assert plotting.color_of("hydra_causal") == plotting.color_of("hydra")
    assert plotting.color_of("sdpa (causal)") != plotting.color_of("hydra")
    plotting.set_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4], label="x")
    plotting.finish(ax, "title", "x (s)", "y (ms)")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("title", "x (s)", "y (ms)")
    assert ax.get_legend() is not None
    plt.close(fig)
