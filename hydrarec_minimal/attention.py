"""The attention family the book builds on: softmax, linear (elu + 1), Hydra, and Hydra
with forgetting.

Every function keeps the contract of ``shapes.check_qkv``: ``(batch, time, dim)`` tensors
``q, k, v`` in, a tensor shaped like ``v`` out; ``causal`` (position i sees positions <= i)
and ``key_padding_mask`` (True at padding; padded keys contribute nothing). A query that sees
no key at all (a padded position before the first real token under a causal mask) gets a
zero output. ``ATTENTIONS`` at the end is the one registry the model, the benchmarks and the
widgets read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from . import fused
from .shapes import allowed_keys, check_heads, check_qkv, merge_heads, split_heads, zero_padded

FeatureMap = Callable[[Tensor], Tensor]

# Tile size of the cache-tiled Hydra kernels, in tokens at D = 32 (scaled by 32 / D).
TILE_TOKENS = 8192
# Time-block size of the blocked prefix sum (the triangular matmul is CHUNK x CHUNK).
PREFIX_CHUNK = 32


# ----------------------------------------------------------------------------- softmax


def softmax_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    heads: int = 1,
) -> Tensor:
    """Scaled dot-product softmax attention from scratch: the O(T^2 D) reference."""
    check_qkv(q, k, v, key_padding_mask)
    b, t, d = q.shape
    check_heads(d, heads)
    qh, kh, vh = (split_heads(x, heads) for x in (q, k, v))
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(d // heads)  # (B, H, T, T)
    allowed = allowed_keys(b, t, causal, key_padding_mask, q.device)
    if allowed is not None:
        seen = allowed.any(-1, keepdim=True)  # queries that see at least one key
        scores = scores.masked_fill(~(allowed | ~seen), float("-inf"))
    out = scores.softmax(dim=-1) @ vh
    if allowed is not None:
        out = out.masked_fill(~seen, 0.0)
    return merge_heads(out)


def sdpa_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    heads: int = 1,
) -> Tensor:
    """Softmax attention by torch's fused ``scaled_dot_product_attention`` (same contract)."""
    check_qkv(q, k, v, key_padding_mask)
    b, t, d = q.shape
    check_heads(d, heads)
    qh, kh, vh = (split_heads(x, heads) for x in (q, k, v))
    if key_padding_mask is None:  # the fused kernels' fast path: no explicit mask
        return merge_heads(F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal))
    allowed = allowed_keys(b, t, causal, key_padding_mask, q.device)
    seen = allowed.any(-1, keepdim=True)
    out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=allowed | ~seen)
    return merge_heads(out.masked_fill(~seen, 0.0))


# ----------------------------------------------------------------------------- kernels


def elu_feature_map(x: Tensor) -> Tensor:
    """phi(x) = elu(x) + 1 (Katharopoulos et al. 2020): positive, so the normaliser is > 0."""
    return F.elu(x) + 1.0


