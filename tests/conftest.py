"""Shared test helpers: a small synthetic data set with learnable order."""

from __future__ import annotations

import torch

from hydrarec_minimal.data import SequenceData, sequence_data

# ML-1M under the 5-rating filter in GroupLens's order (ties in ratings.dat's file order)
ML1M_FINGERPRINT = "1c0d25c60172984c1d8f3857a0ed12c24a63c674da021cde2c62816193ac8e10"


def synthetic(users: int = 200, items: int = 120, seed: int = 0) -> SequenceData:
    """Sequences with learnable structure: each user walks up the item ids from a random start."""
    g = torch.Generator().manual_seed(seed)
    raw = {}
    for u in range(users):
        start = int(torch.randint(1, items, (1,), generator=g))
        n = int(torch.randint(6, 20, (1,), generator=g))
        raw[u + 1] = [(start + i) % items + 1 for i in range(n)]
    return sequence_data("synthetic", raw, min_item_count=1)
