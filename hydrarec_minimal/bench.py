"""Measure attention: time, peak memory, FLOPs, bytes and achieved bandwidth.

One engine for the book's figures, the runtime widget and the command line:

    python -m hydrarec_minimal.bench sweep --device cpu --out benchmarks/cpu_d64
    python -m hydrarec_minimal.bench roofline --out benchmarks/roofline_cpu

Each command writes ``OUT.json`` (rows plus the machine, torch version, threads and device)
and ``OUT.csv``. Before a point runs, its memory is estimated; a point that would not fit is
skipped and recorded with the memory it would need, never run into an out-of-memory crash.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from . import fused
from .attention import hydra_attention, linear_attention, sdpa_attention, softmax_attention

# ----------------------------------------------------------------------------- environment


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA if present, else MPS, else CPU; a device that is not there -> ValueError."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here; use 'cpu'")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device 'mps' asked for, but torch sees no Apple GPU here; use 'cpu'")
    if name.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'mps'")
    return torch.device(name)


def available_devices() -> list[str]:
    """The devices torch can use here: always 'cpu', plus 'cuda' / 'mps' when present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append("mps")
    return out


def git_commit() -> str | None:
    """The repository's current commit, or None outside a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(model_device: str | None = None) -> dict:
    """What a measurement depends on: machine, CPU, threads, torch, device, commit, date."""
    env = {
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": model_device or "cpu",
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


# ----------------------------------------------------------------------------- memory


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS.

    By default glibc serves large blocks (> 32 MiB) with fresh mmap() pages, so every new
    large tensor is page-faulted in at a fraction of memory bandwidth. Allocators such as
    jemalloc and tcmalloc avoid this; here one mallopt() call does. Returns False where
    it does not apply (not glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def trim_freed_memory(fraction: float = 0.5) -> bool:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``) once this process holds
    more than ``fraction`` of the machine's RAM: with ``keep_freed_memory`` nothing is ever
    returned, and the heap's free gaps grow over a long run (a 45-minute training run here
    reached 24 GB and was killed). Returns True when it trimmed."""
    rss, total = _proc_status("VmRSS"), _proc_status("MemTotal", "/proc/meminfo")
    if rss is None or total is None or rss < fraction * total:
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _proc_status(key: str, path: str = "/proc/self/status") -> int | None:
    """A byte count from a /proc file in 'Key: N kB' form (Linux): this process's
    /proc/self/status ('VmRSS', 'VmHWM') or /proc/meminfo ('MemTotal')."""
    try:
        for line in open(path):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def free_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device`` (CPU: MemAvailable)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:  # hand memory this process freed back to the OS first, so it counts as free
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30  # unknown: assume a small laptop


