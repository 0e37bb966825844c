"""Tests for hydrarec_minimal/model.py: shapes, causality, padding, losses, bad configs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hydrarec_minimal.model import HydraRec, ModelConfig, count_parameters, losses

ATTENTIONS = ["sdpa", "softmax", "linear", "hydra", "hydra_decay"]


def model(attention="hydra", mode="causal", **kw):
    """A small model in eval mode (no dropout) with a fixed seed."""
    torch.manual_seed(0)
    cfg = ModelConfig(
        num_items=30,
        max_len=12,
        d=8,
        layers=2,
        heads=2 if not attention.startswith("hydra") else 1,
        attention=attention,
        mode=mode,
        **kw,
    )
    return HydraRec(cfg).double().eval()


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("mode", ["causal", "bidirectional"])
def test_shapes(attention, mode):
    m = model(attention, mode)
    seq = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    h = m(seq)
    assert h.shape == (2, 5, 8)
    assert m.scores(h).shape == (2, 5, 31)
    assert m.score_next(seq).shape == (2, 31)


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("mode", ["causal", "bidirectional"])
def test_extra_left_padding_changes_nothing(attention, mode):
    """Padding must not leak into any attention sum (Hydra's global sum in particular)."""
    m = model(attention, mode)
    short = torch.tensor([[0, 7, 3, 9, 2]])
    long = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 7, 3, 9, 2]])
    torch.testing.assert_close(m(short)[:, 1:], m(long)[:, -4:])
    torch.testing.assert_close(m.score_next(short), m.score_next(long))
    assert m(long)[:, :7].abs().max() == 0  # padded positions output zeros


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_causal_model_does_not_see_the_future(attention):
    m = model(attention, "causal")
    a = m(torch.tensor([[1, 2, 3, 4, 5, 6]]))
    b = m(torch.tensor([[1, 2, 3, 9, 9, 9]]))
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert (a[:, 3:] - b[:, 3:]).abs().max() > 1e-6


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_bidirectional_model_sees_the_whole_sequence(attention):
    m = model(attention, "bidirectional")
    a = m(torch.tensor([[1, 2, 3, 4, 5, 6]]))
    b = m(torch.tensor([[1, 2, 3, 9, 9, 9]]))
    assert (a[:, :3] - b[:, :3]).abs().max() > 1e-6


def test_bidirectional_scoring_appends_the_mask_token():
    m = model("hydra", "bidirectional")
    seq = torch.tensor([[4, 5, 6]])
    expected = m.scores(m(torch.tensor([[4, 5, 6, m.cfg.mask_token]]))[:, -1])
    torch.testing.assert_close(m.score_next(seq), expected)


def test_bidirectional_readout_at_the_last_item_appends_nothing():
    m = model("hydra", "bidirectional", readout="last")
    seq = torch.tensor([[4, 5, 6]])
    torch.testing.assert_close(m.score_next(seq), m.scores(m(seq)[:, -1]))


def test_readout_is_checked():
    with pytest.raises(ValueError, match="readout must be one of"):
        model("hydra", "bidirectional", readout="first")
    with pytest.raises(ValueError, match="bidirectional mode only"):
        model("hydra", "causal", readout="last")


def test_output_embeddings_are_tied_to_the_input_ones():
    m = model()
    assert m.item_weights().data_ptr() == m.items.weight.data_ptr()
    assert m.item_weights().shape == (31, 8)
    assert count_parameters(m) > 0


def test_untied_output_embeddings_are_a_separate_table():
    tied, untied = model(), model(tied=False)
    assert untied.item_weights().data_ptr() != untied.items.weight.data_ptr()
    assert untied.item_weights().shape == (31, 8)
    assert count_parameters(untied) == count_parameters(tied) + 31 * 8
    seq = torch.tensor([[0, 0, 3, 4, 5]])
    assert untied.score_next(seq).shape == (1, 31)


def test_hydra_mean_changes_the_model_and_keeps_it_causal():
    plain, mean = model(), model(hydra_mean=True)
    seq = torch.tensor([[0, 2, 3, 4, 5, 6]])
    assert not torch.allclose(plain(seq), mean(seq))
    later = seq.clone()
    later[0, -1] = 9
    torch.testing.assert_close(mean(seq)[:, :-1], mean(later)[:, :-1])


