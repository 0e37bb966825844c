"""Tests for hydrarec_minimal/shapes.py: the q/k/v contract and the head and mask helpers."""

from __future__ import annotations

import pytest
import torch

from hydrarec_minimal import shapes as S


def test_split_and_merge_heads_are_inverse():
    x = torch.randn(2, 5, 12)
    h = S.split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    assert torch.equal(h[:, 1], x[..., 4:8])  # head 1 sees features 4..7
    assert torch.equal(S.merge_heads(h), x)
    with pytest.raises(ValueError, match="divisor"):
        S.check_heads(12, 5)


def test_allowed_keys_combines_causality_and_padding():
    pad = torch.tensor([[True, False, False]])
    allowed = S.allowed_keys(1, 3, True, pad, torch.device("cpu"))
    assert allowed[0, 0].tolist() == [
        [False, False, False],
        [False, True, False],
        [False, True, True],
    ]
    assert S.allowed_keys(1, 3, False, None, torch.device("cpu")) is None


def test_zero_padded_zeroes_only_padded_rows():
    x = torch.ones(1, 3, 2)
    out = S.zero_padded(x, torch.tensor([[True, False, False]]))
    assert out[0, 0].abs().sum() == 0 and out[0, 1:].sum() == 4
    assert S.zero_padded(x, None) is x


def test_check_qkv_names_the_shapes():
    q = torch.randn(1, 4, 2)
    with pytest.raises(ValueError, match=r"q \(1, 4, 2\), k \(1, 3, 2\)"):
        S.check_qkv(q, q[:, :3], q)