def measure_peak(fn: Callable[[], object], device: torch.device) -> int | None:
    """Extra memory (bytes) at the peak of one call of fn: CUDA allocator stats on GPUs,
    the resident-set high-water mark on Linux CPUs; None where neither is available."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    if device.type != "cpu" or _proc_status("VmHWM") is None:
        return None
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark to the current resident size
    except OSError:
        return None
    before = _proc_status("VmRSS")
    fn()
    return max(0, _proc_status("VmHWM") - before)


# ----------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """One attention implementation to measure, with its causal flag."""

    name: str
    fn: Callable
    causal: bool
    kind: str  # 'softmax' | 'sdpa' | 'linear' | 'hydra': for costs and memory


def _variant(name: str) -> Variant:
    """'hydra_causal' -> Variant(hydra_attention, causal=True)."""
    base, _, tail = name.partition("_")
    fns = {
        "softmax": softmax_attention,
        "sdpa": sdpa_attention,
        "linear": linear_attention,
        "hydra": hydra_attention,
    }
    if base not in fns or tail not in ("", "causal"):
        raise ValueError(f"unknown variant {name!r}; choose from {VARIANT_NAMES}")
    return Variant(name, fns[base], tail == "causal", base)


VARIANT_NAMES = [f"{b}{c}" for b in ("softmax", "sdpa", "linear", "hydra") for c in ("", "_causal")]


def attention_costs(
    kind: str, b: int, t: int, d: int, causal: bool = False, bytes_per: int = 4
) -> list[dict]:
    """The main steps of one attention call with their FLOPs and bytes moved (minimal
    traffic: each step reads its inputs and writes its output once). A table, not a guess:
    chapter 2 prints it and the tests check it against hand counts."""
    btd, btt = b * t * d, b * t * t
    if kind in ("softmax", "sdpa"):
        steps = [
            ("scores S = Q K^T / sqrt(D)", 2 * btt * d, (2 * btd + btt) * bytes_per),
            ("softmax over each row of S", 5 * btt, 2 * btt * bytes_per),
            ("output P V", 2 * btt * d, (btt + 2 * btd) * bytes_per),
        ]
        if kind == "sdpa":  # fused: S and P never leave the cache
            steps = [("fused Q K^T, softmax, P V", sum(s[1] for s in steps), 4 * btd * bytes_per)]
    elif kind == "linear":
        steps = [
            ("features phi(Q), phi(K) (elu + 1)", 2 * 2 * btd, 4 * btd * bytes_per),
            ("state S = phi(K)^T V", 2 * b * t * d * d, (2 * btd + b * d * d) * bytes_per),
            (
                "output phi(Q) S / phi(Q) z",
                2 * b * t * d * d + 3 * btd,
                (2 * btd + b * d * d) * bytes_per,
            ),
        ]
    elif kind == "hydra":
        steps = [
            ("features phi(Q), phi(K) (x / ||x||)", 2 * 3 * btd, 4 * btd * bytes_per),
            ("sum over time of phi(K) * V", 2 * btd, 2 * btd * bytes_per),
            ("output phi(Q) * sum", btd, 2 * btd * bytes_per),
        ]
    else:
        raise ValueError(f"unknown attention kind {kind!r}")
    return [{"step": s, "flops": int(f), "bytes": int(m)} for s, f, m in steps]


def memory_estimate(
    kind: str, b: int, t: int, d: int, bytes_per: int = 4, device: str = "cpu"
) -> int:
    """Bytes of extra memory one call needs at its peak (q, k, v already allocated):
    from scratch, softmax holds the T x T scores and their softmax at once."""
    btd = b * t * d
    if kind == "softmax":
        return (2 * b * t * t + 2 * btd) * bytes_per
    if kind == "sdpa":  # fused kernels keep scores in blocks; the math fallback would not
        return 4 * btd * bytes_per + (b * t * t * bytes_per if device == "mps" else 0)
    if kind == "linear":
        return (6 * btd + 4 * b * t * d) * bytes_per
    return 4 * btd * bytes_per


# ----------------------------------------------------------------------------- timing


def time_call(
    fn: Callable[[], object], device: torch.device, repeats: int = 5, warmup: int = 1
) -> list[float]:
    """Wall times in seconds of ``repeats`` calls (after ``warmup``); CUDA events on GPUs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1e3)
        else:
            if device.type == "mps":
                torch.mps.synchronize()
            t0 = time.perf_counter()
            fn()
            if device.type == "mps":
                torch.mps.synchronize()
            times.append(time.perf_counter() - t0)
    return times


def log_lengths(t_min: int, t_max: int, per_octave: int = 1) -> list[int]:
    """Log-spaced sequence lengths from t_min to t_max (powers of two when per_octave = 1)."""
    check_range(t_min, t_max)
    n = max(1, round(math.log2(t_max / t_min) * per_octave))
    vals = sorted({round(t_min * (t_max / t_min) ** (i / n)) for i in range(n + 1)})
    return vals


def check_range(t_min: int, t_max: int, d: int = 1, batch: int = 1, repeats: int = 1) -> None:
    """ValueError with a plain message for ranges a sweep cannot run."""
    if int(t_min) < 1:
        raise ValueError(f"the smallest sequence length must be >= 1, got {t_min}")
    if int(t_min) > int(t_max):
        raise ValueError(f"min length {t_min} is larger than max length {t_max}")
    if int(d) < 1:
        raise ValueError(f"D (features) must be a positive integer, got {d}")
    if int(batch) < 1 or int(repeats) < 1:
        raise ValueError(f"batch and repeats must be >= 1, got {batch} and {repeats}")


