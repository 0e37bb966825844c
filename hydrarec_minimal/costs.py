"""What a whole model costs: where a training step's time goes, an epoch, scoring every user,
and serving one new event of one user.

    python -m hydrarec_minimal.costs breakdown --out benchmarks/breakdown_cpu
    python -m hydrarec_minimal.costs epochs --out benchmarks/costs_cpu
    python -m hydrarec_minimal.costs streaming --out benchmarks/streaming_cpu

Attention alone is ``bench``; this module times models built from it (``model``) on the real
data (``data``) with the real training step (``train``).
"""

from __future__ import annotations

import argparse
import math
import sys

import torch

from .data import SequenceData, load_movielens, pad_left
from .machine import (
    AUTOCAST_DTYPES,
    denormals_flushed,
    freed_memory_kept,
    measure_peak,
    median,
    resolve_device,
    resolve_precision,
    time_call,
    torch_threads,
)
from .model import HydraRec, ModelConfig, losses
from .runs import write_table
from .train import TrainConfig, causal_examples, train_step


def step_breakdown(
    attention: str = "hydra",
    max_len: int = 200,
    tokens: int = 25_600,
    num_items: int = 3416,
    d: int = 64,
    layers: int = 2,
    repeats: int = 5,
    device: str = "cpu",
    precision: str = "fp32",
) -> dict:
    """Where one causal training step's time goes: forward + backward of each component
    (embeddings, attention, feed-forward, layer norms, output layer and full-catalogue
    loss) timed in isolation on full-length random sequences, ``tokens // max_len`` of them
    per batch, plus the whole step for comparison. Seconds per step, medians."""
    dev = resolve_device(device)
    b = max(1, tokens // max_len)
    cfg = ModelConfig(num_items=num_items, max_len=max_len, d=d, layers=layers, attention=attention)
    torch.manual_seed(0)
    model = HydraRec(cfg).to(dev).train()
    seq = torch.randint(1, num_items + 1, (b, max_len), device=dev)
    y = torch.randint(1, num_items + 1, (b, max_len), device=dev)
    pad = torch.zeros(b, max_len, dtype=torch.bool, device=dev)
    x = torch.randn(b, max_len, d, device=dev, requires_grad=True)
    block = model.blocks[0]
    pos = torch.arange(max_len, device=dev)

    def fwd_bwd(fn):
        def run():
            dtype = AUTOCAST_DTYPES[precision]
            with torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                out = fn()
            out.float().sum().backward()

        return run

    parts = {
        "embeddings": fwd_bwd(lambda: model.items(seq) + model.positions(pos)),
        "attention": fwd_bwd(lambda: block.attn(x, pad)),
        "feed-forward": fwd_bwd(lambda: block.ffn(x)),
        "layer norms, residuals, dropout": fwd_bwd(
            lambda: block.drop(block.ln1(x)) + block.drop(block.ln2(x)) + model.ln(x)
        ),
        "output layer and loss": fwd_bwd(lambda: losses(x, y, model.item_weights(), "ce")),
        "whole step": fwd_bwd(lambda: losses(model(seq), y, model.item_weights(), "ce")),
    }
    per_layer = {"attention", "feed-forward"}
    rows = []
    for name, fn in parts.items():
        times = time_call(fn, dev, repeats, warmup=2)
        med = median(times) * (layers if name in per_layer else 1)
        rows.append(
            {"component": name, "median_s": med, "attention": attention, "max_len": max_len, "B": b}
        )
    peak = measure_peak(parts["whole step"], dev)
    return {
        "attention": attention,
        "max_len": max_len,
        "B": b,
        "d": d,
        "layers": layers,
        "device": str(dev),
        "precision": precision,
        "peak_bytes": peak,
        "rows": rows,
    }


def _stepper(data: SequenceData, dev: torch.device, max_len: int, batch: int, **settings):
    """A fresh model, optimiser and generator (seed 0) and a function taking one real
    training step of it on a batch of user indices."""
    inputs, targets = causal_examples(data.split().train, max_len)
    cfg = TrainConfig(max_len=max_len, batch_size=batch, **settings)
    torch.manual_seed(0)
    model = HydraRec(cfg.model_config(data.num_items)).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(0)

    def step(idx: torch.Tensor) -> float:
        return train_step(cfg, model, opt, inputs[idx].to(dev), targets[idx].to(dev), g)

    return cfg, inputs.shape[0], step


def _batches(users: int, batch: int, count: int) -> list[torch.Tensor]:
    """``count`` batches of user indices in a random order fixed by seed 0."""
    order = torch.randperm(users, generator=torch.Generator().manual_seed(0))
    per_pass = max(1, users // batch)
    return [order[(i % per_pass) * batch : (i % per_pass + 1) * batch] for i in range(count)]


def epoch_cost(
    attention: str = "hydra",
    max_len: int = 200,
    batch: int = 128,
    steps: int = 5,
    dataset: str = "ml-1m",
    device: str = "cpu",
    precision: str = "auto",
    hydra_mean: bool = False,
    loss_chunk: int = 0,
    data: SequenceData | None = None,
) -> dict:
    """Seconds per training epoch (causal, full cross-entropy) on the real data (or ``data``),
    estimated from ``steps`` timed optimiser steps on real batches, and the peak memory of
    one step (``hydra_mean``: Hydra's running-mean variant). This is the book's cost model:
    a step's time, times the steps of an epoch."""
    dev = resolve_device(device)
    data = data if data is not None else load_movielens(dataset)
    cfg, users, step = _stepper(
        data, dev, max_len, batch, dataset=dataset, attention=attention,
        precision=resolve_precision(precision, dev), hydra_mean=hydra_mean, loss_chunk=loss_chunk,
    )  # fmt: skip
    batches = _batches(users, batch, steps + 1)
    with denormals_flushed():  # as in training
        peak = measure_peak(lambda: step(batches[0]), dev)  # also the warm-up
        times = [
            time_call(lambda idx=idx: step(idx), dev, repeats=1, warmup=0)[0] for idx in batches[1:]
        ]
    per_step = median(times)
    n_steps = math.ceil(users / batch)
    return {
        "attention": attention,
        "max_len": max_len,
        "B": batch,
        "device": str(dev),
        "precision": cfg.precision,
        "step_s": per_step,
        "steps_per_epoch": n_steps,
        "epoch_s": per_step * n_steps,
        "peak_bytes": peak,
    }


def step_times(
    variants: dict[str, dict],
    steps: int = 30,
    warmup: int = 2,
    max_len: int = 200,
    batch: int = 128,
    dataset: str = "ml-1m",
    device: str = "cpu",
) -> dict[str, list[float]]:
    """Seconds per training step of several variants (name -> TrainConfig settings), each a
    fresh model on the same real batches, interleaved step by step (in turn forwards and
    backwards) so that a busy or slowing machine weighs on all of them alike."""
    dev = resolve_device(device)
    data = load_movielens(dataset)
    steppers = {}
    for name, given in variants.items():
        settings = dict(given)
        precision = resolve_precision(settings.pop("precision", "auto"), dev)
        steppers[name] = _stepper(data, dev, max_len, batch, dataset=dataset,
                                  precision=precision, **settings)[2]  # fmt: skip
    users = causal_examples(data.split().train, max_len)[0].shape[0]
    times: dict[str, list[float]] = {name: [] for name in variants}
    with denormals_flushed():
        for i, idx in enumerate(_batches(users, batch, warmup + steps)):
            turn = list(steppers.items()) if i % 2 == 0 else list(steppers.items())[::-1]
            for name, step in turn:
                took = time_call(lambda f=step, b=idx: f(b), dev, repeats=1, warmup=0)[0]
                if i >= warmup:
                    times[name].append(took)
    return times


@torch.no_grad()
def inference_cost(
    attention: str = "hydra",
    mode: str = "causal",
    max_len: int = 200,
    batch: int = 512,
    dataset: str = "ml-1m",
    device: str = "cpu",
    repeats: int = 3,
) -> dict:
    """Milliseconds per user to score every item for every user of the data set (the model's
    weights do not change the cost, so a freshly initialised model is timed)."""
    dev = resolve_device(device)
    data = load_movielens(dataset)
    cfg = ModelConfig(num_items=data.num_items, max_len=max_len, attention=attention, mode=mode)
    model = HydraRec(cfg).to(dev).eval()
    seqs = [s[-max_len:] for s in data.sequences]

    def score_all():
        for i in range(0, len(seqs), batch):
            model.score_next(pad_left(seqs[i : i + batch], max_len).to(dev))

    times = time_call(score_all, dev, repeats, warmup=1)
    best = median(times)
    return {
        "attention": attention,
        "mode": mode,
        "max_len": max_len,
        "device": str(dev),
        "users": len(seqs),
        "total_s": best,
        "ms_per_user": 1e3 * best / len(seqs),
    }


# ----------------------------------------------------------------------------- serving

# How a service can answer a user's new event (a film watched) with fresh recommendations:
STREAMING = {
    "hydrarec_recurrent": "HydraRec with forgetting: update the running sums (d numbers a block)",
    "sasrec_kv_cache": "SASRec keeping every past key and value: attend once over the cache",
    "sasrec_last200": "SASRec re-encoding the last 200 films (its training length)",
    "sasrec_full": "SASRec re-encoding the whole history",
}


def state_bytes(state: list[dict]) -> int:
    """Bytes a recurrent state holds (every tensor of every block)."""
    return sum(t.numel() * t.element_size() for block in state for t in block.values())


@torch.no_grad()
def streaming_cost(
    kind: str,
    history: int,
    num_items: int = 3416,
    d: int = 64,
    layers: int = 2,
    repeats: int = 20,
    device: str = "cpu",
) -> dict:
    """Time to take one user's new event and score every item, after ``history`` films, and
    the bytes kept per user between events (a freshly initialised model: weights do not
    change the cost)."""
    if kind not in STREAMING:
        raise ValueError(f"unknown way to serve {kind!r}; choose one of {sorted(STREAMING)}")
    dev = resolve_device(device)
    torch.manual_seed(0)
    attention = "hydra_decay" if kind == "hydrarec_recurrent" else "sdpa"
    positions = "absolute" if kind == "sasrec_last200" else "none"
    max_len = 200 if kind == "sasrec_last200" else history + 1
    cfg = ModelConfig(num_items, max_len, d, layers, attention=attention, positions=positions)
    model = HydraRec(cfg).to(dev).eval()
    item = torch.randint(1, num_items + 1, (1,), device=dev)
    seq = torch.randint(1, num_items + 1, (1, history + 1), device=dev)
    if kind in ("hydrarec_recurrent", "sasrec_kv_cache"):
        state = model.initial_state(1)
        if kind == "sasrec_kv_cache":  # a cache as long as the history
            state = [{k: torch.randn(1, history, d, device=dev) for k in s} for s in state]

        def event():
            _, hidden = model.step(state, item)
            return model.scores(hidden)

        kept = state_bytes(state)
    else:
        window = seq[:, -cfg.max_len :]

        def event():
            return model.score_next(window)

        kept = min(history, cfg.max_len) * 4  # the film ids a service keeps to re-encode
    times = time_call(event, dev, repeats, warmup=2)
    return {"serving": kind, "history": history, "ms_per_event": 1e3 * median(times),
            "state_bytes": kept, "d": d, "layers": layers, "device": str(dev)}  # fmt: skip


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """``breakdown``, ``epochs`` or ``streaming`` from the command line."""
    p = argparse.ArgumentParser(prog="python -m hydrarec_minimal.costs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("breakdown", help="where one training step's time goes, per component")
    k.add_argument("--attentions", default="sdpa,hydra")
    k.add_argument("--lengths", default="50,200,1000,2000")
    k.add_argument("--tokens", type=int, default=25_600)
    k.add_argument("--repeats", type=int, default=5)
    k.add_argument("--precision", default="fp32")
    e = sub.add_parser("epochs", help="training time per epoch and inference time per user")
    e.add_argument("--attentions", default="sdpa,hydra")
    e.add_argument("--lengths", default="50,200,800,2000")
    e.add_argument("--steps", type=int, default=5)
    e.add_argument("--precision", default="auto")
    s = sub.add_parser("streaming", help="serving one new event against the history's length")
    s.add_argument("--ways", default=",".join(STREAMING))
    s.add_argument("--histories", default="10,30,100,300,1000,2000,3000,10000")
    s.add_argument("--repeats", type=int, default=20)
    s.add_argument("--rounds", type=int, default=3, help="alternate the ways this many times")
    for q in (k, e, s):
        q.add_argument("--device", default="cpu")
        q.add_argument("--threads", type=int, default=0)
        q.add_argument("--out", required=True, help="output path without extension")
    a = p.parse_args(argv)
    rows = []
    try:
        with torch_threads(a.threads), freed_memory_kept() as kept:
            device = str(resolve_device(a.device))
            if a.cmd == "streaming":
                rows = streaming_rounds(a)
            for name in a.attentions.split(",") if a.cmd != "streaming" else []:
                for n in (int(x) for x in a.lengths.split(",")):
                    rows += run_one(a, name, n)
                    print(rows[-1], flush=True)
            paths = write_table(a.out, a.cmd, rows, device=device, keep_freed_memory=kept)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("wrote", *paths)
    return 0


def streaming_rounds(a: argparse.Namespace) -> list[dict]:
    """Every way at every history length, ``a.rounds`` times in turn, so that all of them
    see the same machine (a shared machine's speed drifts by half within minutes); each
    point's time is the median over its rounds."""
    ways, histories = a.ways.split(","), [int(x) for x in a.histories.split(",")]
    found: dict[tuple[str, int], list[dict]] = {}
    for _ in range(a.rounds):
        for n in histories:
            for way in ways:
                row = streaming_cost(way, n, repeats=a.repeats, device=a.device)
                found.setdefault((way, n), []).append(row)
    rows = []
    for got in found.values():
        times = [r["ms_per_event"] for r in got]
        rows.append(got[0] | {"ms_per_event": median(times), "rounds_ms": times})
        print(rows[-1], flush=True)
    return rows


def run_one(a: argparse.Namespace, name: str, n: int) -> list[dict]:
    """The rows of one measured point of the breakdown or epochs command."""
    if a.cmd == "breakdown":
        res = step_breakdown(name, n, a.tokens, repeats=a.repeats, device=a.device,
                             precision=a.precision)  # fmt: skip
        return [r | {"peak_bytes_step": res["peak_bytes"]} for r in res["rows"]]
    row = epoch_cost(name, n, steps=a.steps, device=a.device, precision=a.precision)
    for mode in ("causal", "bidirectional"):
        cost = inference_cost(name, mode, n, device=a.device)
        row[f"inference_ms_per_user_{mode}"] = cost["ms_per_user"]
    return [row]


if __name__ == "__main__":
    sys.exit(main())
