"""Tests for hydrarec_minimal/fused.py: the C loop equals the torch Hydra, builds, fails clearly."""

from __future__ import annotations

import pytest
import torch

from hydrarec_minimal import fused
from hydrarec_minimal.attention import hydra_attention

needs_kernel = pytest.mark.skipif(not fused.available(), reason="no C compiler here")


def qkv(b: int, t: int, d: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(b, t, d, generator=g) for _ in range(3))


@needs_kernel
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("b, t, d", [(1, 1, 1), (2, 37, 8), (1, 100, 5), (4, 513, 64), (3, 9, 256)])
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_fused_equals_the_formula(causal, b, t, d, threads):
    """Every shape, with padding, and thread counts that cut rows into time chunks (B < threads)
    and chunks of a single token (T < threads)."""
    q, k, v = qkv(b, t, d)
    mask = torch.rand(b, t, generator=torch.Generator().manual_seed(1)) < 0.3
    ref = hydra_attention(q.double(), k.double(), v.double(), causal, mask, method="simple")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = hydra_attention(q, k, v, causal, mask, method="fused")
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-5)


@needs_kernel
def test_fused_takes_non_contiguous_input_and_auto_uses_it():
    q, k, v = qkv(4, 1024, 128)
    qt = q.transpose(0, 1).contiguous().transpose(0, 1)  # same values, other strides
    torch.testing.assert_close(
        hydra_attention(qt, k, v, True, method="fused"),
        hydra_attention(q, k, v, True),
        atol=1e-5,
        rtol=1e-5,
    )
    with torch.no_grad():  # large float32 CPU inference: auto takes the fused loop
        assert torch.equal(hydra_attention(q, k, v), hydra_attention(q, k, v, method="fused"))


def test_fused_refuses_what_it_cannot_do():
    q, k, v = qkv(1, 4, 3)
    with pytest.raises(ValueError, match="float32 CPU"):
        fused.hydra_fused(q.double(), k.double(), v.double())
    with pytest.raises(ValueError, match="same shape"):  # wrong shapes never reach the C loop
        fused.hydra_fused(q, k[:, :3], v)
    with pytest.raises(ValueError, match="key_padding_mask"):
        fused.hydra_fused(q, k, v, key_padding_mask=torch.zeros(1, 5, dtype=torch.bool))
    q.requires_grad_(True)
    with pytest.raises(ValueError, match="no backward"):
        hydra_attention(q, k, v, method="fused")


def test_build_reports_a_failing_or_missing_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    monkeypatch.setattr(fused, "SOURCE", fused.SOURCE + "\n/* other source: no cached build */\n")
    with pytest.raises(RuntimeError, match="compiling the fused Hydra kernel failed"):
        fused.compile_library(tmp_path)
    assert not list(tmp_path.glob("*.so")), "a failed build leaves no library behind"
    monkeypatch.delenv("CC")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="no C compiler"):
        fused.compile_library(tmp_path)


@needs_kernel
def test_build_without_openmp_falls_back_to_one_thread(tmp_path, monkeypatch):
    """A compiler that rejects -fopenmp (Apple's clang) still builds the library."""
    wrapper = tmp_path / "cc-no-openmp"
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *-fopenmp*) exit 1;; esac\nexec {fused.compiler()} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setattr(fused, "SOURCE", fused.SOURCE + "\n/* no OpenMP */\n")
    lib = fused.compile_library(tmp_path / "cache")
    assert lib.exists() and lib.suffix == ".so"


@needs_kernel
def test_build_is_cached(tmp_path):
    first = fused.compile_library(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert fused.compile_library(tmp_path) == first and first.stat().st_mtime_ns == stamp


@needs_kernel
@pytest.mark.parametrize("causal", [False, True])
def test_fused_and_tiled_write_into_the_callers_buffer(causal):
    q, k, v = qkv(2, 300, 16)
    expected = hydra_attention(q, k, v, causal, method="simple")
    for method in ("fused", "tiled"):
        out = torch.full_like(q, float("nan"))
        got = hydra_attention(q, k, v, causal, method=method, out=out)
        assert got.data_ptr() == out.data_ptr()
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="contiguous"):
        fused.hydra_fused(q, k, v, out=torch.empty(2, 16, 300).transpose(1, 2))


@needs_kernel
def test_out_of_memory_in_the_c_loop_raises_instead_of_crashing():
    """The loop's scratch memory (calloc) is checked: run with an address-space limit just
    above what is already allocated, in a child process, and expect a MemoryError."""
    code = """
import resource, torch
from hydrarec_minimal import fused
torch.set_num_threads(1)
q = torch.randn(4096, 1, 4096)
out = torch.empty_like(q)
fused.hydra_fused(q, q, q, out=out)  # loads the library, allocates nothing large after
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used + 32 * 2**20, hard))
try:
    fused.hydra_fused(q, q, q, out=out)  # needs 64 MiB of scratch for B x D partial sums
except MemoryError as e:
    print("MemoryError:", e)
"""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "MemoryError: the fused Hydra loop could not allocate" in run.stdout