def cosine_feature_map(x: Tensor, eps: float = 1e-6) -> Tensor:
    """phi(x) = x / ||x|| over the feature dimension (Hydra's cosine-similarity kernel)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


FEATURE_MAPS: dict[str, FeatureMap] = {"elu": elu_feature_map, "cosine": cosine_feature_map}


def kernel_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    heads: int = 1,
    feature_map: str | FeatureMap = "cosine",
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    normalize: bool = False,
    eps: float = 1e-6,
) -> Tensor:
    """Multi-head kernel attention, explicit O(T^2) einsum form: the reference for all kernels.

    The feature map is applied to the full D-vectors *before* splitting into H heads (as Hydra
    does); head h then computes sum_j (phi(q_i)_h . phi(k_j)_h) v_j,h over the keys it may see,
    divided by sum_j phi(q_i)_h . phi(k_j)_h when ``normalize`` (linear attention's normaliser).
    """
    check_qkv(q, k, v, key_padding_mask)
    b, t, d = q.shape
    check_heads(d, heads)
    phi = FEATURE_MAPS[feature_map] if isinstance(feature_map, str) else feature_map
    qh, kh, vh = split_heads(phi(q), heads), split_heads(phi(k), heads), split_heads(v, heads)
    scores = torch.einsum("bhid,bhjd->bhij", qh, kh)
    allowed = allowed_keys(b, t, causal, key_padding_mask, q.device)
    if allowed is not None:
        scores = scores * allowed
    out = torch.einsum("bhij,bhjd->bhid", scores, vh)
    if normalize:
        out = out / scores.sum(-1, keepdim=True).clamp_min(eps)
    return merge_heads(out)


def linear_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    heads: int = 1,
    eps: float = 1e-6,
    chunk: int = 64,
) -> Tensor:
    """Linear attention, phi = elu + 1, with the normaliser: O(T D^2 / H) instead of O(T^2 D).

    Non-causal: out_i = phi(q_i) S / phi(q_i) z with S = sum_j phi(k_j) v_j^T, z = sum_j phi(k_j).
    Causal: the same with S and z replaced by their prefix sums, computed chunk by chunk
    (exact prefix state between chunks, a small masked quadratic form inside a chunk).
    """
    check_qkv(q, k, v, key_padding_mask)
    b, t, d = q.shape
    check_heads(d, heads)
    kf = zero_padded(elu_feature_map(k), key_padding_mask)
    qh, kh, vh = (
        split_heads(elu_feature_map(q), heads),
        split_heads(kf, heads),
        split_heads(v, heads),
    )
    if not causal:
        s = kh.transpose(-2, -1) @ vh  # (B, H, d, d): sum_j phi(k_j) v_j^T
        z = kh.sum(dim=-2)  # (B, H, d)
        num = qh @ s
        den = (qh * z[..., None, :]).sum(-1, keepdim=True)
    else:
        num, den = causal_linear_chunked(qh, kh, vh, chunk)
    out = num / den.clamp_min(eps)
    if key_padding_mask is not None and causal:
        seen = (~key_padding_mask).cumsum(1) > 0  # (B, T): some real key at or before i
        out = out * split_heads(seen[..., None].to(out.dtype).expand(b, t, d), heads)
    return merge_heads(out)


def causal_linear_chunked(qh: Tensor, kh: Tensor, vh: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Causal numerator and normaliser of linear attention by chunked prefix sums over time."""
    b, h, t, dh = qh.shape
    c = max(1, min(chunk, t))
    pad = (-t) % c
    if pad:  # zero-padded tail keys add nothing; their query rows are dropped at the end
        qh, kh, vh = (F.pad(x, (0, 0, 0, pad)) for x in (qh, kh, vh))
    n = (t + pad) // c
    qc, kc, vc = (x.reshape(b, h, n, c, dh) for x in (qh, kh, vh))
    kv = kc.transpose(-2, -1) @ vc  # (B, H, n, d, d): each chunk's sum of phi(k) v^T
    state = kv.cumsum(2) - kv  # exclusive: the state entering each chunk
    zsum = kc.sum(-2)
    zstate = zsum.cumsum(2) - zsum  # (B, H, n, d)
    local = (qc @ kc.transpose(-2, -1)).tril()  # (B, H, n, c, c): within-chunk, causal
    num = qc @ state + local @ vc
    den = (qc * zstate[..., None, :]).sum(-1, keepdim=True) + local.sum(-1, keepdim=True)
    num = num.reshape(b, h, n * c, dh)[:, :, :t]
    den = den.reshape(b, h, n * c, 1)[:, :, :t]
    return num, den


# ----------------------------------------------------------------------------- Hydra

HYDRA_METHODS = ("auto", "simple", "chunked", "tiled", "fused")
HydraMethod = Literal["auto", "simple", "chunked", "tiled", "fused"]


def hydra_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    method: HydraMethod = "auto",
    eps: float = 1e-6,
    mean: bool = False,
    out: Tensor | None = None,
) -> Tensor:
    """Hydra attention (Bolya et al. 2022): H = D heads, cosine kernel, O(T D).

    out = phi(q) * sum_t phi(k)_t * v_t, elementwise, with phi(x) = x / ||x||; causal: the
    sum runs over t <= i, a prefix sum over time. Methods (equal up to rounding):
    ``simple`` (the formula; causal by ``torch.cumsum``, what training uses), ``chunked``
    (causal only: blocked prefix sum by small triangular matmuls), ``tiled`` (cache-sized
    token tiles into preallocated buffers; inference only, no autograd), ``fused`` (one C
    loop, ``fused.py``: float32 CPU inference only, needs a C compiler). ``auto`` takes
    ``fused`` (else ``tiled``) for large CPU inputs that need no gradient, else ``simple``.
    ``mean=True`` divides each row by the number of keys it sums (a running mean when causal),
    so the output's scale does not grow with the position: a variant, not in the paper.
    ``out``: a tensor shaped like q to write the result into (inference only), as torch ops do.
    """
    check_qkv(q, k, v, key_padding_mask)
    if out is not None and _needs_grad(q, k, v):
        raise ValueError("out= has no backward pass; leave it None when training")
    if method not in HYDRA_METHODS:
        raise ValueError(f"unknown Hydra method {method!r}; choose one of {HYDRA_METHODS}")
    if method == "auto":
        big_cpu = q.device.type == "cpu" and q.numel() >= 1 << 18  # tiling is a CPU-cache trick
        method = "tiled" if big_cpu and not _needs_grad(q, k, v) else "simple"
        if method == "tiled" and q.dtype == torch.float32 and fused.available():
            method = "fused"
    if method == "chunked" and not causal:
        raise ValueError("method='chunked' is a causal prefix sum; use causal=True")
    if method in ("tiled", "fused"):
        if _needs_grad(q, k, v):
            raise ValueError(f"method={method!r} has no backward pass; use 'simple' when training")
        if method == "fused":
            y = fused.hydra_fused(q, k, v, causal, key_padding_mask, eps, out=out)
        else:
            tiled = _hydra_causal_tiled if causal else _hydra_tiled
            y = tiled(q, k, v, key_padding_mask, eps, out)
    else:
        kv = zero_padded(cosine_feature_map(k, eps) * v, key_padding_mask)  # (B, T, D)
        if not causal:
            y = cosine_feature_map(q, eps) * kv.sum(dim=1, keepdim=True)
        else:
            prefix = blocked_prefix_sum(kv) if method == "chunked" else kv.cumsum(dim=1)
            y = cosine_feature_map(q, eps) * prefix
        y = y if out is None else out.copy_(y)
    if not mean:
        return y
    n = keys_summed(key_padding_mask, y, causal)[..., None]
    return y / n if out is None else y.div_(n)


