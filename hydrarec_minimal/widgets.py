"""Interactive explorers for the chapters: attention runtime and HydraRec training.

Both sit on the headless core (``bench.sweep`` and ``train.train``) and draw with
``plotting``. Both show a real static figure first (from committed results), so the page
is never empty where no kernel runs; in a live notebook the controls redraw it.
"""

from __future__ import annotations

import math
import threading

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from . import bench, plotting
from .train import Stopped, TrainConfig, train

POW2 = [2**i for i in range(4, 17)]  # 16 .. 65,536


def show_figure(fig: plt.Figure) -> None:
    """Display a figure once (into the current output) and close it, on any backend."""
    display(fig)
    plt.close(fig)


class Panel(W.VBox):
    """A VBox whose text form (what a static page without widget support shows) is a hint."""

    hint = "Interactive controls: run this notebook (Colab, Binder or locally) to use them."

    def __repr__(self) -> str:
        return self.hint


# ----------------------------------------------------------------------------- runtime


class RuntimeExplorer:
    """Choose attention variants, the range of T, D, batch, repeats and device; Run measures
    them with ``bench.sweep`` and redraws the time and memory panels as points arrive."""

    def __init__(
        self,
        variants: tuple[str, ...] = ("softmax", "sdpa", "linear", "hydra"),
        t_range: tuple[int, int] = (64, 4096),
        d: int = 64,
        batch: int = 4,
        repeats: int = 3,
    ):
        self.rows: list[dict] = []
        self.variants = W.SelectMultiple(
            options=bench.VARIANT_NAMES, value=variants, rows=8, description="variants"
        )
        self.t_range = W.SelectionRangeSlider(
            options=POW2,
            index=(POW2.index(t_range[0]), POW2.index(t_range[1])),
            description="T range",
            continuous_update=False,
            layout=W.Layout(width="420px"),
        )
        self.d = W.IntText(value=d, description="D")
        self.batch = W.IntText(value=batch, description="batch")
        self.repeats = W.IntText(value=repeats, description="repeats")
        self.device = W.Dropdown(options=bench.available_devices(), description="device")
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="progress")
        self.message = W.HTML()
        self.out = W.Output()
        self.run_button.on_click(lambda _: self.run())
        controls = W.HBox(
            [self.variants, W.VBox([self.t_range, self.d, self.batch, self.repeats, self.device])]
        )
        self.panel = Panel(
            [controls, W.HBox([self.run_button, self.progress]), self.message, self.out]
        )

    def settings(self) -> dict:
        """The current controls as sweep arguments, validated (ValueError with a plain message)."""
        t_min, t_max = self.t_range.value
        names = list(self.variants.value)
        if not names:
            raise ValueError("choose at least one variant")
        bench.check_range(t_min, t_max, self.d.value, self.batch.value, self.repeats.value)
        bench.resolve_device(self.device.value)
        return {
            "variants": names,
            "lengths": bench.log_lengths(t_min, t_max),
            "d": self.d.value,
            "batch": self.batch.value,
            "repeats": self.repeats.value,
            "device": self.device.value,
        }

    def run(self) -> list[dict]:
        """Measure with the current settings, redrawing after every point."""
        try:
            s = self.settings()
        except ValueError as e:
            self.message.value = f"<b style='color:#b00'>Cannot run:</b> {e}"
            return []
        self.rows = []
        self.progress.max, self.progress.value = len(s["variants"]) * len(s["lengths"]), 0
        self.message.value = "measuring..."

        def on_point(row):
            self.rows.append(row)
            self.progress.value += 1
            self.redraw()

        self.run_button.disabled = True
        try:
            bench.sweep(
                s["variants"],
                s["lengths"],
                s["d"],
                s["batch"],
                s["repeats"],
                s["device"],
                on_point=on_point,
            )
        except (ValueError, RuntimeError) as e:
            self.message.value = f"<b style='color:#b00'>Stopped:</b> {e}"
        finally:
            self.run_button.disabled = False
        self.message.value = crossover_sentence(self.rows)
        return self.rows

    def redraw(self) -> None:
        """Draw the current rows into the output area."""
        with self.out:
            self.out.clear_output(wait=True)
            show_figure(runtime_figure(self.rows))

    def show(self, rows: list[dict] | None = None, title: str | None = None) -> None:
        """Display a static figure of ``rows`` (committed results) and then the controls."""
        if rows:
            show_figure(runtime_figure(rows, title))
            print(crossover_sentence(rows, html=False))
        display(self.panel)


