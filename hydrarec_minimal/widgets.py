"""The two explorers of the book: attention runtime (chapters 2 and 4) and HydraRec training
(chapter 7).

Both measure or train in a background thread, point by point or epoch by epoch, with a
progress bar and a Stop button, so the notebook never freezes; both replace their output
area's content in one assignment, the way ipywidgets (7 and 8) allows from a thread. Both
show a real static figure first (from stored results), so the page is never empty where no
kernel runs. Option lists come from the package's own lists.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from . import bench, plotting
from .attention import ATTENTIONS
from .data import SOURCES
from .machine import available_devices, resolve_device
from .model import MODES
from .train import LOSSES, Stopped, TrainConfig, train

POW2 = [2**i for i in range(4, 17)]  # 16 .. 65,536


def show_figure(fig: plt.Figure) -> None:
    """Display a figure once (into the current output) and close it, on any backend."""
    display(fig)
    plt.close(fig)


def figure_output(fig: plt.Figure, description: str) -> dict:
    """A figure as one PNG display-data output (and closed): what an Output widget holds."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode()
    data = {"image/png": png, "text/plain": f"<{description}>"}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def replace_output(out: W.Output, *items: dict) -> None:
    """Replace everything ``out`` shows in one assignment: safe from a background thread,
    where ``with out:`` would send output to whichever cell runs next."""
    out.outputs = tuple(items)


class Panel(W.VBox):
    """A VBox whose text form (what a static page without widget support shows) is a hint."""

    hint = "Interactive controls: run this notebook (Colab, Binder or locally) to use them."

    def __repr__(self) -> str:
        return self.hint


class Background:
    """A job in a thread with a Stop flag; ``start(background=False)`` runs it in place."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, job: Callable[[], None], background: bool = True) -> None:
        """Run ``job`` (in a daemon thread unless ``background`` is False)."""
        self.stop.clear()
        if background:
            self.thread = threading.Thread(target=job, daemon=True)
            self.thread.start()
        else:
            job()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (tests, and a kernel about to close)."""
        if self.thread is not None:
            self.thread.join(timeout)


def error_html(prefix: str, e: Exception) -> str:
    """A red one-line message for the widget, never a traceback."""
    return f"<b style='color:#b00'>{prefix}:</b> {e}"


# ----------------------------------------------------------------------------- runtime


class RuntimeExplorer:
    """Choose attention variants, the range of T, d, batch, repeats and device; Run measures
    them with ``bench.sweep`` point by point in the background and redraws the time and
    memory panels as points arrive; Stop ends it after the current point. A point that
    would not fit in this machine's free memory (a container's limit included) is skipped
    with the memory it needs."""

    def __init__(
        self,
        variants: tuple[str, ...] = ("softmax", "sdpa", "linear", "hydra"),
        t_range: tuple[int, int] = (64, 4096),
        d: int = 64,
        batch: int = 4,
        repeats: int = 3,
    ):
        self.rows: list[dict] = []
        self.job = Background()
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
        self.d = W.IntText(value=d, description="d")
        self.batch = W.IntText(value=batch, description="batch")
        self.repeats = W.IntText(value=repeats, description="repeats")
        self.device = W.Dropdown(options=available_devices(), description="device")
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = W.Button(
            description="Stop", button_style="warning", icon="stop", disabled=True
        )
        self.progress = W.IntProgress(value=0, min=0, max=1, description="progress")
        self.message = W.HTML()
        self.out = W.Output()
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.job.stop.set())
        sizes = W.VBox([self.t_range, self.d, self.batch, self.repeats, self.device])
        buttons = W.HBox([self.run_button, self.stop_button, self.progress])
        self.panel = Panel([W.HBox([self.variants, sizes]), buttons, self.message, self.out])

    def settings(self) -> dict:
        """The current controls as sweep arguments, validated (ValueError with a plain message)."""
        t_min, t_max = self.t_range.value
        names = list(self.variants.value)
        if not names:
            raise ValueError("choose at least one variant")
        bench.check_range(t_min, t_max, self.d.value, self.batch.value, self.repeats.value)
        resolve_device(self.device.value)
        return {
            "variants": names,
            "lengths": bench.log_lengths(t_min, t_max),
            "d": self.d.value,
            "batch": self.batch.value,
            "repeats": self.repeats.value,
            "device": self.device.value,
        }

    def start(self, background: bool = True) -> None:
        """Validate the settings and measure (in a thread, so Stop stays clickable)."""
        try:
            s = self.settings()
        except ValueError as e:
            self.message.value = error_html("Cannot run", e)
            return
        self.rows = []
        self.progress.max, self.progress.value = len(s["variants"]) * len(s["lengths"]), 0
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.message.value = "measuring..."
        self.job.start(lambda: self._measure(s), background)

    def _measure(self, s: dict) -> None:
        """The sweep, with callbacks that update the controls and the figure."""

        def on_point(row: dict) -> None:
            self.rows.append(row)
            self.progress.value += 1
            self.redraw()

        try:
            bench.sweep(**s, on_point=on_point, should_stop=self.job.stop.is_set)
            stopped = self.job.stop.is_set()
            done = "Stopped. " if stopped else ""
            self.message.value = done + bench.crossover_sentence(self.rows)
        except Exception as e:  # shown in the widget rather than lost in a thread
            self.message.value = error_html("Stopped", e)
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True

    def redraw(self) -> None:
        """Show the figure of the rows measured so far."""
        fig = plotting.runtime_figure(self.rows)
        replace_output(self.out, figure_output(fig, "attention time against T"))

    def show(self, rows: list[dict] | None = None, title: str | None = None) -> None:
        """Display a static figure of ``rows`` (stored results) and then the controls."""
        if rows:
            show_figure(plotting.runtime_figure(rows, title))
            print(bench.crossover_sentence(rows, html=False))
        display(self.panel)


