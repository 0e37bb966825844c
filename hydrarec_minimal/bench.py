"""Measure attention alone: time, peak memory, FLOPs, bytes and achieved bandwidth.

One engine for the book's figures, the runtime widget and the command line:

    python -m hydrarec_minimal.bench sweep --device cpu --out benchmarks/cpu_d64
    python -m hydrarec_minimal.bench roofline --out benchmarks/roofline_cpu

What a whole model costs (a training step, an epoch, scoring users) is ``costs``.

Each command writes ``OUT.json`` (rows plus the machine, torch version, threads and device)
and ``OUT.csv``. Before a point runs, its memory is estimated; a point that would not fit is
skipped and recorded with the memory it would need, never run into an out-of-memory crash.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from . import fused
from .attention import ATTENTIONS, hydra_attention, sdpa_attention
from .machine import (
    free_memory,
    freed_memory_kept,
    measure_peak,
    median,
    resolve_device,
    time_call,
    torch_threads,
)
from .runs import write_table

# ----------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """One attention to measure: its name in ``ATTENTIONS`` and whether it is causal."""

    name: str  # 'hydra_causal' = attention 'hydra' with the causal mask
    attention: str
    causal: bool

    @property
    def fn(self) -> Callable:
        """The attention function."""
        return ATTENTIONS[self.attention]


# every attention of the registry, with and without the causal mask
VARIANT_NAMES = [f"{a}{c}" for a in ATTENTIONS for c in ("", "_causal")]


def variant(name: str) -> Variant:
    """'hydra_causal' -> Variant('hydra_causal', 'hydra', causal=True)."""
    causal = name.endswith("_causal")
    base = name[: -len("_causal")] if causal else name
    if base not in ATTENTIONS:
        raise ValueError(f"unknown variant {name!r}; choose from {VARIANT_NAMES}")
    return Variant(name, base, causal)


def attention_costs(
    attention: str, b: int, t: int, d: int, causal: bool = False, bytes_per: int = 4
) -> list[dict]:
    """The main steps of one attention call with their FLOPs and bytes moved (minimal
    traffic: each step reads its inputs and writes its output once). A table, not a guess:
    chapter 2 prints it and the tests check it against hand counts."""
    btd, btt = b * t * d, b * t * t
    kind = attention
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
    elif kind in ("hydra", "hydra_decay"):
        steps = [
            ("features phi(Q), phi(K) (x / ||x||)", 2 * 3 * btd, 4 * btd * bytes_per),
            ("sum over time of phi(K) * V", 2 * btd, 2 * btd * bytes_per),
            ("output phi(Q) * sum", btd, 2 * btd * bytes_per),
        ]
        if kind == "hydra_decay":  # the decayed sum: a C x C matrix per feature and chunk
            c = min(t, 32)
            steps[1] = ("decayed sum over time of phi(K) * V", 2 * btd * c, 2 * btd * bytes_per)
    else:
        raise ValueError(f"unknown attention {attention!r}; choose one of {sorted(ATTENTIONS)}")
    return [{"step": s, "flops": int(f), "bytes": int(m)} for s, f, m in steps]


# bytes: the most a small call measured in the stored sweeps: 6 MiB on the CPU, 32 MiB on a
# GPU (cuBLAS's workspace)
CALL_OVERHEAD = 48 * 2**20


def memory_estimate(
    attention: str, b: int, t: int, d: int, bytes_per: int = 4, device: str = "cpu"
) -> int:
    """Bytes of extra memory one call needs at its peak (q, k, v already allocated). From
    scratch, softmax holds up to three T x T tensors at once (the scores, their scaled and
    masked copy, the softmax) plus the causal mask: 3.5 B T^2 covers every measured peak
    (``tests/test_bench.py`` checks the stored sweeps). Every call also gets ``CALL_OVERHEAD``
    (the allocator's and the threads' own buffers, what small calls measure)."""
    btd = b * t * d
    if attention == "softmax":
        need = int(3.5 * b * t * t + 2 * btd) * bytes_per
    elif attention == "sdpa":  # fused kernels keep scores in blocks; the math fallback would not
        need = 4 * btd * bytes_per + (b * t * t * bytes_per if device == "mps" else 0)
    elif attention == "linear":
        need = 14 * btd * bytes_per  # causal: chunk states (B, H, T / 64, d, d) as well
    elif attention == "hydra_decay":  # sums in float32 whatever the input
        need = 8 * btd * max(bytes_per, 4)
    else:
        need = 4 * btd * bytes_per
    return need + CALL_OVERHEAD


# ----------------------------------------------------------------------------- sweeps


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
        raise ValueError(f"d (features) must be a positive integer, got {d}")
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
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Time (and measure the peak memory of) each variant at each length.

    A point whose estimated memory (inputs included) exceeds ``memory_fraction`` of the free
    memory (``machine.free_memory``: a container's limit counts) is not run: its row says
    ``skipped``, how much it would need and how much is free. ``on_point`` sees each row as
    it lands; ``should_stop`` is asked before each point (a Stop button).
    """
    dev = resolve_device(device)
    names = list(variants)
    lengths = sorted(set(int(t) for t in lengths))
    check_range(min(lengths), max(lengths), d, batch, repeats)
    specs = [variant(n) for n in names]
    bytes_per = torch.finfo(dtype).bits // 8
    rows = []
    g = torch.Generator().manual_seed(seed)
    for t in lengths:
        inputs = None
        for spec in specs:
            if should_stop and should_stop():
                return rows
            need = (
                memory_estimate(spec.attention, batch, t, d, bytes_per, dev.type)
                + 3 * batch * t * d * bytes_per
            )
            row = {
                "variant": spec.name,
                "attention": spec.attention,
                "causal": spec.causal,
                "T": t,
                "d": d,
                "B": batch,
                "dtype": str(dtype).replace("torch.", ""),
                "device": str(dev),
                "estimated_bytes": need,
                "flops": sum(
                    c["flops"]
                    for c in attention_costs(spec.attention, batch, t, d, spec.causal, bytes_per)
                ),
            }
            free = free_memory(dev)
            if need > memory_fraction * free:
                gib = 2**30
                reason = (f"needs {need / gib:.1f} GiB; {free / gib:.1f} GiB free here, "
                          f"{memory_fraction:.0%} of it allowed")  # fmt: skip
                row.update(skipped=True, reason=reason)
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
                    median_s=median(times),
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


