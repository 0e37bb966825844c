"""The q/k/v contract every attention in the package keeps, and the small shape helpers.

Every attention takes ``(batch, time, dim)`` tensors ``q, k, v`` and an optional
``key_padding_mask`` (bool ``(batch, time)``, True where the position is padding, PyTorch's
convention), and returns a tensor shaped like ``v``. ``check_qkv`` refuses anything else with
a message that names the shapes; the C loop in ``fused`` relies on it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_qkv(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> None:
    """Raise a ValueError naming the shapes when q, k, v or the mask do not fit together."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3:
            raise ValueError(f"{name} must be (batch, time, dim), got shape {tuple(x.shape)}")
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if q.shape != k.shape or k.shape != v.shape:
        raise ValueError(f"q, k and v must have the same shape (no broadcasting), got {shapes}")
    if q.shape[0] == 0 or q.shape[1] == 0 or q.shape[2] == 0:
        raise ValueError(f"empty input: batch, time and dim must all be >= 1, got {shapes}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v dtypes differ: {q.dtype}, {k.dtype}, {v.dtype} ({shapes})")
    if not q.is_floating_point():
        raise ValueError(f"q, k, v must be floating point, got {q.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v devices differ: {q.device}, {k.device}, {v.device}")
    if key_padding_mask is not None:
        m = key_padding_mask
        if not isinstance(m, Tensor) or m.dtype != torch.bool:
            got = m.dtype if isinstance(m, Tensor) else type(m).__name__
            raise ValueError(f"key_padding_mask must be a bool tensor, got {got}")
        if tuple(m.shape) != tuple(q.shape[:2]):
            raise ValueError(
                f"key_padding_mask must be (batch, time) = {tuple(q.shape[:2])}, "
                f"got {tuple(m.shape)} ({shapes})"
            )
        if m.device != q.device:
            raise ValueError(f"key_padding_mask is on {m.device}, q is on {q.device}")


def check_heads(dim: int, heads: int) -> None:
    """Raise a ValueError unless ``heads`` divides the feature dimension."""
    if heads < 1 or dim % heads != 0:
        raise ValueError(f"heads must be a positive divisor of dim={dim}, got heads={heads}")


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, T, D) -> (B, H, T, D/H): each head sees a contiguous slice of the features."""
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D/H) -> (B, T, D), the inverse of ``split_heads``."""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


def allowed_keys(
    batch: int, time: int, causal: bool, key_padding_mask: Tensor | None, device: torch.device
) -> Tensor | None:
    """Bool (B, 1, T, T) or (1, 1, T, T): True where query i may look at key j; None = all."""
    allowed = None
    if causal:
        allowed = torch.ones(time, time, dtype=torch.bool, device=device).tril()[None, None]
    if key_padding_mask is not None:
        keys = ~key_padding_mask[:, None, None, :]
        allowed = keys if allowed is None else allowed & keys
    return allowed


def zero_padded(x: Tensor, key_padding_mask: Tensor | None) -> Tensor:
    """Zero the rows of (B, T, D) x at padded positions, so they add nothing to any sum."""
    return x if key_padding_mask is None else x.masked_fill(key_padding_mask[..., None], 0.0)