# ----------------------------------------------------------------------------- training


class TrainingExplorer:
    """Choose the data set, attention, mode, max length, d, layers, loss, epochs, learning
    rate and device; Train runs ``train.train`` in a background thread with live loss and
    validation NDCG@10 curves; Stop ends it after the current step."""

    def __init__(self, **defaults):
        defaults.setdefault("device", available_devices()[0])  # a GPU when there is one
        defaults.setdefault("precision", "auto")  # bf16 where it is fast, else fp16 / fp32
        cfg = TrainConfig(**defaults)
        self.history: list[dict] = []
        self.result: dict | None = None
        self.job = Background()
        self.dataset = W.Dropdown(options=list(SOURCES), value=cfg.dataset, description="dataset")
        self.attention = W.Dropdown(
            options=list(ATTENTIONS), value=cfg.attention, description="attention"
        )
        self.mode = W.Dropdown(options=list(MODES), value=cfg.mode, description="mode")
        self.max_len = W.IntText(value=cfg.max_len, description="max length")
        self.d = W.IntText(value=cfg.d, description="d")
        self.layers = W.IntText(value=cfg.layers, description="layers")
        self.loss = W.Dropdown(options=list(LOSSES), value=cfg.loss, description="loss")
        self.epochs = W.IntText(value=cfg.epochs, description="epochs")
        self.lr = W.FloatLogSlider(
            value=cfg.lr, base=10, min=-4, max=-1, step=0.25, description="lr"
        )
        self.device = W.Dropdown(
            options=available_devices(), value=cfg.device, description="device"
        )
        self.train_button = W.Button(description="Train", button_style="primary", icon="play")
        self.stop_button = W.Button(
            description="Stop", button_style="warning", icon="stop", disabled=True
        )
        self.progress = W.IntProgress(value=0, min=0, max=1, description="epoch")
        self.message = W.HTML()
        self.out = W.Output()
        self.train_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.job.stop.set())
        left = W.VBox([self.dataset, self.attention, self.mode, self.loss, self.device])
        right = W.VBox([self.max_len, self.d, self.layers, self.epochs, self.lr])
        buttons = W.HBox([self.train_button, self.stop_button, self.progress])
        self.panel = Panel([W.HBox([left, right]), buttons, self.message, self.out])
        self._base = defaults

    def config(self) -> TrainConfig:
        """The controls as a TrainConfig (ValueError with a plain message if invalid)."""
        if self.epochs.value < 1:
            raise ValueError("epochs must be >= 1")
        resolve_device(self.device.value)
        chosen = dict(
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
        return TrainConfig(**(self._base | chosen))

    def start(self, background: bool = True) -> None:
        """Validate the settings and train (in a thread, so Stop stays clickable)."""
        try:
            cfg = self.config()
        except ValueError as e:
            self.message.value = error_html("Cannot train", e)
            return
        self.history, self.result = [], None
        self.progress.max, self.progress.value = cfg.epochs, 0
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.message.value = "loading data and training..."
        self.job.start(lambda: self._train(cfg), background)

    def _train(self, cfg: TrainConfig) -> None:
        """The training run, with callbacks that update the controls and the figure."""

        def on_epoch(record: dict) -> None:
            self.history.append(record)
            self.progress.value = record["epoch"]
            self.redraw()

        def on_step(step: int, steps: int, loss: float) -> None:
            epoch = len(self.history) + 1
            self.message.value = f"epoch {epoch}: step {step}/{steps}, loss {loss:.3f}"

        try:
            self.result = train(
                cfg, progress=False, on_epoch=on_epoch, on_step=on_step,
                should_stop=self.job.stop.is_set,
            )  # fmt: skip
            t = self.result["test"]
            self.message.value = (
                f"done: test NDCG@10 {t['ndcg@10']:.4f}, HR@10 {t['hr@10']:.4f} "
                f"(full ranking, best epoch {self.result['best_epoch']})"
            )
        except Stopped as e:
            self.message.value = f"{e}; the curves show the epochs that finished"
        except Exception as e:  # shown in the widget rather than lost in a thread
            self.message.value = error_html("Training failed", f"{type(e).__name__}: {e}")
        finally:
            self.train_button.disabled, self.stop_button.disabled = False, True

    def redraw(self) -> None:
        """Show the loss and validation curves of the epochs so far."""
        fig = plotting.training_figure({self.attention.value: self.history})
        replace_output(self.out, figure_output(fig, "training curves"))

    def show(self, runs: dict[str, list[dict]] | None = None, title: str | None = None) -> None:
        """Display a static figure of stored runs' histories, then the controls."""
        if runs:
            show_figure(plotting.training_figure(runs, title))
        display(self.panel)


# ----------------------------------------------------------------------------- streaming


class StreamExplorer:
    """Feed one user's films to a streamable model one event at a time (``HydraRec.step``)
    and watch its top 10 change: a slider picks how many of the user's films it has seen."""

    def __init__(self, model, history: list[int], titles: list[str], top: int = 10):
        self.model, self.history, self.titles, self.top = model, history, titles, top
        state = model.initial_state(1)
        self.hidden = []
        for item in history:  # one step per film: O(d) work and state, whatever came before
            state, hidden = model.step(state, torch.tensor([item]))
            self.hidden.append(hidden[0])
        self.slider = W.IntSlider(value=len(history), min=1, max=len(history),
                                  description="films seen", continuous_update=False)  # fmt: skip
        self.out = W.Output()
        self.slider.observe(lambda change: self.redraw(), names="value")
        self.panel = Panel([self.slider, self.out])

    def top_films(self, seen: int) -> list[str]:
        """The titles of the top films after ``seen`` events, skipping films already seen."""
        scores = self.model.scores(self.hidden[seen - 1]).clone()
        scores[0] = float("-inf")
        scores[self.history[:seen]] = float("-inf")
        return [self.titles[i] for i in scores.topk(self.top).indices.tolist()]

    def table(self, seen: int) -> str:
        """An HTML table: the last film seen and the top films after it."""
        last = self.titles[self.history[seen - 1]]
        rows = "".join(f"<tr><td>{i + 1}</td><td>{t}</td></tr>"
                       for i, t in enumerate(self.top_films(seen)))  # fmt: skip
        return f"<p>after {seen} films, the last one <i>{last}</i>:</p><table>{rows}</table>"

    def redraw(self) -> None:
        """Show the top films for the slider's position."""
        html = {"text/html": self.table(self.slider.value), "text/plain": "top films"}
        replace_output(self.out, {"output_type": "display_data", "data": html, "metadata": {}})

    def show(self) -> None:
        """Display the controls with the top films after the whole history."""
        self.redraw()
        display(self.panel)