def crossover_sentence(rows: list[dict], html: bool = True) -> str:
    """'Hydra overtakes softmax from T = ...' for the variants present, in words."""
    names = {r["variant"] for r in rows}
    parts = []
    for fast in ("hydra", "hydra_causal"):
        for slow in ("softmax", "sdpa", "softmax_causal", "sdpa_causal"):
            if fast in names and slow in names and ("causal" in fast) == ("causal" in slow):
                t = crossover(rows, fast, slow)
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


def hydra_speedups(roofline_rows: list[dict], sweep_rows: list[dict], d: int = 64) -> dict:
    """How many times faster Hydra is than SDPA, causal and not: on a roofline run (its best
    Hydra kernel against SDPA at the same size) and at the longest length of a sweep."""
    best = {
        v: min(r["min_s"] for r in roofline_rows if r["variant"] == v and r["d"] == d)
        for v in ("hydra", "hydra_causal", "sdpa", "sdpa_causal")
    }
    t = max(r["T"] for r in sweep_rows if r["variant"] == "hydra" and not r.get("skipped"))
    at = {r["variant"]: r["median_s"] for r in sweep_rows if r["T"] == t and not r.get("skipped")}
    return {
        "roofline": {"non-causal": best["sdpa"] / best["hydra"],
                     "causal": best["sdpa_causal"] / best["hydra_causal"]},
        "sweep": {"non-causal": at["sdpa"] / at["hydra"],
                  "causal": at["sdpa_causal"] / at["hydra_causal"], "T": t},
    }  # fmt: skip


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
    ratios = sorted(r / b for r, b in zip(rates, probes, strict=True))
    return {
        "median_s": median(times),
        "min_s": min(times),
        "GBps": max(rates),
        "bandwidth_GBps": max(probes),
        "fraction_of_bandwidth": max(rates) / max(probes),
        "median_round_fraction": median(ratios),
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
                name = "hydra_causal" if causal else "hydra"
                rows.append({"variant": name, "method": method, "d": d, "T": t, "B": batch, **row})
            with torch.no_grad():
                sd = time_call(
                    partial(sdpa_attention, q, k, v, causal=causal), dev, max(3, repeats // 3)
                )
            rows.append(
                {
                    "variant": "sdpa_causal" if causal else "sdpa",
                    "method": "torch sdpa",
                    "d": d,
                    "T": t,
                    "B": batch,
                    "median_s": median(sd),
                    "min_s": min(sd),
                }
            )
    return {"bandwidth": bw, "rows": rows}


# ----------------------------------------------------------------------------- files and CLI


def describe(row: dict) -> str:
    """One line per measured point, for the command line."""
    if row.get("skipped"):
        return f"{row['variant']:>14} T={row['T']:>6}  skipped: {row['reason']}"
    return f"{row['variant']:>14} T={row['T']:>6}  median {row['median_s'] * 1e3:9.3f} ms"


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
    s.add_argument("--d", type=int, default=64)
    s.add_argument("--batch", type=int, default=4)
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    r = sub.add_parser("roofline", help="Hydra's achieved bandwidth at T = 16,384")
    r.add_argument("--dims", default="64,256")
    r.add_argument("--t", type=int, default=16384)
    r.add_argument("--batch", type=int, default=4)
    r.add_argument("--repeats", type=int, default=11)
    for q in (s, r):
        q.add_argument("--device", default="cpu")
        q.add_argument("--threads", type=int, default=0)
        q.add_argument(
            "--keep-freed-memory",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="glibc keeps freed memory for reuse (default); --no-...: fresh pages each time",
        )
        q.add_argument("--out", required=True, help="output path without extension")
    a = p.parse_args(argv)
    kept = freed_memory_kept() if a.keep_freed_memory else contextlib.nullcontext(False)
    try:
        with torch_threads(a.threads), kept as applied:
            device = str(resolve_device(a.device))
            if a.cmd == "sweep":
                variants, lengths = a.variants.split(","), log_lengths(a.t_min, a.t_max)
                dtype, show = getattr(torch, a.dtype), lambda row: print(describe(row))
                rows = sweep(variants, lengths, a.d, a.batch, a.repeats, a.device, dtype,
                             on_point=show)  # fmt: skip
                extra = {}
            else:
                dims = [int(x) for x in a.dims.split(",")]
                res = roofline(dims, a.t, a.batch, a.repeats, a.device)
                rows, extra = res["rows"], {"bandwidth": res["bandwidth"]}
            paths = write_table(a.out, a.cmd, rows, device=device, keep_freed_memory=applied,
                                  **extra)  # fmt: skip
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("wrote", *paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
