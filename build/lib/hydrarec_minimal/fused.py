"""Hydra attention as one fused C loop: what the roofline of chapter 4 says is possible.

Eager PyTorch runs Hydra as a chain of tensor operations (norm, divide, multiply, sum), and
each one is a pass over memory or, tiled, over the cache. Hydra needs only to read q, k and v
once and write the output once; a plain C loop over the tokens does exactly that, so it runs
at about the speed of the memory bus. This file holds that loop (float32, CPU, inference
only), compiles it with the system's C compiler on first use (cached under
``$HYDRAREC_CACHE``, default ``~/.cache/hydrarec``) and calls it through ``ctypes``.
``available()`` is False without a compiler; ``hydra_attention(method="auto")`` then keeps
the torch kernels, which compute the same thing.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from .shapes import check_qkv

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* 1 / max(||x||, eps) over one token's D features. */
static inline float inv_norm(const float *x, int64_t d, float eps) {
    float s = 0.f;
    #pragma omp simd reduction(+:s)
    for (int64_t j = 0; j < d; j++) s += x[j] * x[j];
    float n = sqrtf(s);
    return 1.f / (n > eps ? n : eps);
}

/* acc += phi(k_t) * v_t for the tokens [s, e) of batch row b (padded tokens skipped). */
static void add_kv(float *acc, const float *k, const float *v, const uint8_t *pad,
                   int64_t b, int64_t s, int64_t e, int64_t T, int64_t D, float eps) {
    for (int64_t t = s; t < e; t++) {
        if (pad && pad[b * T + t]) continue;
        const float *kt = k + (b * T + t) * D, *vt = v + (b * T + t) * D;
        float w = inv_norm(kt, D, eps);
        #pragma omp simd
        for (int64_t j = 0; j < D; j++) acc[j] += w * kt[j] * vt[j];
    }
}

/* Non-causal: kv_b = sum_t phi(k_t) * v_t (per-thread partial sums over time chunks),
   then out_t = phi(q_t) * kv_b. Reads k, v, q once; writes out once. Returns -1 when its
   scratch memory cannot be allocated (nothing written), else 0. */
int hydra(const float *q, const float *k, const float *v, const uint8_t *pad, float *out,
          int64_t B, int64_t T, int64_t D, float eps, int threads) {
    int64_t C = 4 * (int64_t)threads < T ? 4 * (int64_t)threads : T;
    float *part = calloc(B * C * D, sizeof(float));
    float *kv = calloc(B * D, sizeof(float));
    if (!part || !kv) { free(part); free(kv); return -1; }
    #pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            add_kv(part + (b * C + c) * D, k, v, pad, b, T * c / C, T * (c + 1) / C, T, D, eps);
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < D; j++) kv[b * D + j] += part[(b * C + c) * D + j];
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t r = 0; r < B * T; r++) {
        const float *qt = q + r * D, *kb = kv + (r / T) * D;
        float *ot = out + r * D;
        float w = inv_norm(qt, D, eps);
        #pragma omp simd
        for (int64_t j = 0; j < D; j++) ot[j] = w * qt[j] * kb[j];
    }
    free(part);
    free(kv);
    return 0;
}

/* Causal: out_t = phi(q_t) * sum_{s <= t} phi(k_s) * v_s, a running sum per batch row. With
   fewer rows than threads each row is cut into C time chunks: a first pass sums each chunk,
   and each chunk then starts from the sum of the chunks before it. Returns -1 when its
   scratch memory cannot be allocated (nothing written), else 0. */
int hydra_causal(const float *q, const float *k, const float *v, const uint8_t *pad,
                 float *out, int64_t B, int64_t T, int64_t D, float eps, int threads) {
    int64_t C = B >= threads ? 1 : (threads + B - 1) / B;
    if (C > T) C = T;
    float *carry = calloc(B * C * D, sizeof(float));
    if (!carry) return -1;
    if (C > 1) {
        #pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 1; c < C; c++)  /* carry[c] first holds chunk c - 1's sum */
                add_kv(carry + (b * C + c) * D, k, v, pad, b, T * (c - 1) / C, T * c / C,
                       T, D, eps);
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 2; c < C; c++)
                for (int64_t j = 0; j < D; j++)
                    carry[(b * C + c) * D + j] += carry[(b * C + c - 1) * D + j];
    }
    #pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            float *acc = carry + (b * C + c) * D;
            for (int64_t t = T * c / C; t < T * (c + 1) / C; t++) {
                add_kv(acc, k, v, pad, b, t, t + 1, T, D, eps);
                const float *qt = q + (b * T + t) * D;
                float *ot = out + (b * T + t) * D;
                float w = inv_norm(qt, D, eps);
                #pragma omp simd
                for (int64_t j = 0; j < D; j++) ot[j] = w * qt[j] * acc[j];
            }
        }
    free(carry);
    return 0;
}
"""