def keys_summed(key_padding_mask: Tensor | None, like: Tensor, causal: bool) -> Tensor:
    """(B, T): how many non-padded keys each query row sums over (at least 1)."""
    b, t = like.shape[:2]
    real = torch.ones(b, t, device=like.device, dtype=like.dtype)
    if key_padding_mask is not None:
        real = real.masked_fill(key_padding_mask, 0.0)
    n = real.cumsum(1) if causal else real.sum(1, keepdim=True).expand(b, t)
    return n.clamp_min(1.0)


def _needs_grad(*xs: Tensor) -> bool:
    """True when autograd will record an operation on any of ``xs``."""
    return torch.is_grad_enabled() and any(x.requires_grad for x in xs)


def blocked_prefix_sum(x: Tensor, chunk: int = PREFIX_CHUNK) -> Tensor:
    """Inclusive prefix sum of (B, T, D) over time, chunk by chunk: a small lower-triangular
    matmul inside each chunk plus the carried sum of all earlier chunks (differentiable)."""
    b, t, d = x.shape
    c = max(1, min(chunk, t))
    pad = (-t) % c
    xp = F.pad(x, (0, 0, 0, pad)) if pad else x
    n = (t + pad) // c
    tri = torch.ones(c, c, dtype=x.dtype, device=x.device).tril()
    local = tri @ xp.reshape(b, n, c, d)  # (B, n, c, D): prefix sums inside each chunk
    totals = local[:, :, -1, :]  # (B, n, D)
    carry = totals.cumsum(dim=1) - totals  # exclusive: everything before each chunk
    out = (local + carry[:, :, None, :]).reshape(b, n * c, d)
    return out[:, :t] if pad else out