def runtime_figure(rows: list[dict], title: str | None = None, fit_from: int = 1024) -> plt.Figure:
    """Two panels against T: median time with a min-max band and fitted slopes, and peak
    memory; points that were skipped are marked with the memory they would have needed.
    Slopes are fitted to the points with T >= ``fit_from`` (all points if fewer than two)."""
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11.5, 4.3))
    names = list(dict.fromkeys(r["variant"] for r in rows))
    for name in names:
        pts = sorted((r for r in rows if r["variant"] == name), key=lambda r: r["T"])
        ok = [r for r in pts if not r.get("skipped")]
        style = dict(
            color=plotting.color_of(name), ls="--" if "causal" in name else "-", marker="o", ms=4
        )
        if ok:
            t = [r["T"] for r in ok]
            med = [r["median_s"] * 1e3 for r in ok]
            tail = [(x, y) for x, y in zip(t, med) if x >= fit_from] or list(zip(t, med))
            slope = plotting.loglog_slope(*zip(*tail)) if len(tail) >= 2 else math.nan
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
                ax_m.plot(*zip(*mem), label=name, **style)
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
                    r["reason"].split(",")[0],
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
        f"{rows[0]['device']}, B = {rows[0]['B']}, D = {rows[0]['D']}, {rows[0]['dtype']}"
        if rows
        else ""
    )
    plotting.finish(
        ax_t,
        title or f"Attention time against T ({env})",
        "sequence length T (tokens)",
        "median time per call (ms)",
    )
    plotting.finish(
        ax_m, "Peak extra memory of one call", "sequence length T (tokens)", "peak memory (MiB)"
    )
    fig.tight_layout()
    return fig


def crossover_sentence(rows: list[dict], html: bool = True) -> str:
    """'Hydra overtakes softmax from T = ...' for the variants present, in words."""
    names = {r["variant"] for r in rows}
    parts = []
    for fast in ("hydra", "hydra_causal"):
        for slow in ("softmax", "sdpa", "softmax_causal", "sdpa_causal"):
            if fast in names and slow in names and ("causal" in fast) == ("causal" in slow):
                t = bench.crossover(rows, fast, slow)
                parts.append(
                    f"{fast} is faster than {slow} from T = {t:,} on"
                    if t is not None
                    else f"{fast} is not faster than {slow} at the longest T measured"
                )
    text = (
        "; ".join(parts) + "."
        if parts
        else "Measure Hydra and a softmax variant to see where they cross."
    )
    return f"<p>{text}</p>" if html else text


# ----------------------------------------------------------------------------- training


