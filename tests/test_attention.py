"""Tests for hydrarec_minimal/attention.py: every identity the book relies on."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrarec_minimal import attention as A
from hydrarec_minimal.attention import (
    ATTENTIONS,
    blocked_prefix_sum,
    check_qkv,
    cosine_feature_map,
    hydra_attention,
    kernel_attention,
    linear_attention,
    scan_,
    sdpa_attention,
    softmax_attention,
)

ALL = list(ATTENTIONS.values())


def qkv(b=2, t=7, d=8, dtype=torch.float64, seed=0, requires_grad=False):
    """Three random (b, t, d) tensors from a fixed seed."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(b, t, d, generator=g, dtype=dtype).requires_grad_(requires_grad)
        for _ in range(3)
    ]


def pad_mask(b, t, seed=1, left=True):
    """A padding mask with a different number of padded positions per row (never all)."""
    g = torch.Generator().manual_seed(seed)
    n_pad = torch.randint(0, t, (b,), generator=g)
    pos = torch.arange(t)[None, :]
    return pos < n_pad[:, None] if left else pos >= (t - n_pad[:, None])


# ----------------------------------------------------------------------------- Hydra = H = D


@pytest.mark.parametrize("causal", [False, True])
def test_hydra_is_multihead_kernel_attention_at_h_equals_d(causal):
    q, k, v = qkv(d=16)
    ref = kernel_attention(q, k, v, heads=16, feature_map="cosine", causal=causal)
    torch.testing.assert_close(hydra_attention(q, k, v, causal=causal), ref, rtol=0, atol=1e-12)
    q, k, v = (x.float() for x in (q, k, v))
    ref = kernel_attention(q, k, v, heads=16, feature_map="cosine", causal=causal)
    torch.testing.assert_close(hydra_attention(q, k, v, causal=causal), ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("heads", [1, 2, 8])
def test_hydra_differs_from_fewer_heads(heads):
    q, k, v = qkv(d=16)
    other = kernel_attention(q, k, v, heads=heads, feature_map="cosine")
    assert (hydra_attention(q, k, v) - other).abs().max() > 1e-3


def test_hydra_formula_by_hand():
    q, k, v = qkv(b=1, t=3, d=4)
    qn = q / q.norm(dim=-1, keepdim=True)
    kn = k / k.norm(dim=-1, keepdim=True)
    expected = qn * (kn * v).sum(dim=1, keepdim=True)
    torch.testing.assert_close(hydra_attention(q, k, v), expected)
    expected_causal = torch.stack(
        [qn[0, i] * (kn[0, : i + 1] * v[0, : i + 1]).sum(0) for i in range(3)]
    )
    torch.testing.assert_close(hydra_attention(q, k, v, causal=True)[0], expected_causal)


# ----------------------------------------------------------------------------- causality


@pytest.mark.parametrize("fn", ALL, ids=list(ATTENTIONS))
def test_causal_output_ignores_the_future(fn):
    q, k, v = qkv(t=9, d=8)
    cut = 5
    out = fn(q, k, v, causal=True)
    q2, k2, v2 = (x.clone() for x in (q, k, v))
    for x in (q2, k2, v2):
        x[:, cut:] = torch.randn_like(x[:, cut:]) * 10
    out2 = fn(q2, k2, v2, causal=True)
    torch.testing.assert_close(out[:, :cut], out2[:, :cut])
    assert (out[:, cut:] - out2[:, cut:]).abs().max() > 1e-6  # the future does matter later


@pytest.mark.parametrize("method", ["simple", "chunked", "tiled"])
def test_causal_hydra_equals_explicit_masked_quadratic_form(method):
    q, k, v = qkv(b=3, t=70, d=6)
    mask = pad_mask(3, 70)
    explicit = kernel_attention(q, k, v, heads=6, causal=True, key_padding_mask=mask)
    out = hydra_attention(q, k, v, causal=True, key_padding_mask=mask, method=method)
    torch.testing.assert_close(out, explicit, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["simple", "chunked", "tiled"])
@pytest.mark.parametrize("causal", [False, True])
def test_hydra_mean_is_the_sum_divided_by_the_keys_summed(method, causal):
    if method == "chunked" and not causal:
        pytest.skip("chunked is causal only")
    q, k, v = qkv(b=3, t=40, d=6)
    mask = pad_mask(3, 40)
    kv = (cosine_feature_map(k) * v).masked_fill(mask[..., None], 0.0)
    real = (~mask).double()
    if causal:  # row i averages phi(k_j) v_j over its real keys j <= i
        n = real.cumsum(1)
        expected = cosine_feature_map(q) * kv.cumsum(1) / n.clamp_min(1)[..., None]
    else:
        n = real.sum(1, keepdim=True)
        expected = cosine_feature_map(q) * kv.sum(1, keepdim=True) / n[..., None]
    out = hydra_attention(q, k, v, causal, mask, method=method, mean=True)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    # the scale no longer grows with the number of keys: repeating a sequence changes nothing
    q1, k1, v1 = qkv(b=1, t=5, d=6)
    one = hydra_attention(q1, k1, v1, mean=True)
    twice = hydra_attention(q1.repeat(1, 2, 1), k1.repeat(1, 2, 1), v1.repeat(1, 2, 1), mean=True)
    torch.testing.assert_close(twice[:, :5], one)


@pytest.mark.parametrize("t", [1, 2, 31, 32, 33, 100, 1000])
def test_blocked_prefix_sums_equal_cumsum(t):
    x = torch.randn(2, t, 5, dtype=torch.float64)
    torch.testing.assert_close(blocked_prefix_sum(x), x.cumsum(1))
    torch.testing.assert_close(blocked_prefix_sum(x, chunk=7), x.cumsum(1))
    torch.testing.assert_close(scan_(x.clone()), x.cumsum(1))
    torch.testing.assert_close(scan_(x.clone(), chunk=3), x.cumsum(1))


@pytest.mark.parametrize("causal", [False, True])
def test_tiled_hydra_equals_simple_over_many_tiles(causal, monkeypatch):
    import hydrarec_minimal.attention as att

    monkeypatch.setattr(att, "TILE_TOKENS", 16)  # 16 * 32 / 8 = 64 tokens per tile: 5 tiles
    q, k, v = qkv(b=2, t=300, d=8)
    mask = pad_mask(2, 300)
    simple = hydra_attention(q, k, v, causal=causal, key_padding_mask=mask, method="simple")
    tiled = hydra_attention(q, k, v, causal=causal, key_padding_mask=mask, method="tiled")
    torch.testing.assert_close(tiled, simple, rtol=0, atol=1e-11)


def test_tiled_refuses_autograd():
    q, k, v = qkv(requires_grad=True)
    with pytest.raises(ValueError, match="no backward"):
        hydra_attention(q, k, v, method="tiled")


# ----------------------------------------------------------------------------- padding


@pytest.mark.parametrize("fn", ALL, ids=list(ATTENTIONS))
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("left", [True, False])
def test_padded_tokens_change_nothing_at_real_positions(fn, causal, left):
    q, k, v = qkv(b=4, t=10, d=8)
    mask = pad_mask(4, 10, left=left)
    out = fn(q, k, v, causal=causal, key_padding_mask=mask)
    q2, k2, v2 = (x.clone() for x in (q, k, v))
    for x in (q2, k2, v2):
        x[mask] = torch.randn_like(x[mask]) * 100
    out2 = fn(q2, k2, v2, causal=causal, key_padding_mask=mask)
    torch.testing.assert_close(out[~mask], out2[~mask])
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("fn", ALL, ids=list(ATTENTIONS))
def test_mask_of_nothing_equals_no_mask(fn):
    q, k, v = qkv()
    none = torch.zeros(2, 7, dtype=torch.bool)
    torch.testing.assert_close(fn(q, k, v, key_padding_mask=none), fn(q, k, v))
    torch.testing.assert_close(
        fn(q, k, v, causal=True, key_padding_mask=none), fn(q, k, v, causal=True)
    )


def test_padded_query_that_sees_no_key_gets_zero():
    q, k, v = qkv(b=1, t=4)
    mask = torch.tensor([[True, True, False, False]])
    for fn in ALL:
        out = fn(q, k, v, causal=True, key_padding_mask=mask)
        assert out[0, :2].abs().max() == 0, fn.__name__


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("causal", [False, True])
def test_softmax_from_scratch_equals_sdpa(heads, causal):
    q, k, v = qkv(b=3, t=11, d=8)
    mask = pad_mask(3, 11)
    for m in (None, mask):
        a = softmax_attention(q, k, v, causal=causal, key_padding_mask=m, heads=heads)
        b = sdpa_attention(q, k, v, causal=causal, key_padding_mask=m, heads=heads)
        torch.testing.assert_close(a, b)


def test_softmax_by_hand():
    q, k, v = qkv(b=1, t=3, d=2)
    w = torch.softmax(q[0] @ k[0].T / 2**0.5, dim=-1)
    torch.testing.assert_close(softmax_attention(q, k, v)[0], w @ v[0])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("heads", [1, 4])
def test_linear_attention_equals_normalised_quadratic_form(causal, heads):
    q, k, v = qkv(b=2, t=50, d=8)
    mask = pad_mask(2, 50)
    ref = kernel_attention(
        q,
        k,
        v,
        heads=heads,
        feature_map="elu",
        causal=causal,
        key_padding_mask=mask,
        normalize=True,
    )
    out = linear_attention(q, k, v, causal=causal, key_padding_mask=mask, heads=heads, chunk=16)
    torch.testing.assert_close(out, ref)


def test_associativity_is_what_makes_it_linear():
    q, k, v = qkv(b=1, t=20, d=4)
    torch.testing.assert_close((q @ k.transpose(1, 2)) @ v, q @ (k.transpose(1, 2) @ v))


def test_cosine_feature_map_has_unit_norm():
    x = torch.randn(3, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(
        cosine_feature_map(x).norm(dim=-1), torch.ones(3, 5, dtype=torch.float64)
    )
    assert torch.isfinite(cosine_feature_map(torch.zeros(1, 1, 4))).all()


# ----------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("fn", ALL, ids=list(ATTENTIONS))
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 8), (1, 5, 1), (3, 1, 4)])
@pytest.mark.parametrize("causal", [False, True])
def test_tiny_shapes(fn, shape, causal):
    q, k, v = qkv(*shape)
    out = fn(q, k, v, causal=causal)
    assert out.shape == shape and torch.isfinite(out).all()
    if shape[1] == 1 and fn is softmax_attention:  # one key: softmax weight is exactly 1
        torch.testing.assert_close(out, v)