def test_sequence_longer_than_max_len_is_refused():
    with pytest.raises(ValueError, match="exceeds max_len=12"):
        model()(torch.ones(1, 13, dtype=torch.long))


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"max_len": 1}, "max_len must be >= 2"),
        ({"d": 10, "heads": 3}, "not divisible"),
        ({"attention": "flash"}, "attention must be one of"),
        ({"mode": "both"}, "mode must be one of"),
        ({"dropout": 1.0}, "dropout"),
        ({"attention": "sdpa", "hydra_mean": True}, "hydra_mean applies to Hydra attentions only"),
    ],
)
def test_invalid_configs(kw, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(num_items=10, **kw)


def test_full_cross_entropy_matches_its_definition():
    torch.manual_seed(0)
    h = torch.randn(2, 3, 4, dtype=torch.float64)
    w = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([[0, 2, 5], [1, 0, 3]])
    logits = h @ w.T
    logits[..., 0] = -math.inf
    keep = y > 0
    expected = F.cross_entropy(logits[keep], y[keep])
    torch.testing.assert_close(losses(h, y, w, "ce"), expected)


@pytest.mark.parametrize("kind", ["sampled", "gbce"])
def test_sampled_losses_are_finite_and_prefer_the_target(kind):
    torch.manual_seed(0)
    w = torch.randn(50, 8)
    y = torch.randint(1, 50, (4, 6))
    g = torch.Generator().manual_seed(1)
    good = losses(w[y] * 5, y, w, kind, negatives=16, generator=g)
    g = torch.Generator().manual_seed(1)
    bad = losses(-w[y] * 5, y, w, kind, negatives=16, generator=g)
    assert torch.isfinite(good) and torch.isfinite(bad) and good < bad
    with pytest.raises(ValueError, match="loss must be"):
        losses(w[y], y, w, "hinge")


@pytest.mark.parametrize("kind", ["sampled", "gbce"])
def test_sampled_losses_match_their_definition(kind):
    """Negatives are drawn per sequence, (B, K), from the generator; a negative that is the
    target is left out; gBCE weighs the positive by beta (Petrov & Macdonald 2023)."""
    torch.manual_seed(0)
    n, k, t = 30, 8, 0.75
    h = torch.randn(3, 5, 4, dtype=torch.float64)
    w = torch.randn(n + 1, 4, dtype=torch.float64)
    y = torch.randint(1, n + 1, (3, 5))
    y[0, :2] = 0  # padding: no target
    neg = torch.randint(1, n + 1, (3, k), generator=torch.Generator().manual_seed(7))
    terms = []
    for b in range(3):
        for i in range(5):
            if y[b, i] == 0:
                continue
            pos = h[b, i] @ w[y[b, i]]
            negs = [h[b, i] @ w[j] for j in neg[b] if j != y[b, i]]
            if kind == "sampled":
                terms.append(-torch.log_softmax(torch.stack([pos, *negs]), 0)[0])
            else:
                alpha = k / (n - 1)
                beta = alpha * (t * (1 - 1 / alpha) + 1 / alpha)
                terms.append(-beta * F.logsigmoid(pos) - sum(F.logsigmoid(-s) for s in negs))
    expected = torch.stack(terms).mean()
    got = losses(h, y, w, kind, negatives=k, gbce_t=t, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ["sampled", "gbce"])
def test_sampled_losses_take_a_cpu_generator_for_cuda_tensors(kind):
    """The training loop's generator lives on the CPU; hidden states may be on a GPU (this
    failed with 'Expected a cuda device type for generator' before the draws moved to CPU)."""
    h, w = torch.randn(2, 3, 4, device="cuda"), torch.randn(11, 4, device="cuda")
    y = torch.randint(1, 11, (2, 3), device="cuda")
    loss = losses(h, y, w, kind, negatives=5, generator=torch.Generator().manual_seed(0))
    assert loss.device.type == "cuda" and torch.isfinite(loss)


# ----------------------------------------------------------------------------- Part IV options


@pytest.mark.parametrize("attention", ["hydra_decay", "hydra", "hydra_decay+sdpa", "sdpa"])
@pytest.mark.parametrize("conv", [0, 3])
def test_step_equals_the_parallel_forward_at_every_position(attention, conv):
    """Streaming: feeding films one at a time gives the parallel forward's hidden state at
    every position, also beyond max_len (no position embeddings, nothing limits the length)."""
    m = model(attention, positions="none", conv=conv)
    with torch.no_grad():
        for block in m.blocks:  # a convolution that is not the identity
            if block.conv is not None:
                block.conv.weight.normal_()
    seq = torch.randint(1, 31, (2, 3 * m.cfg.max_len))
    parallel = m(seq)
    state = m.initial_state(users=2)
    for t in range(seq.shape[1]):
        state, hidden = m.step(state, seq[:, t])
        torch.testing.assert_close(hidden, parallel[:, t], rtol=0, atol=1e-10)
    torch.testing.assert_close(m.scores(hidden), m.score_next(seq))


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"attention": "hydra_decay"}, "positions='none'"),  # right-aligned positions
        ({"attention": "linear", "positions": "none"}, "attention in"),
        ({"attention": "hydra", "mode": "bidirectional", "positions": "none"}, "causal"),
    ],
)
def test_step_refuses_models_without_a_recurrent_form(kw, message):
    with pytest.raises(ValueError, match=message):
        model(**kw).initial_state()