def scan_(x: Tensor, chunk: int = 16) -> Tensor:
    """In-place inclusive prefix sum of (B, T, D) over time by a two-level scan: a sequential
    pass over the positions inside each chunk (each step one wide vector add over all chunks),
    then the chunk totals scanned recursively and added back. Fast on cache-resident tiles."""
    b, t, d = x.shape
    n = t // chunk
    if n <= 1:
        for i in range(1, t):
            x[:, i].add_(x[:, i - 1])
        return x
    head = x[:, : n * chunk].view(b, n, chunk, d)
    for i in range(1, chunk):
        head[:, :, i].add_(head[:, :, i - 1])
    totals = scan_(head[:, :, -1].clone(), chunk)  # (B, n, D) inclusive
    head[:, 1:].add_(totals[:, :-1, None])
    tail = x[:, n * chunk :]
    if tail.shape[1]:
        tail[:, :1].add_(totals[:, -1:])
        scan_(tail, chunk)
    return x


def _tile_tokens(d: int) -> int:
    """Tokens per tile so that one tile of one batch row is about 1 MiB of float32."""
    return max(64, (TILE_TOKENS * 32) // d)


def _inv_norm_(x: Tensor, out: Tensor, eps: float) -> Tensor:
    """Write 1 / max(||x||, eps) over the last dimension of x into ``out`` (B, T, 1)."""
    torch.linalg.vector_norm(x, dim=-1, keepdim=True, out=out)
    return out.clamp_(min=eps).reciprocal_()


@torch.no_grad()
def _hydra_tiled(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    key_padding_mask: Tensor | None,
    eps: float,
    out: Tensor | None = None,
) -> Tensor:
    """Non-causal Hydra in two passes over cache-sized token tiles, preallocated buffers.

    Each tile's intermediates stay in cache, so main memory sees about the minimal traffic:
    read k and v once (pass 1, the global sum), read q and write the output once (pass 2).
    """
    b, t, d = q.shape
    tile = min(t, _tile_tokens(d))
    out = torch.empty_like(q) if out is None else out
    kv_sum = torch.zeros(b, 1, d, dtype=q.dtype, device=q.device)
    buf = torch.empty(b, tile, d, dtype=q.dtype, device=q.device)
    inv = torch.empty(b, tile, 1, dtype=q.dtype, device=q.device)
    for s in range(0, t, tile):  # pass 1: kv_sum = sum_t phi(k)_t * v_t
        e = min(t, s + tile)
        w = _inv_norm_(k[:, s:e], inv[:, : e - s], eps)
        if key_padding_mask is not None:
            w.masked_fill_(key_padding_mask[:, s:e, None], 0.0)  # padded keys add nothing
        bb = torch.mul(k[:, s:e], v[:, s:e], out=buf[:, : e - s])
        kv_sum.baddbmm_(w.transpose(1, 2), bb)  # (B, 1, tile) @ (B, tile, D)
    for s in range(0, t, tile):  # pass 2: out = phi(q) * kv_sum
        e = min(t, s + tile)
        w = _inv_norm_(q[:, s:e], inv[:, : e - s], eps)
        torch.mul(q[:, s:e], w, out=out[:, s:e]).mul_(kv_sum)
    return out


@torch.no_grad()
def _hydra_causal_tiled(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    key_padding_mask: Tensor | None,
    eps: float,
    out: Tensor | None = None,
) -> Tensor:
    """Causal Hydra in one pass over cache-sized time tiles: phi(k) * v, an in-cache prefix
    sum (``scan_``) plus the running total carried from the previous tile, times phi(q)."""
    b, t, d = q.shape
    tile = min(t, _tile_tokens(d))
    out = torch.empty_like(q) if out is None else out
    carry = torch.zeros(b, 1, d, dtype=q.dtype, device=q.device)
    buf = torch.empty(b, tile, d, dtype=q.dtype, device=q.device)
    inv = torch.empty(b, tile, 1, dtype=q.dtype, device=q.device)
    for s in range(0, t, tile):
        e = min(t, s + tile)
        w = _inv_norm_(k[:, s:e], inv[:, : e - s], eps)
        if key_padding_mask is not None:
            w.masked_fill_(key_padding_mask[:, s:e, None], 0.0)
        x = torch.mul(k[:, s:e], w, out=buf[:, : e - s]).mul_(v[:, s:e])
        x[:, :1].add_(carry)
        scan_(x)
        carry.copy_(x[:, -1:])
        w = _inv_norm_(q[:, s:e], inv[:, : e - s], eps)
        torch.mul(q[:, s:e], w, out=out[:, s:e]).mul_(x)
    return out


# ------------------------------------------------------------------- Hydra with forgetting

# Largest time block of the decayed prefix sum: a loop of this many steps inside the blocks,
# each over every block at once, then one small step per block to carry the states across
# (8 was fastest on 2 CPU threads at lengths 200 and 2,000).
DECAY_CHUNK = 8


def default_log_decay(d: int, shortest: float = 1.0, longest: float = 256.0) -> Tensor:
    """(d,) log decay rates whose half-lives run log-spaced from ``shortest`` to ``longest``
    positions over the d features: some features forget within a film, others keep hundreds."""
    half_lives = torch.logspace(math.log10(shortest), math.log10(longest), d, dtype=torch.float64)
    return (-math.log(2.0) / half_lives).float()


def decayed_prefix_sum(
    x: Tensor, log_decay: Tensor, chunk: int = DECAY_CHUNK, reverse: bool = False
) -> Tensor:
    """S_t = g * S_{t-1} + x_t over time for (B, T, D) x, per feature g = exp(log_decay) (D,),
    differentiable in x and log_decay (``DecayedPrefixSum``: the gradient is one more scan).
    ``reverse``: the same from the end (S_t = g * S_{t+1} + x_t), for a bidirectional model."""
    if reverse:
        return decayed_prefix_sum(x.flip(1), log_decay, chunk).flip(1)
    return DecayedPrefixSum.apply(x, log_decay, chunk)


def decayed_scan(x: Tensor, log_decay: Tensor, chunk: int = DECAY_CHUNK) -> Tensor:
    """The decayed prefix sum in blocks of ``chunk`` positions: two short loops instead of one
    of T steps. ``chunk`` steps of the recurrence inside every block at once; then T / chunk
    steps carrying the state from block to block (``carried_states``), each block's entering
    state decayed to each of its positions. About 2 sqrt(T) small steps, O(T D) work."""
    b, t, d = x.shape
    n = -(-t // max(1, chunk))  # blocks, then the block size that needs the least padding
    c = -(-t // n)
    pad = n * c - t  # zeros after the end change no earlier sum
    local = (F.pad(x, (0, 0, 0, pad)) if pad else x.clone()).reshape(b, n, c, d)
    g = torch.exp(log_decay)
    for i in range(1, c):  # the recurrence inside every block at once
        local[:, :, i].addcmul_(local[:, :, i - 1], g)
    if n > 1:
        entering = carried_states(local[:, :, -1], log_decay, c)  # (B, n, D)
        j = torch.arange(1, c + 1, device=x.device, dtype=log_decay.dtype)[:, None]
        local.addcmul_(entering[:, :, None, :], torch.exp(j * log_decay))  # g^(i + 1)
    out = local.reshape(b, n * c, d)
    return out[:, :t] if pad else out


class DecayedPrefixSum(torch.autograd.Function):
    """``decayed_scan`` with its gradient in closed form, a few passes over memory instead of
    autograd's record of every step: with G_t = dL/dS_t summed over every later output
    (G_t = grad_t + g * G_{t+1}, the same scan run backwards), dL/dx_t = G_t and
    dL/dlog g = g * sum_t G_t * S_{t-1}."""

    @staticmethod
    def forward(ctx, x: Tensor, log_decay: Tensor, chunk: int) -> Tensor:
        """The scan; keeps its output and the decays for the backward pass."""
        s = decayed_scan(x, log_decay, chunk)
        ctx.save_for_backward(s, log_decay)
        ctx.chunk = chunk
        return s

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        """One reverse scan of the incoming gradient, and one reduction for the decays."""
        s, log_decay = ctx.saved_tensors
        g = decayed_scan(grad.flip(1), log_decay, ctx.chunk).flip(1)
        grad_decay = None
        if ctx.needs_input_grad[1]:
            inner = (g[:, 1:] * s[:, :-1]).sum((0, 1))  # (einsum is 10x slower here)
            grad_decay = torch.exp(log_decay) * inner
        return g, grad_decay, None


def carried_states(ends: Tensor, log_decay: Tensor, c: int) -> Tensor:
    """(B, n, D) state entering each block of c positions, from the blocks' own sums: the
    recurrence once more, one step per block (n steps on (B, D) slices, small enough to run
    without waking other threads: a batched matmul of decay powers was 10x slower here)."""
    g_c = torch.exp(c * log_decay)
    states, s = torch.empty_like(ends), torch.zeros_like(ends[:, 0])
    for m in range(ends.shape[1]):
        states[:, m] = s
        s = torch.addcmul(ends[:, m], s, g_c)
    return states


def decayed_hydra_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = True,
    key_padding_mask: Tensor | None = None,
    log_decay: Tensor | None = None,
    mean: bool = False,
    eps: float = 1e-6,
) -> Tensor:
    """Hydra with forgetting: out_i = phi(q_i) * S_i, S_i = g * S_{i-1} + phi(k_i) * v_i.

    Each feature d keeps its own decay g_d in (0, 1) (``log_decay``, (D,); default: half-lives
    log-spaced from 1 to 256 positions), so a key j contributes with weight g_d ** (i - j): the
    last films count most. g = 1 gives Hydra's running sum back. Not causal: a forward and a
    backward decayed sum (the key at i itself counted once). ``mean``: divide by the decayed
    number of keys summed. Sums run in float32 whatever the autocast. O(T D C) time for chunks
    of C positions, O(D) state per sequence (see ``decayed_hydra_step``).
    """
    check_qkv(q, k, v, key_padding_mask)
    d = q.shape[-1]
    if log_decay is None:
        log_decay = default_log_decay(d).to(q.device)
    if log_decay.shape != (d,):
        got = tuple(log_decay.shape)
        raise ValueError(f"log_decay must be ({d},), one rate per feature, got {got}")
    work = torch.promote_types(q.dtype, torch.float32)  # half precision sums in float32
    with torch.autocast(q.device.type, enabled=False):
        ld = log_decay.to(work)
        kv = zero_padded(cosine_feature_map(k.to(work), eps) * v.to(work), key_padding_mask)
        s = _decayed_both_ways(kv, ld, causal)
        out = cosine_feature_map(q.to(work), eps) * s
        if mean:
            real = torch.ones_like(kv[..., :1]).expand_as(kv)
            real = zero_padded(real, key_padding_mask)
            out = out / _decayed_both_ways(real, ld, causal).clamp_min(1.0)
    return out.to(q.dtype)


def _decayed_both_ways(x: Tensor, log_decay: Tensor, causal: bool) -> Tensor:
    """The forward decayed sum, plus (not causal) the backward one without counting x twice."""
    s = decayed_prefix_sum(x, log_decay)
    return s if causal else s + decayed_prefix_sum(x, log_decay, reverse=True) - x


def decayed_hydra_step(
    state: Tensor, q: Tensor, k: Tensor, v: Tensor, log_decay: Tensor, eps: float = 1e-6
) -> tuple[Tensor, Tensor]:
    """One new position of causal decayed Hydra: (B, D) state and (B, D) q, k, v in, the new
    state and the output out. O(D) work and memory whatever the history's length."""
    state = torch.exp(log_decay) * state + cosine_feature_map(k, eps) * v
    return state, cosine_feature_map(q, eps) * state


# ----------------------------------------------------------------------------- registry

ATTENTIONS: dict[str, Callable[..., Tensor]] = {
    "softmax": softmax_attention,
    "sdpa": sdpa_attention,
    "linear": linear_attention,
    "hydra": hydra_attention,
    "hydra_decay": decayed_hydra_attention,
}
