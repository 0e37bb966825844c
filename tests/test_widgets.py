"""Tests for hydrarec_minimal/widgets.py: both explorers run headless, in the background,
stop when asked, update their output in one assignment, and refuse bad input."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from hydrarec_minimal import data, machine, model, train, widgets  # noqa: E402
from hydrarec_minimal.attention import ATTENTIONS  # noqa: E402

needs_data = pytest.mark.skipif(
    not os.environ.get("HYDRAREC_DATA"), reason="needs MovieLens (HYDRAREC_DATA)"
)


def test_runtime_explorer_measures_in_the_background_and_describes_the_crossover():
    ex = widgets.RuntimeExplorer(
        variants=("softmax", "hydra"), t_range=(16, 64), d=8, batch=1, repeats=1
    )
    ex.start()  # a thread: the call returns at once
    ex.job.join(timeout=60)
    expected = [(v, t) for t in (16, 32, 64) for v in ("softmax", "hydra")]
    assert [(r["variant"], r["T"]) for r in ex.rows] == expected
    assert ex.progress.value == ex.progress.max == 6
    assert "hydra" in ex.message.value and "softmax" in ex.message.value
    assert not ex.run_button.disabled and ex.stop_button.disabled
    (shown,) = ex.out.outputs  # the figure, replaced in one assignment, no stray output
    assert shown["output_type"] == "display_data" and "image/png" in shown["data"]


def test_runtime_explorer_stops_when_asked():
    ex = widgets.RuntimeExplorer(variants=("hydra",), t_range=(16, 1024), d=8, repeats=1)
    ex.job.stop.set()  # Stop pressed before the first point
    ex._measure(ex.settings())
    assert ex.rows == [] and ex.message.value.startswith("Stopped.")
    assert not ex.run_button.disabled


@pytest.mark.parametrize(
    "change, message",
    [
        ({"d": 0}, "d (features)"),
        ({"batch": 0}, "batch"),
        ({"variants": ()}, "at least one variant"),
    ],
)
def test_runtime_explorer_refuses_bad_settings_with_a_message(change, message):
    ex = widgets.RuntimeExplorer(t_range=(16, 32))
    for name, value in change.items():
        getattr(ex, name).value = value
    ex.start(background=False)
    assert ex.rows == []
    assert "Cannot run" in ex.message.value and message in ex.message.value


def test_option_lists_come_from_the_package():
    ex, tr = widgets.RuntimeExplorer(), widgets.TrainingExplorer(dataset="ml-100k")
    assert set(ex.variants.options) == {a + c for a in ATTENTIONS for c in ("", "_causal")}
    assert list(tr.attention.options) == list(ATTENTIONS)
    assert list(tr.mode.options) == list(model.MODES)
    assert list(tr.loss.options) == list(train.LOSSES)
    assert list(tr.dataset.options) == list(data.SOURCES)
    assert tr.device.value == machine.available_devices()[0]  # CUDA first, where there is one


@needs_data
def test_training_explorer_trains_in_the_background_and_stops():
    ex = widgets.TrainingExplorer(
        dataset="ml-100k", epochs=1, max_len=20, d=16, layers=1, threads=1
    )
    ex.start()
    ex.job.join(timeout=300)
    assert ex.result is not None and len(ex.history) == 1
    assert ex.message.value.startswith("done: test NDCG@10")
    assert len(ex.out.outputs) == 1
    ex.job.stop.set()  # as if Stop was pressed before the first step finished
    ex._train(ex.config())
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


def test_stream_explorer_follows_the_history_event_by_event():
    torch.manual_seed(0)
    m = model.HydraRec(model.ModelConfig(num_items=30, max_len=8, d=8, attention="hydra_decay",
                                         positions="none")).eval()  # fmt: skip
    history = [3, 7, 9, 12, 4]
    titles = [f"film {i}" for i in range(31)]
    ex = widgets.StreamExplorer(m, history, titles, top=3)
    assert ex.slider.max == 5 and len(ex.hidden) == 5
    seen3 = ex.top_films(3)
    expected = m.score_next(torch.tensor([history[:3]]))[0]
    expected[[0, 3, 7, 9]] = float("-inf")
    assert seen3 == [titles[i] for i in expected.topk(3).indices.tolist()]
    ex.slider.value = 3
    (shown,) = ex.out.outputs
    assert "after 3 films" in shown["data"]["text/html"] and "film 9" in shown["data"]["text/html"]