@pytest.mark.parametrize("fn", ALL, ids=list(ATTENTIONS))
@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_float64(fn, causal):
    q, k, v = qkv(b=1, t=5, d=4, requires_grad=True)
    mask = torch.tensor([[True, False, False, False, False]])
    assert torch.autograd.gradcheck(lambda a, b, c: fn(a, b, c, causal=causal), (q, k, v))
    assert torch.autograd.gradcheck(
        lambda a, b, c: fn(a, b, c, causal=causal, key_padding_mask=mask), (q, k, v)
    )


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn", ALL, ids=list(ATTENTIONS))
def test_bad_inputs_raise_value_errors_naming_shapes(fn):
    q, k, v = qkv(b=2, t=7, d=8)
    with pytest.raises(ValueError, match=r"\(2, 6, 8\)"):
        fn(q, k[:, :6], v)
    with pytest.raises(ValueError, match=r"\(2, 7, 8\)"):
        fn(q, k, v[:1])
    with pytest.raises(ValueError, match="dtypes differ"):
        fn(q, k.float(), v)
    with pytest.raises(ValueError, match="batch, time, dim"):
        fn(q[0], k[0], v[0])
    with pytest.raises(ValueError, match="empty input"):
        fn(q[:, :0], k[:, :0], v[:, :0])
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(batch, time\)"):
        fn(q, k, v, key_padding_mask=torch.zeros(2, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        fn(q, k, v, key_padding_mask=torch.zeros(2, 7))


def test_bad_heads_and_methods():
    q, k, v = qkv(d=6)
    with pytest.raises(ValueError, match="heads"):
        softmax_attention(q, k, v, heads=4)
    with pytest.raises(ValueError, match="unknown Hydra method"):
        hydra_attention(q, k, v, method="fast")
    with pytest.raises(ValueError, match="causal"):
        hydra_attention(q, k, v, method="chunked")


def test_device_mismatch_is_reported():
    q, k, v = qkv()
    meta = torch.empty(2, 7, 8, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match="devices differ"):
        check_qkv(q, k, meta)


# ----------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 3),
    t=st.integers(1, 40),
    d=st.sampled_from([1, 2, 3, 8]),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_properties_over_random_shapes_and_masks(b, t, d, causal, seed, data):
    q, k, v = qkv(b, t, d, seed=seed)
    mask = torch.tensor(
        data.draw(st.lists(st.lists(st.booleans(), min_size=t, max_size=t), min_size=b, max_size=b))
    )
    hydra = hydra_attention(q, k, v, causal=causal, key_padding_mask=mask)
    ref = kernel_attention(q, k, v, heads=d, causal=causal, key_padding_mask=mask)
    torch.testing.assert_close(hydra, ref, rtol=1e-9, atol=1e-10)
    lin = linear_attention(q, k, v, causal=causal, key_padding_mask=mask, chunk=5)
    lin_ref = kernel_attention(
        q, k, v, feature_map="elu", causal=causal, key_padding_mask=mask, normalize=True
    )
    seen = torch.ones(b, t, dtype=torch.bool) if not causal else (~mask).cumsum(1) > 0
    if not causal:
        seen = seen & (~mask).any(1, keepdim=True)
    torch.testing.assert_close(lin[seen], lin_ref[seen])
    soft = softmax_attention(q, k, v, causal=causal, key_padding_mask=mask)
    torch.testing.assert_close(soft, sdpa_attention(q, k, v, causal=causal, key_padding_mask=mask))
    for out in (hydra, lin, soft):
        assert torch.isfinite(out).all()


# ------------------------------------------------------------------- Hydra with forgetting


def decayed_reference(q, k, v, log_decay, causal, pad=None):
    """The explicit O(T^2) weighted form: out_i = phi(q_i) * sum_j g^|i - j| phi(k_j) * v_j."""
    x = A.cosine_feature_map(k) * v
    if pad is not None:
        x = x.masked_fill(pad[..., None], 0.0)
    i = torch.arange(q.shape[1])
    gap = (i[:, None] - i[None, :]).to(q.dtype)
    w = torch.exp(log_decay[:, None, None] * gap.abs())  # (D, T, T)
    if causal:
        w = w * (gap >= 0)
    return A.cosine_feature_map(q) * torch.einsum("dij,bjd->bid", w, x)


@pytest.mark.parametrize("t", [1, 5, 31, 32, 33, 100, 257])
@pytest.mark.parametrize("causal", [True, False])
def test_decayed_hydra_equals_the_explicit_weighted_form(t, causal):
    torch.manual_seed(t)
    q, k, v = (torch.randn(2, t, 6, dtype=torch.float64) for _ in range(3))
    log_decay = -torch.rand(6, dtype=torch.float64) * 2  # g in (0.13, 1)
    pad = torch.zeros(2, t, dtype=torch.bool)
    pad[0, : t // 3] = True
    got = A.decayed_hydra_attention(q, k, v, causal, pad, log_decay)
    torch.testing.assert_close(
        got, decayed_reference(q, k, v, log_decay, causal, pad), rtol=0, atol=1e-12
    )


def test_decayed_hydra_without_decay_is_hydra():
    q, k, v = (torch.randn(2, 70, 8, dtype=torch.float64) for _ in range(3))
    zero = torch.zeros(8, dtype=torch.float64)
    for causal in (True, False):
        torch.testing.assert_close(
            A.decayed_hydra_attention(q, k, v, causal, log_decay=zero),
            A.hydra_attention(q, k, v, causal),
        )


def test_decayed_prefix_sum_is_the_recurrence():
    x = torch.randn(3, 90, 5, dtype=torch.float64)
    log_decay = torch.log(torch.tensor([0.01, 0.5, 0.9, 0.999, 1.0], dtype=torch.float64))
    s, expected = torch.zeros(3, 5, dtype=torch.float64), []
    for t in range(90):
        s = log_decay.exp() * s + x[:, t]
        expected.append(s)
    got = A.decayed_prefix_sum(x, log_decay, chunk=16)
    torch.testing.assert_close(got, torch.stack(expected, 1), rtol=0, atol=1e-12)


def test_decayed_step_equals_the_parallel_form_at_every_position():
    q, k, v = (torch.randn(2, 50, 8, dtype=torch.float64) for _ in range(3))
    log_decay = A.default_log_decay(8).double()
    parallel = A.decayed_hydra_attention(q, k, v, True, log_decay=log_decay)
    state = torch.zeros(2, 8, dtype=torch.float64)
    for t in range(50):
        state, out = A.decayed_hydra_step(state, q[:, t], k[:, t], v[:, t], log_decay)
        torch.testing.assert_close(out, parallel[:, t], rtol=0, atol=1e-12)


def test_decayed_mean_divides_by_the_decayed_count():
    q, k, v = (torch.randn(1, 40, 4, dtype=torch.float64) for _ in range(3))
    ld = A.default_log_decay(4).double()
    total = A.decayed_hydra_attention(q, k, v, True, log_decay=ld)
    mean = A.decayed_hydra_attention(q, k, v, True, log_decay=ld, mean=True)
    count = A.decayed_prefix_sum(torch.ones(1, 40, 4, dtype=torch.float64), ld)
    torch.testing.assert_close(mean, total / count)


def test_default_decay_half_lives_run_from_1_to_256():
    g = A.default_log_decay(64).double().exp()
    half_lives = torch.log(torch.tensor(0.5, dtype=torch.float64)) / torch.log(g)
    assert abs(half_lives[0] - 1) < 1e-4 and abs(half_lives[-1] - 256) < 1e-2
    assert (half_lives.diff() > 0).all()


def test_decayed_hydra_refuses_a_wrong_decay_shape():
    q = torch.randn(1, 4, 8)
    with pytest.raises(ValueError, match="one rate per feature"):
        A.decayed_hydra_attention(q, q, q, log_decay=torch.zeros(4))


def test_decayed_hydra_keeps_half_precision_inputs_in_float32_sums():
    q, k, v = (torch.randn(2, 64, 8) for _ in range(3))
    ref = A.decayed_hydra_attention(q, k, v)
    got = A.decayed_hydra_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), ref, rtol=0.05, atol=0.05)


def test_decayed_prefix_sum_over_many_blocks_and_extreme_decays():
    """Past 256 blocks the carry is a loop; a decay far beyond float range stays finite and
    keeps at most 1.1e-7 of the past (float32 rounding)."""
    x = torch.randn(1, 3000, 3, dtype=torch.float64)
    ld = torch.log(torch.tensor([1e-30, 0.9, 0.999], dtype=torch.float64))
    s, expected = torch.zeros(1, 3, dtype=torch.float64), []
    for t in range(3000):
        s = ld.exp() * s + x[:, t]
        expected.append(s)
    got = A.decayed_prefix_sum(x, ld)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.stack(expected, 1), rtol=0, atol=1e-6)
    torch.testing.assert_close(got[..., 1:], torch.stack(expected, 1)[..., 1:], rtol=0, atol=1e-9)


