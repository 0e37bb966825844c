"""The book's one plot style and the figures that more than one chapter (or a widget) draws.

Sits on top of the core: it draws benchmark and training results, it never trains or times
anything itself. One seaborn theme, one colour-blind-safe palette, one colour per model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import SVG

PALETTE = "colorblind"
_CB = sns.color_palette(PALETTE, 10)  # blue, orange, green, vermillion, purple, tan, pink, ...
# One colour per model (and per attention: SASRec is softmax attention by SDPA, causal
# HydraRec is Hydra), used by every figure in the book. Blue and vermillion, the two the
# book compares most, are the palette's most distinct pair.
COLORS = {
    "sdpa": _CB[0],  # SASRec
    "hydra": _CB[3],  # causal HydraRec
    "linear": _CB[2],  # linear attention (elu + 1)
    "softmax": _CB[9],  # softmax attention written from scratch
    "hydra_decay": _CB[4],  # HydraRec with forgetting
    "bert4rec": _CB[5],  # BERT4Rec-style (softmax, bidirectional)
    "hydrarec_bidirectional": _CB[6],
    "hydrarec_mean": _CB[1],  # running-mean variant (drawn dashed beside Hydra)
    "most_popular": _CB[7],
    "markov": (0.2, 0.2, 0.2),
    "ease": (0.55, 0.43, 0.12),
    "other": (0.6, 0.6, 0.6),
}
# Other names the book uses for the same models.
ALIASES = {
    "sasrec": "sdpa", "hydrarec": "hydra", "hydrarec_causal": "hydra", "linear_causal": "linear",
    "bidirectional_hydrarec": "hydrarec_bidirectional", "hydra_bi": "hydrarec_bidirectional",
    "hydrarec_causal_mean": "hydrarec_mean", "popular": "most_popular",
    "hydrarec_decay": "hydra_decay",
}  # fmt: skip


DIAGRAMS = Path(__file__).resolve().parent / "diagrams"


def diagram(name: str) -> SVG:
    """One of the book's diagrams (``diagrams/NAME.svg`` in the package), for display: the
    same picture on the site, in Colab and in Binder."""
    path = DIAGRAMS / f"{name}.svg"
    if not path.exists():
        known = sorted(p.stem for p in DIAGRAMS.glob("*.svg"))
        raise ValueError(f"no diagram {name!r}; the book has {known}")
    return SVG(path.read_text())


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
    """The book's colour for a model or attention: 'sasrec', 'hydra_causal', 'sdpa (causal)',
    'hydra_decay', 'bert4rec', ... (a '_causal' suffix or a bracketed note is ignored)."""
    key = name.split(" (")[0].strip().lower().replace(" ", "_").removesuffix("_causal")
    key = ALIASES.get(key, key)
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


# ----------------------------------------------------------------------------- shared figures


def runtime_figure(rows: list[dict], title: str | None = None, fit_from: int = 1024) -> plt.Figure:
    """Two panels against T: median time with a min-max band and fitted slopes, and peak
    memory; points that were skipped are marked with the memory they would have needed.
    Slopes are fitted to the points with T >= ``fit_from`` (all points if fewer than two)."""
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11.5, 4.3))
    names = list(dict.fromkeys(r["variant"] for r in rows))
    for name in names:
        pts = sorted((r for r in rows if r["variant"] == name), key=lambda r: r["T"])
        ok = [r for r in pts if not r.get("skipped")]
        style = dict(color=color_of(name), ls="--" if "causal" in name else "-", marker="o", ms=4)
        if ok:
            t = [r["T"] for r in ok]
            med = [r["median_s"] * 1e3 for r in ok]
            tail = [(x, y) for x, y in zip(t, med, strict=True) if x >= fit_from] or list(
                zip(t, med, strict=False)
            )
            slope = loglog_slope(*zip(*tail, strict=True)) if len(tail) >= 2 else math.nan
            label = f"{name} (slope {slope:.2f})" if not math.isnan(slope) else name
            ax_t.plot(t, med, label=label, **style)
            ax_t.fill_between(
                t,
                [r["min_s"] * 1e3 for r in ok],
                [r["max_s"] * 1e3 for r in ok],
                color=style["color"],
                alpha=0.2,
            )
            mem = [(r["T"], r["peak_bytes"] / 2**20) for r in ok if r.get("peak_bytes")]
            if mem:
                ax_m.plot(*zip(*mem, strict=True), label=name, **style)
        for r in pts:
            if r.get("skipped"):
                ax_t.plot(
                    [r["T"]],
                    [ax_t.get_ylim()[1] if ok else 1.0],
                    marker="x",
                    color=style["color"],
                    ms=9,
                )
                ax_t.annotate(
                    r["reason"].split(";")[0].split(",")[0],
                    (r["T"], ax_t.get_ylim()[1] if ok else 1.0),
                    fontsize=7,
                    rotation=90,
                    va="top",
                    ha="right",
                    color=style["color"],
                )
    for ax in (ax_t, ax_m):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
    env = (
        f"{rows[0]['device']}, B = {rows[0]['B']}, d = {rows[0]['d']}, {rows[0]['dtype']}"
        if rows
        else ""
    )
    finish(
        ax_t,
        title or f"Attention time against T ({env})",
        "sequence length T (tokens)",
        "median time per call (ms)",
    )
    finish(ax_m, "Peak extra memory of one call", "sequence length T (tokens)", "peak memory (MiB)")
    fig.tight_layout()
    return fig


def training_figure(runs: dict[str, list[dict]], title: str | None = None) -> plt.Figure:
    """Training loss and validation NDCG@10 (full ranking) against epochs, one line per run
    (its colour from the run's name: name runs by model, e.g. 'sasrec', 'hydrarec')."""
    fig, (ax_l, ax_v) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    for name, hist in runs.items():
        if not hist:
            continue
        color = color_of(name)
        ep = [r["epoch"] for r in hist]
        ax_l.plot(ep, [r["loss"] for r in hist], marker="o", ms=3, label=name, color=color)
        checked = [r for r in hist if "valid" in r]  # eval_every > 1 skips some epochs
        ax_v.plot([r["epoch"] for r in checked], [r["valid"]["ndcg@10"] for r in checked],
                  marker="o", ms=3, label=name, color=color)  # fmt: skip
    finish(ax_l, title or "Training loss", "epoch", "mean training loss (nats)")
    finish(ax_v, "Validation NDCG@10 (full ranking)", "epoch", "NDCG@10")
    fig.tight_layout()
    return fig