def sweep(
    variants: Iterable[str],
    lengths: Iterable[int],
    d: int = 64,
    batch: int = 4,
    repeats: int = 5,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    memory_fraction: float = 0.5,
    measure_memory: bool = True,
    on_point: Callable[[dict], None] | None = None,
    seed: int = 0,
) -> list[dict]:
    """Time (and measure the peak memory of) each variant at each length.

    A point whose estimated memory exceeds ``memory_fraction`` of the free memory is not run:
    its row says ``skipped`` and how much it would need. ``on_point`` sees each row as it lands.
    """
    dev = resolve_device(device)
    names = list(variants)
    lengths = sorted(set(int(t) for t in lengths))
    check_range(min(lengths), max(lengths), d, batch, repeats)
    specs = [_variant(n) for n in names]
    bytes_per = torch.finfo(dtype).bits // 8
    rows = []
    g = torch.Generator().manual_seed(seed)
    for t in lengths:
        inputs = None
        for spec in specs:
            need = (
                memory_estimate(spec.kind, batch, t, d, bytes_per, dev.type)
                + 3 * batch * t * d * bytes_per
            )
            row = {
                "variant": spec.name,
                "kind": spec.kind,
                "causal": spec.causal,
                "T": t,
                "D": d,
                "B": batch,
                "dtype": str(dtype).replace("torch.", ""),
                "device": str(dev),
                "estimated_bytes": need,
                "flops": sum(
                    c["flops"]
                    for c in attention_costs(spec.kind, batch, t, d, spec.causal, bytes_per)
                ),
            }
            budget = memory_fraction * free_memory(dev)
            if need > budget:
                row.update(
                    skipped=True, reason=f"needs {need / 1e9:.1f} GB, {budget / 1e9:.1f} GB allowed"
                )
            else:
                if inputs is None:
                    inputs = [
                        torch.randn(batch, t, d, generator=g, dtype=dtype).to(dev) for _ in range(3)
                    ]
                q, k, v = inputs

                def call(spec=spec, q=q, k=k, v=v):
                    with torch.no_grad():
                        return spec.fn(q, k, v, causal=spec.causal)

                peak = measure_peak(call, dev) if measure_memory else None
                times = time_call(call, dev, repeats)
                st = sorted(times)
                row.update(
                    skipped=False,
                    times_s=times,
                    median_s=st[len(st) // 2],
                    min_s=st[0],
                    max_s=st[-1],
                    peak_bytes=peak,
                )
            rows.append(row)
            if on_point:
                on_point(row)
        del inputs
    return rows


def crossover(rows: list[dict], fast: str, slow: str) -> int | None:
    """The smallest measured T from which ``fast`` is faster than ``slow`` at every longer T."""

    def med(name):
        return {
            r["T"]: r["median_s"] for r in rows if r["variant"] == name and not r.get("skipped")
        }

    a, b = med(fast), med(slow)
    common = sorted(set(a) & set(b))
    best = None
    for t in reversed(common):
        if a[t] < b[t]:
            best = t
        else:
            break
    return best


# ----------------------------------------------------------------------------- roofline


def _stream_buffers(nbytes: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Three float32 tensors of ``nbytes`` each, for the STREAM-style probes."""
    return tuple(torch.ones(nbytes // 4, device=device) for _ in range(3))


def _probe_bandwidth(bufs: tuple[Tensor, Tensor, Tensor], device: torch.device) -> dict:
    """One copy (2 x bytes moved) and one add (3 x bytes) on ``bufs``; GB/s of each."""
    a, b, c = bufs
    nbytes = a.numel() * a.element_size()
    copy = time_call(lambda: c.copy_(a), device, 1, warmup=0)[0]
    add = time_call(lambda: torch.add(a, b, out=c), device, 1, warmup=0)[0]
    return {"copy_GBps": 2 * nbytes / copy / 1e9, "add_GBps": 3 * nbytes / add / 1e9}


def measure_bandwidth(nbytes: int = 2**30, repeats: int = 5, device: str = "cpu") -> dict:
    """Memory bandwidth of the device, STREAM style: copy (2 x bytes) and add (3 x bytes) on
    ``nbytes`` float32 tensors, best of ``repeats``; returns GB/s of each and their maximum."""
    dev = resolve_device(device)
    bufs = _stream_buffers(nbytes, dev)
    _probe_bandwidth(bufs, dev)  # warm-up: first touch of the pages
    probes = [_probe_bandwidth(bufs, dev) for _ in range(repeats)]
    out = {key: max(p[key] for p in probes) for key in ("copy_GBps", "add_GBps")}
    out["bytes"] = nbytes
    out["GBps"] = max(out["copy_GBps"], out["add_GBps"])
    return out


def paired_roofline(
    call: Callable[[], object],
    traffic_bytes: int,
    bufs: tuple[Tensor, Tensor, Tensor],
    device: torch.device,
    repeats: int = 11,
    calls_per_round: int = 3,
) -> dict:
    """Time ``call`` and the bandwidth probe alternately, ``repeats`` rounds, so both see the
    same machine (on a shared VM the memory bus's speed drifts by a third within minutes).
    Each round keeps the best of ``calls_per_round`` calls after one warm-up call, since the
    probe's gigabyte evicts the call's buffers from the cache.

    Returns the best call time and the median of the rounds' best, the best probe of the
    same window, and the achieved fraction of bandwidth: best achieved rate over best probe,
    and the median of the per-round ratios (each call against the probe just before it)."""
    times, probes = [], []
    for _ in range(repeats):
        p = _probe_bandwidth(bufs, device)
        probes.append(max(p["copy_GBps"], p["add_GBps"]))
        times.append(min(time_call(call, device, calls_per_round, warmup=1)))
    rates = [traffic_bytes / t / 1e9 for t in times]
    ratios = sorted(r / b for r, b in zip(rates, probes))
    return {
        "median_s": sorted(times)[len(times) // 2],
        "min_s": min(times),
        "GBps": max(rates),
        "bandwidth_GBps": max(probes),
        "fraction_of_bandwidth": max(rates) / max(probes),
        "median_round_fraction": ratios[len(ratios) // 2],
    }


def roofline(
    dims: Iterable[int] = (64, 256),
    t: int = 16384,
    batch: int = 4,
    repeats: int = 11,
    device: str = "cpu",
    methods: Iterable[str] = ("simple", "chunked", "tiled", "fused"),
    bandwidth_bytes: int = 2**30,
) -> dict:
    """Achieved bandwidth of Hydra (non-causal and causal, each method) against the measured
    limit, counting the minimal traffic: read q, k, v and write the output once (4 B T D
    floats). Each method is timed alternately with a copy/add probe (``paired_roofline``), so
    the fraction compares the two under the same conditions (``fused`` only where the C
    kernel builds). Also times SDPA at the same size for the speed-up."""
    dev = resolve_device(device)
    bw = measure_bandwidth(bandwidth_bytes, device=device)
    bufs = _stream_buffers(bandwidth_bytes, dev)
    rows = []
    g = torch.Generator().manual_seed(0)
    for d in dims:
        q, k, v = (torch.randn(batch, t, d, generator=g).to(dev) for _ in range(3))
        minimal = 4 * q.numel() * q.element_size()
        for causal in (False, True):
            for method in methods:
                if (method == "chunked" and not causal) or (
                    method == "fused" and not fused.available()
                ):
                    continue
                with torch.no_grad():
                    call = partial(hydra_attention, q, k, v, causal=causal, method=method)
                    row = paired_roofline(call, minimal, bufs, dev, repeats)
                variant = "hydra_causal" if causal else "hydra"
                rows.append(
                    {"variant": variant, "method": method, "D": d, "T": t, "B": batch, **row}
                )
            with torch.no_grad():
                sd = time_call(
                    partial(sdpa_attention, q, k, v, causal=causal), dev, max(3, repeats // 3)
                )
            rows.append(
                {
                    "variant": "sdpa_causal" if causal else "sdpa",
                    "method": "torch sdpa",
                    "D": d,
                    "T": t,
                    "B": batch,
                    "median_s": sorted(sd)[len(sd) // 2],
                    "min_s": min(sd),
                }
            )
    return {"bandwidth": bw, "rows": rows}


# ----------------------------------------------------------------------------- training step


def step_breakdown(
    attention: str = "hydra",
    max_len: int = 200,
    tokens: int = 25_600,
    num_items: int = 3416,
    d: int = 64,
    layers: int = 2,
    repeats: int = 5,
    device: str = "cpu",
    bf16: bool = False,
) -> dict:
    """Where one causal training step's time goes: forward + backward of each component
    (embeddings, attention, feed-forward, layer norms, output layer and full-catalogue
    loss) timed in isolation on full-length random sequences, ``tokens // max_len`` of them
    per batch, plus the whole step for comparison. Seconds per step, medians."""
    from .model import HydraRec, ModelConfig, losses  # the model builds on attention only

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
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
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
        med = sorted(times)[len(times) // 2] * (layers if name in per_layer else 1)
        rows.append(
            {"component": name, "median_s": med, "attention_kind": attention, "L": max_len, "B": b}
        )
    peak = measure_peak(parts["whole step"], dev)
    return {
        "attention": attention,
        "L": max_len,
        "B": b,
        "d": d,
        "layers": layers,
        "device": str(dev),
        "bf16": bf16,
        "peak_bytes": peak,
        "rows": rows,
    }


def epoch_cost(
    attention: str = "hydra",
    max_len: int = 200,
    batch: int = 128,
    steps: int = 5,
    dataset: str = "ml-1m",
    device: str = "cpu",
    bf16: bool = True,
    hydra_mean: bool = False,
) -> dict:
    """Seconds per training epoch (causal, full cross-entropy) on the real data, estimated
    from ``steps`` timed optimiser steps on real batches, and the peak memory of one step
    (``hydra_mean``: Hydra's running-mean variant)."""
    from .data import load_movielens
    from .model import HydraRec
    from .train import TrainConfig, causal_examples, train_step

    dev = resolve_device(device)
    data = load_movielens(dataset)
    inputs, targets = causal_examples(data.split().train, max_len)
    cfg = TrainConfig(
        dataset=dataset,
        attention=attention,
        max_len=max_len,
        batch_size=batch,
        bf16=bf16,
        hydra_mean=hydra_mean,
    )
    torch.manual_seed(0)
    model = HydraRec(cfg.model_config(data.num_items)).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(inputs.shape[0], generator=g)
    batches = [order[i * batch : (i + 1) * batch] for i in range(steps + 1)]

    def step(idx):
        return train_step(cfg, model, opt, inputs[idx].to(dev), targets[idx].to(dev), g)

    peak = measure_peak(lambda: step(batches[0]), dev)  # also the warm-up
    times = [
        time_call(lambda idx=idx: step(idx), dev, repeats=1, warmup=0)[0] for idx in batches[1:]
    ]
    per_step = sorted(times)[len(times) // 2]
    n_steps = math.ceil(inputs.shape[0] / batch)
    return {
        "attention": attention,
        "L": max_len,
        "B": batch,
        "device": str(dev),
        "bf16": bf16,
        "step_s": per_step,
        "steps_per_epoch": n_steps,
        "epoch_s": per_step * n_steps,
        "peak_bytes": peak,
    }


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
    from .data import load_movielens, pad_left
    from .model import HydraRec, ModelConfig

    dev = resolve_device(device)
    data = load_movielens(dataset)
    cfg = ModelConfig(num_items=data.num_items, max_len=max_len, attention=attention, mode=mode)
    model = HydraRec(cfg).to(dev).eval()
    seqs = [s[-max_len:] for s in data.sequences]

    def score_all():
        for i in range(0, len(seqs), batch):
            model.score_next(pad_left(seqs[i : i + batch], max_len).to(dev))

    times = time_call(score_all, dev, repeats, warmup=1)
    best = sorted(times)[len(times) // 2]
    return {
        "attention": attention,
        "mode": mode,
        "L": max_len,
        "device": str(dev),
        "users": len(seqs),
        "total_s": best,
        "ms_per_user": 1e3 * best / len(seqs),
    }


# ----------------------------------------------------------------------------- files and CLI


def write_results(out: str | Path, kind: str, rows: list[dict], **extra) -> tuple[Path, Path]:
    """Write OUT.json (rows, environment, extra) and OUT.csv (the rows); return both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": kind,
        "environment": environment(extra.pop("device", "cpu")),
        **extra,
        "rows": rows,
    }
    jpath, cpath = out.with_suffix(".json"), out.with_suffix(".csv")
    jpath.write_text(json.dumps(payload, indent=1) + "\n")
    keys = sorted({k for r in rows for k in r if k != "times_s"})
    with open(cpath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in keys})
    return jpath, cpath


def load_results(path: str | Path) -> dict:
    """Read a JSON file written by ``write_results``."""
    return json.loads(Path(path).read_text())


def main(argv: list[str] | None = None) -> int:
    """``sweep`` or ``roofline`` from the command line."""
    p = argparse.ArgumentParser(
        prog="python -m hydrarec_minimal.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sweep", help="time and memory against sequence length")
    s.add_argument(
        "--variants", default="softmax,sdpa,sdpa_causal,linear,linear_causal,hydra,hydra_causal"
    )
    s.add_argument("--t-min", type=int, default=64)
    s.add_argument("--t-max", type=int, default=16384)
    s.add_argument("--dim", type=int, default=64)
    s.add_argument("--batch", type=int, default=4)
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument(
        "--dtype", default="float32", choices=["float32", "float16", "bfloat16", "float64"]
    )
    r = sub.add_parser("roofline", help="Hydra's achieved bandwidth at T = 16,384")
    r.add_argument("--dims", default="64,256")
    r.add_argument("--t", type=int, default=16384)
    r.add_argument("--batch", type=int, default=4)
    r.add_argument("--repeats", type=int, default=11)
    k = sub.add_parser("breakdown", help="where one training step's time goes, per component")
    k.add_argument("--attentions", default="sdpa,hydra")
    k.add_argument("--lengths", default="50,200,1000,2000")
    k.add_argument("--tokens", type=int, default=25_600)
    k.add_argument("--repeats", type=int, default=5)
    k.add_argument("--bf16", action="store_true")
    e = sub.add_parser("costs", help="training time per epoch and inference time per user")
    e.add_argument("--attentions", default="sdpa,hydra")
    e.add_argument("--lengths", default="50,200,800,2000")
    e.add_argument("--steps", type=int, default=5)
    for q in (s, r, k, e):
        q.add_argument("--device", default="cpu")
        q.add_argument("--threads", type=int, default=0)
        q.add_argument(
            "--no-keep-freed-memory",
            action="store_true",
            help="leave glibc's default (fresh pages for every large tensor)",
        )
        q.add_argument("--out", required=True, help="output path without extension")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    kept = False if a.no_keep_freed_memory else keep_freed_memory()
    try:
        if a.cmd == "sweep":
            rows = sweep(
                a.variants.split(","),
                log_lengths(a.t_min, a.t_max),
                a.dim,
                a.batch,
                a.repeats,
                a.device,
                getattr(torch, a.dtype),
                on_point=lambda row: print(_describe(row), flush=True),
            )
            paths = write_results(
                a.out, "sweep", rows, device=str(resolve_device(a.device)), keep_freed_memory=kept
            )
        elif a.cmd == "breakdown":
            rows = []
            for att in a.attentions.split(","):
                for length in (int(x) for x in a.lengths.split(",")):
                    res = step_breakdown(
                        att, length, a.tokens, repeats=a.repeats, device=a.device, bf16=a.bf16
                    )
                    for row in res["rows"]:
                        row["peak_bytes_step"] = res["peak_bytes"]
                        print(
                            f"{att:>6} L={length:>5} {row['component']:>32}: "
                            f"{row['median_s'] * 1e3:9.2f} ms",
                            flush=True,
                        )
                    rows += res["rows"]
            paths = write_results(
                a.out,
                "breakdown",
                rows,
                device=str(resolve_device(a.device)),
                bf16=a.bf16,
                tokens=a.tokens,
                keep_freed_memory=kept,
            )
        elif a.cmd == "costs":
            rows = []
            for att in a.attentions.split(","):
                for length in (int(x) for x in a.lengths.split(",")):
                    row = epoch_cost(att, length, steps=a.steps, device=a.device)
                    for mode in ("causal", "bidirectional"):
                        row[f"inference_ms_per_user_{mode}"] = inference_cost(
                            att, mode, length, device=a.device
                        )["ms_per_user"]
                    print(row, flush=True)
                    rows.append(row)
            paths = write_results(
                a.out, "costs", rows, device=str(resolve_device(a.device)), keep_freed_memory=kept
            )
        else:
            res = roofline([int(x) for x in a.dims.split(",")], a.t, a.batch, a.repeats, a.device)
            for row in res["rows"]:
                print(row, flush=True)
            paths = write_results(
                a.out,
                "roofline",
                res["rows"],
                device=str(resolve_device(a.device)),
                bandwidth=res["bandwidth"],
                keep_freed_memory=kept,
            )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("wrote", *paths)
    return 0


def _describe(row: dict) -> str:
    """One line per measured point, for the command line."""
    if row.get("skipped"):
        return f"{row['variant']:>14} T={row['T']:>6}  skipped: {row['reason']}"
    return f"{row['variant']:>14} T={row['T']:>6}  median {row['median_s'] * 1e3:9.3f} ms"


if __name__ == "__main__":
    sys.exit(main())