class TrainingExplorer:
    """Choose the data set, attention, mode, max length, d, layers, loss, epochs and learning
    rate; Train runs ``train.train`` in a background thread with live loss and validation
    NDCG@10 curves; Stop ends it after the current step."""

    def __init__(self, **defaults):
        cfg = TrainConfig(**defaults)
        self.history: list[dict] = []
        self.result: dict | None = None
        self._stop = threading.Event()
        self.dataset = W.Dropdown(
            options=["ml-100k", "ml-1m"], value=cfg.dataset, description="dataset"
        )
        self.attention = W.Dropdown(
            options=["hydra", "sdpa", "linear", "softmax"],
            value=cfg.attention,
            description="attention",
        )
        self.mode = W.Dropdown(
            options=["causal", "bidirectional"], value=cfg.mode, description="mode"
        )
        self.max_len = W.IntText(value=cfg.max_len, description="max length")
        self.d = W.IntText(value=cfg.d, description="d")
        self.layers = W.IntText(value=cfg.layers, description="layers")
        self.loss = W.Dropdown(
            options=["ce", "gbce", "sampled"], value=cfg.loss, description="loss"
        )
        self.epochs = W.IntText(value=cfg.epochs, description="epochs")
        self.lr = W.FloatLogSlider(
            value=cfg.lr, base=10, min=-4, max=-1, step=0.25, description="lr"
        )
        self.device = W.Dropdown(options=bench.available_devices(), description="device")
        self.train_button = W.Button(description="Train", button_style="primary", icon="play")
        self.stop_button = W.Button(
            description="Stop", button_style="warning", icon="stop", disabled=True
        )
        self.progress = W.IntProgress(value=0, min=0, max=1, description="epoch")
        self.message = W.HTML()
        self.out = W.Output()
        self.train_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self._stop.set())
        left = W.VBox([self.dataset, self.attention, self.mode, self.loss, self.device])
        right = W.VBox([self.max_len, self.d, self.layers, self.epochs, self.lr])
        buttons = W.HBox([self.train_button, self.stop_button, self.progress])
        self.panel = Panel([W.HBox([left, right]), buttons, self.message, self.out])
        self._base = defaults
        self.thread: threading.Thread | None = None

    def config(self) -> TrainConfig:
        """The controls as a TrainConfig (ValueError with a plain message if invalid)."""
        if self.epochs.value < 1:
            raise ValueError("epochs must be >= 1")
        bench.resolve_device(self.device.value)
        return TrainConfig(
            **(
                self._base
                | dict(
                    dataset=self.dataset.value,
                    attention=self.attention.value,
                    mode=self.mode.value,
                    max_len=self.max_len.value,
                    d=self.d.value,
                    layers=self.layers.value,
                    loss=self.loss.value,
                    epochs=self.epochs.value,
                    lr=self.lr.value,
                    device=self.device.value,
                )
            )
        )

    def start(self, background: bool = True) -> None:
        """Validate the settings and train (in a thread, so Stop stays clickable)."""
        try:
            cfg = self.config()
        except ValueError as e:
            self.message.value = f"<b style='color:#b00'>Cannot train:</b> {e}"
            return
        self.history, self.result = [], None
        self._stop.clear()
        self.progress.max, self.progress.value = cfg.epochs, 0
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.message.value = "loading data and training..."
        if background:
            self.thread = threading.Thread(target=self._run, args=(cfg,), daemon=True)
            self.thread.start()
        else:
            self._run(cfg)

    def _run(self, cfg: TrainConfig) -> None:
        """The training loop's body, with callbacks that update the controls and the plot."""

        def on_epoch(record):
            self.history.append(record)
            self.progress.value = record["epoch"]
            self.redraw()

        def on_step(step, steps, loss):
            self.message.value = (
                f"epoch {len(self.history) + 1}: step {step}/{steps}, loss {loss:.3f}"
            )

        try:
            self.result = train(
                cfg,
                progress=False,
                on_epoch=on_epoch,
                on_step=on_step,
                should_stop=self._stop.is_set,
            )
            t = self.result["test"]
            self.message.value = (
                f"done: test NDCG@10 {t['ndcg@10']:.4f}, HR@10 {t['hr@10']:.4f} "
                f"(full ranking, best epoch {self.result['best_epoch']})"
            )
        except Stopped as e:
            self.message.value = f"{e}; the curves show the epochs that finished"
        except Exception as e:  # shown in the widget rather than lost in a thread
            self.message.value = (
                f"<b style='color:#b00'>Training failed:</b> {type(e).__name__}: {e}"
            )
        finally:
            self.train_button.disabled, self.stop_button.disabled = False, True

    def redraw(self) -> None:
        """Draw the loss and validation curves of the epochs so far."""
        with self.out:
            self.out.clear_output(wait=True)
            show_figure(training_figure({"live run": self.history}))

    def show(self, runs: dict[str, list[dict]] | None = None, title: str | None = None) -> None:
        """Display a static figure of stored runs' histories, then the controls."""
        if runs:
            show_figure(training_figure(runs, title))
        display(self.panel)


def training_figure(runs: dict[str, list[dict]], title: str | None = None) -> plt.Figure:
    """Training loss and validation NDCG@10 (full ranking) against epochs, one line per run."""
    fig, (ax_l, ax_v) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    for name, hist in runs.items():
        if not hist:
            continue
        ep = [r["epoch"] for r in hist]
        color = plotting.color_of(name)
        ax_l.plot(ep, [r["loss"] for r in hist], marker="o", ms=3, label=name, color=color)
        ax_v.plot(
            ep, [r["valid"]["ndcg@10"] for r in hist], marker="o", ms=3, label=name, color=color
        )
    plotting.finish(ax_l, title or "Training loss", "epoch", "mean training loss (nats)")
    plotting.finish(ax_v, "Validation NDCG@10 (full ranking)", "epoch", "NDCG@10")
    fig.tight_layout()
    return fig
