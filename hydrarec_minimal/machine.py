"""This machine: devices, numeric precision, memory (container limits included), timing, and
the record of what a measurement ran on.

Everything the package measures or trains asks here, so that a reader's laptop, a Binder
container and a GPU server are handled in one place.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

# ----------------------------------------------------------------------------- devices


def _mps_available() -> bool:
    """True when torch sees an Apple GPU."""
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA if present, else MPS, else CPU; a device that is not there -> ValueError."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here; use 'cpu'")
    if name == "mps" and not _mps_available():
        raise ValueError("device 'mps' asked for, but torch sees no Apple GPU here; use 'cpu'")
    if name.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'mps'")
    return torch.device(name)


def available_devices() -> list[str]:
    """The devices torch can use here, the fastest first: 'cuda' / 'mps' when present, 'cpu'."""
    out = ["cuda"] if torch.cuda.is_available() else []
    return out + (["mps"] if _mps_available() else []) + ["cpu"]


def cpu_flags() -> set[str]:
    """The processor's feature flags (Linux /proc/cpuinfo), e.g. {'avx2', 'avx512_bf16'}."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# ----------------------------------------------------------------------------- precision

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def fast_bf16(device: torch.device) -> bool:
    """True where bfloat16 matrix products run in hardware: CUDA GPUs that support it (not a
    T4), CPUs with AVX512-BF16 or AMX. Elsewhere bfloat16 is emulated, far slower than float32
    (about 80 times on an AVX2 CPU measured here)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where it is fast, else 'fp16' on CUDA (with a gradient scaler), else
    'fp32'; an explicit choice is kept."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if fast_bf16(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "fp32"


AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


# ----------------------------------------------------------------------------- the record


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
    """What a measurement depends on: machine, CPU and its vector units, threads, torch,
    device, commit, date."""
    env = {
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "fast_bf16_cpu": fast_bf16(torch.device("cpu")),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
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


def proc_status(key: str, path: str = "/proc/self/status") -> int | None:
    """A byte count from a /proc file in 'Key: N kB' form (Linux): this process's
    /proc/self/status ('VmRSS', 'VmHWM') or /proc/meminfo ('MemTotal', 'MemAvailable')."""
    try:
        for line in open(path):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _read_number(path: Path) -> int | None:
    """An integer from a one-line cgroup file; None for 'max', absent or unreadable files."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def container_memory_left(root: str | os.PathLike = "/sys/fs/cgroup") -> int | None:
    """Bytes this container may still use under its cgroup memory limit (v2 ``memory.max``
    minus ``memory.current``, v1 ``memory.limit_in_bytes`` minus usage); None without a limit.
    /proc/meminfo inside a container reports the host, which is why this exists."""
    root = Path(root)
    for limit, used in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        cap, now = _read_number(root / limit), _read_number(root / used)
        if cap is not None and now is not None and cap < 2**60:  # v1 writes 'no limit' as 2**63
            return max(0, cap - now)
    return None


def free_memory(device: torch.device, cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> int:
    """Bytes that can still be allocated on ``device``: CUDA's free memory; on the CPU the
    smaller of MemAvailable and what the container's limit leaves."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    trim_freed_memory(0.0)  # memory this process freed counts as free once handed back
    host = proc_status("MemAvailable", "/proc/meminfo")
    if host is None:
        try:
            host = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            host = 8 * 2**30  # unknown: assume a small laptop
    left = container_memory_left(cgroup_root)
    return host if left is None else min(host, left)


def _libc() -> ctypes.CDLL | None:
    """glibc, where the process has it (Linux); None elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


# glibc's mallopt parameters and their defaults (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536


@contextlib.contextmanager
def freed_memory_kept() -> Iterator[bool]:
    """Inside the block, glibc keeps freed memory for reuse instead of returning it to the OS.

    By default glibc serves large blocks (> 32 MiB) with fresh mmap() pages, so every new
    large tensor is page-faulted in at a fraction of memory bandwidth (a training step here:
    about 2x slower). On leaving, the freed memory is handed back and glibc's default limits
    are set again, so nothing stays changed in the caller's process. Yields False where it
    does not apply (not glibc)."""
    libc = _libc()
    ok = bool(libc and hasattr(libc, "mallopt"))
    if ok:
        ok = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    try:
        yield ok
    finally:
        if ok:
            libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)


@contextlib.contextmanager
def denormals_flushed() -> Iterator[bool]:
    """Inside the block, float results below the smallest normal number (1.2e-38 in float32)
    count as zero. CPUs compute with such denormal numbers many times slower, and a model's
    backward pass makes plenty (decayed sums most of all): a training step of HydraRec ran
    10 to 25% faster here. Off again after the block (torch's default). Yields False where
    the CPU cannot do it."""
    applied = torch.set_flush_denormal(True)
    try:
        yield applied
    finally:
        if applied:
            torch.set_flush_denormal(False)


def trim_freed_memory(fraction: float = 0.5) -> bool:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``) once this process holds
    more than ``fraction`` of the machine's RAM (0: always). Inside ``freed_memory_kept``
    nothing is ever returned otherwise. Returns True when it trimmed."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    if fraction > 0:
        rss, total = proc_status("VmRSS"), proc_status("MemTotal", "/proc/meminfo")
        if rss is None or total is None or rss < fraction * total:
            return False
    return bool(libc.malloc_trim(0))


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
    if device.type != "cpu" or proc_status("VmHWM") is None:
        return None
    trim_freed_memory(0.0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark to the current resident size
    except OSError:
        return None
    before = proc_status("VmRSS")
    fn()
    return max(0, proc_status("VmHWM") - before)


# ----------------------------------------------------------------------------- timing


def median(values: Sequence[float]) -> float:
    """The middle value (the upper one of the two middles for an even count)."""
    if not values:
        raise ValueError("median of no values")
    return sorted(values)[len(values) // 2]


def synchronize(device: torch.device) -> None:
    """Wait until the device has finished its queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


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
            synchronize(device)
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            times.append(time.perf_counter() - t0)
    return times


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run the block with ``n`` torch CPU threads (0: leave as is), then restore the count."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