# Portable (no -march=native: the cache may be shared by machines); compilers without OpenMP
# (Apple's clang) get a second try without it, and the loops then run on one thread.
FLAGS = ["-O3", "-fopenmp", "-shared", "-fPIC"]


def cache_dir() -> Path:
    """Where the compiled library is kept: ``$HYDRAREC_CACHE`` or ``~/.cache/hydrarec``."""
    return Path(os.environ.get("HYDRAREC_CACHE") or Path.home() / ".cache" / "hydrarec")


def compiler() -> str | None:
    """The C compiler to use: ``$CC`` when set, else ``cc`` or ``gcc`` on the PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def compile_library(directory: Path | None = None) -> Path:
    """Compile ``SOURCE`` into a shared library (once: the file name hashes the source and
    flags) and return its path. Raises RuntimeError with the compiler's message on failure."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set $CC, or install gcc) for method='fused'")
    key = hashlib.sha256((SOURCE + " ".join(FLAGS)).encode()).hexdigest()[:16]
    directory = directory or cache_dir()
    lib = directory / f"hydra_fused_{key}.so"
    if lib.exists():
        return lib
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        src, so = Path(tmp) / "hydra_fused.c", Path(tmp) / "hydra_fused.so"
        src.write_text(SOURCE)
        for flags in (FLAGS, [f for f in FLAGS if f != "-fopenmp"]):  # no OpenMP: one thread
            run = subprocess.run([cc, *flags, str(src), "-o", str(so), "-lm"], capture_output=True)
            if run.returncode == 0:
                os.replace(so, lib)  # atomic: another process never sees a half-written library
                return lib
    raise RuntimeError(f"compiling the fused Hydra kernel failed:\n{run.stderr.decode()}")


@functools.cache
def _library() -> ctypes.CDLL | None:
    """The loaded library, or None when it cannot be built here (remembered per process)."""
    try:
        lib = ctypes.CDLL(str(compile_library()))
    except (RuntimeError, OSError):
        return None
    args = [ctypes.c_void_p] * 5 + [ctypes.c_int64] * 3 + [ctypes.c_float, ctypes.c_int]
    for fn in (lib.hydra, lib.hydra_causal):
        fn.argtypes, fn.restype = args, ctypes.c_int
    return lib


def available() -> bool:
    """True when the fused kernel compiled and loaded on this machine."""
    return _library() is not None


@torch.no_grad()
def hydra_fused(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    eps: float = 1e-6,
    out: Tensor | None = None,
) -> Tensor:
    """Hydra attention by the fused C loop: float32 CPU tensors, no autograd. Writes into
    ``out`` (contiguous, shaped like q) when given, as torch's ``out=`` arguments do."""
    check_qkv(q, k, v, key_padding_mask)  # the C loop trusts the shapes: check them first
    if q.device.type != "cpu" or q.dtype != torch.float32:
        raise ValueError(f"method='fused' needs float32 CPU tensors, got {q.dtype} on {q.device}")
    if out is not None and (
        out.shape != q.shape or out.dtype != q.dtype or not out.is_contiguous()
    ):
        raise ValueError(f"out must be a contiguous float32 tensor of shape {tuple(q.shape)}")
    lib = _library()
    if lib is None:
        raise RuntimeError("the fused kernel is not available here (no working C compiler)")
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    pad = None if key_padding_mask is None else key_padding_mask.to(torch.bool).contiguous()
    out = torch.empty_like(q) if out is None else out
    b, t, d = q.shape
    fn = lib.hydra_causal if causal else lib.hydra
    status = fn(q.data_ptr(), k.data_ptr(), v.data_ptr(), None if pad is None else pad.data_ptr(),
                out.data_ptr(), b, t, d, eps, torch.get_num_threads())  # fmt: skip
    if status != 0:
        raise MemoryError("the fused Hydra loop could not allocate its scratch memory")
    return out