def test_learned_decay_is_a_parameter_and_fixed_decay_is_not():
    learned, fixed = model("hydra_decay"), model("hydra_decay", learn_decay=False)
    assert count_parameters(learned) == count_parameters(fixed) + 2 * 8  # d per block
    g = learned.blocks[0].attn.log_decay().exp()
    assert ((g > 0) & (g < 1)).all()


def test_mask_tokens_out_of_the_key_sums():
    """With mask_in_keys=False a [MASK] adds nothing to what the other positions read."""
    m = model("hydra", "bidirectional", mask_in_keys=False, positions="none")
    mask = m.cfg.mask_token
    a = m(torch.tensor([[3, 4, mask, 6]]))
    b = m(torch.tensor([[3, 4, mask, mask, 6]]))
    torch.testing.assert_close(a[:, [0, 1, 3]], b[:, [0, 1, 4]])
    m_in = model("hydra", "bidirectional", positions="none")
    a = m_in(torch.tensor([[3, 4, mask, 6]]))
    b = m_in(torch.tensor([[3, 4, mask, mask, 6]]))
    assert (a[:, 0] - b[:, 0]).abs().max() > 1e-6


def test_one_attention_per_block():
    m = model("hydra_decay+sdpa")
    assert [b.attn.kind for b in m.blocks] == ["hydra_decay", "sdpa"]
    with pytest.raises(ValueError, match="one per block"):
        ModelConfig(num_items=5, layers=2, attention="hydra+sdpa+linear")


def test_sasrec_style_options_change_the_model():
    seq = torch.tensor([[0, 2, 3, 4]])
    base = model("sdpa")
    for kw in ({"scale_embeddings": True}, {"activation": "relu"}):
        assert not torch.allclose(base(seq), model("sdpa", **kw)(seq))


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_chunked_cross_entropy_equals_the_full_one_and_its_gradients(chunk):
    torch.manual_seed(0)
    h = torch.randn(2, 7, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(12, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 12, (2, 7))
    y[0, :2] = 0  # padding: no target
    full = losses(h, y, w, "ce")
    chunked = losses(h, y, w, "ce", chunk=chunk)
    torch.testing.assert_close(chunked, full, rtol=0, atol=1e-12)
    for a, b in zip(
        torch.autograd.grad(full, (h, w)), torch.autograd.grad(chunked, (h, w)), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_chunked_cross_entropy_under_bfloat16_autocast_stays_close():
    torch.manual_seed(0)
    h, w = torch.randn(64, 16), torch.randn(50, 16)
    y = torch.randint(1, 50, (64,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        full, chunked = (
            losses(h[None], y[None], w, "ce"),
            losses(h[None], y[None], w, "ce", chunk=16),
        )
    torch.testing.assert_close(chunked.float(), full.float(), rtol=0.02, atol=0.02)


def test_decay_half_lives_start_log_spaced_from_1_to_256():
    lives = model("hydra_decay").decay_half_lives()
    assert len(lives) == 2 and len(lives[0]) == 8
    assert lives[0][0] == pytest.approx(1.0, rel=1e-4) and lives[0][-1] == pytest.approx(
        256, rel=1e-3
    )
    assert model("hydra").decay_half_lives() is None