@pytest.mark.parametrize("causal", [True, False])
def test_decayed_hydra_gradients_equal_the_explicit_forms(causal):
    """The closed-form backward (one reverse scan) against autograd through the O(T^2) form,
    for q, k, v and the decays, over several blocks and with padding."""
    torch.manual_seed(3)
    q, k, v = (torch.randn(2, 40, 6, dtype=torch.float64, requires_grad=True) for _ in range(3))
    ld = (-torch.rand(6, dtype=torch.float64) * 2).requires_grad_(True)
    pad = torch.zeros(2, 40, dtype=torch.bool)
    pad[1, :7] = True
    weight = torch.randn(2, 40, 6, dtype=torch.float64)
    outs = (A.decayed_hydra_attention(q, k, v, causal, pad, ld),
            decayed_reference(q, k, v, ld, causal, pad))  # fmt: skip
    grads = [torch.autograd.grad((out * weight).sum(), (q, k, v, ld)) for out in outs]
    for got, expected in zip(*grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_decayed_prefix_sum_passes_gradcheck():
    x = torch.randn(2, 15, 3, dtype=torch.float64, requires_grad=True)
    ld = torch.log(torch.tensor([0.3, 0.8, 0.99], dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: A.decayed_prefix_sum(a, b, chunk=4), (x, ld))
