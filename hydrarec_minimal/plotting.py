"""The book's one plot style and the figures that more than one chapter draws.

Sits on top of the core (it reads benchmark and training results; it never trains or times
anything itself). One seaborn theme, one colour-blind-safe palette, one colour per model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"
# One colour per attention variant, used by every figure in the book.
COLORS = dict(
    zip(["softmax", "sdpa", "linear", "hydra", "popular", "other"], sns.color_palette(PALETTE, 6))
)


def set_style() -> None:
    """Apply the book's theme: seaborn 'whitegrid', colour-blind palette, readable sizes."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (7.0, 4.2),
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "legend.fontsize": 9,
            "figure.autolayout": False,
        }
    )


def color_of(name: str) -> tuple[float, float, float]:
    """The book's colour for a variant name such as 'hydra' or 'sdpa (causal)'."""
    key = name.split()[0].split("_")[0].lower()
    return COLORS.get(key, COLORS["other"])


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x): the exponent p in y ~ x^p."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(lx) < 2:
        return math.nan
    return float(np.polyfit(lx, ly, 1)[0])


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (powers of 1024, one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def finish(ax: plt.Axes, title: str, xlabel: str, ylabel: str, legend: bool = True) -> plt.Axes:
    """Give an axis its title, axis labels (with units) and, if it has labelled lines, a legend."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=True)
    return ax


def ticks_pow2(ax: plt.Axes, values: Iterable[int]) -> None:
    """Label a log2 x axis with the plain integers that were measured."""
    values = sorted(set(int(v) for v in values))
    ax.set_xscale("log", base=2)
    ax.set_xticks(values)
    ax.set_xticklabels([f"{v:,}" for v in values], rotation=0)
    ax.minorticks_off()
