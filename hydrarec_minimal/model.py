"""HydraRec: a transformer over a user's item history, with a choice of attention.

Item embeddings plus learned positions, N pre-norm blocks (attention and a GELU feed-forward,
each with a residual connection, layer norm and dropout), a final layer norm, and scores for
every item by the tied item embeddings. Two modes:

- ``causal``: position i sees items <= i and predicts item i + 1 (SASRec-style);
- ``bidirectional``: every position sees the whole sequence; some items are replaced by a
  mask token and the model predicts them (BERT4Rec-style cloze task).

With ``attention="sdpa"`` the two modes are SASRec and BERT4Rec; with ``"hydra"`` they are
HydraRec; ``"linear"`` is linear attention (elu + 1). Padding (item 0) never enters any
attention sum: padded keys are masked and padded rows are zeroed before every block.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import hydra_attention, linear_attention, sdpa_attention, softmax_attention

MODES = ("causal", "bidirectional")


@dataclass
class ModelConfig:
    """Everything that fixes the model's shape; stored with every checkpoint and result."""

    num_items: int
    max_len: int = 200
    d: int = 64
    layers: int = 2
    heads: int = 1  # softmax/linear only; Hydra always uses H = d heads of size 1
    attention: str = "hydra"  # 'sdpa' | 'softmax' | 'linear' | 'hydra'
    mode: str = "causal"  # 'causal' | 'bidirectional'
    dropout: float = 0.2
    ffn_mult: int = 1
    init_std: float = 0.05
    hydra_mean: bool = False  # Hydra only: divide each row's sum by its number of keys
    tied: bool = True  # score items with the input embeddings (False: a separate output table)

    def __post_init__(self) -> None:
        """Refuse shapes and choices that cannot work, with the reason."""
        if self.max_len < 2:
            raise ValueError(f"max_len must be >= 2 (one input and one target), got {self.max_len}")
        if self.num_items < 1 or self.d < 1 or self.layers < 1 or self.ffn_mult < 1:
            raise ValueError(f"num_items, d, layers, ffn_mult must be >= 1: {asdict(self)}")
        if self.attention not in ATTENTION_FNS:
            raise ValueError(
                f"attention must be one of {sorted(ATTENTION_FNS)}, got {self.attention!r}"
            )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.hydra_mean and self.attention != "hydra":
            raise ValueError(f"hydra_mean applies to attention='hydra' only: {self.attention!r}")
        if self.d % self.heads != 0:
            raise ValueError(f"d={self.d} is not divisible by heads={self.heads}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def mask_token(self) -> int:
        """The id of the [MASK] token (bidirectional mode): one past the last item."""
        return self.num_items + 1


ATTENTION_FNS = {
    "sdpa": sdpa_attention,
    "softmax": softmax_attention,
    "linear": linear_attention,
    "hydra": hydra_attention,
}


class Attention(nn.Module):
    """Projections q, k, v and the output around one of the package's attention functions."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.qkv = nn.Linear(cfg.d, 3 * cfg.d)
        self.out = nn.Linear(cfg.d, cfg.d)
        self.fn = ATTENTION_FNS[cfg.attention]
        self.kwargs = {"mean": cfg.hydra_mean} if cfg.attention == "hydra" else {"heads": cfg.heads}
        self.causal = cfg.mode == "causal"

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        """x: (B, T, d); pad: (B, T) bool, True at padding."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        y = self.fn(q, k, v, causal=self.causal, key_padding_mask=pad, **self.kwargs)
        return self.out(y)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + FFN(LN(x)), with dropout."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.d, cfg.ffn_mult * cfg.d),
            nn.GELU(),
            nn.Linear(cfg.ffn_mult * cfg.d, cfg.d),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, pad: Tensor) -> Tensor:
        """One block; padded rows are zeroed on the way in, so nothing leaks from them."""
        x = x.masked_fill(pad[..., None], 0.0)
        x = x + self.drop(self.attn(self.ln1(x), pad))
        return x + self.drop(self.ffn(self.ln2(x)))


class HydraRec(nn.Module):
    """The sequential recommender: item ids (B, T), left-padded with 0, to hidden states."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        # ids: 0 = padding, 1..N = items, N + 1 = [MASK] (used in bidirectional mode only)
        self.items = nn.Embedding(cfg.num_items + 2, cfg.d, padding_idx=0)
        self.positions = nn.Embedding(cfg.max_len, cfg.d)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.d)
        self.output = None if cfg.tied else nn.Embedding(cfg.num_items + 1, cfg.d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal embeddings (std 0.05): far faster learning here than N(0, 1) * sqrt(d)."""
        nn.init.normal_(self.items.weight, std=self.cfg.init_std)
        nn.init.normal_(self.positions.weight, std=self.cfg.init_std)
        if self.output is not None:
            nn.init.normal_(self.output.weight, std=self.cfg.init_std)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, seq: Tensor) -> Tensor:
        """(B, T) item ids -> (B, T, d) hidden states; T <= max_len, positions right-aligned."""
        b, t = seq.shape
        if t > self.cfg.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len={self.cfg.max_len}")
        pad = seq == 0
        pos = torch.arange(self.cfg.max_len - t, self.cfg.max_len, device=seq.device)
        x = self.drop(self.items(seq) + self.positions(pos))
        for block in self.blocks:
            x = block(x, pad)
        return self.ln(x).masked_fill(pad[..., None], 0.0)

    def item_weights(self) -> Tensor:
        """(N + 1, d) output embeddings of padding and the items (tied: the input ones)."""
        if self.output is not None:
            return self.output.weight
        return self.items.weight[: self.cfg.num_items + 1]

    def scores(self, hidden: Tensor) -> Tensor:
        """(..., d) hidden states -> (..., N + 1) scores for item ids 0..N (0 is never a target)."""
        return hidden @ self.item_weights().T

    @torch.no_grad()
    def score_next(self, seq: Tensor) -> Tensor:
        """Scores of every item as the *next* one after each (left-padded) input sequence."""
        if self.cfg.mode == "bidirectional":  # append the mask token, keep the last max_len
            mask = torch.full_like(seq[:, :1], self.cfg.mask_token)
            seq = torch.cat([seq, mask], dim=1)[:, -self.cfg.max_len :]
        return self.scores(self(seq)[:, -1])


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def losses(
    hidden: Tensor,
    targets: Tensor,
    weights: Tensor,
    kind: str = "ce",
    negatives: int = 256,
    gbce_t: float = 0.75,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean training loss over the positions with a target (target id > 0).

    ``ce``: cross-entropy over the full catalogue (SASRec+, Klenitskiy & Vasilev 2023).
    ``sampled``: softmax over the target and ``negatives`` uniform negatives per sequence.
    ``gbce``: gSASRec's generalised BCE (Petrov & Macdonald 2023) with calibration t =
    ``gbce_t`` and ``negatives`` uniform negatives per sequence (gSASRec draws them per
    position; one (B, K) draw keeps the scores a batched matmul). On ML-1M here gBCE sits at
    the most-popular level for about 30 epochs before it learns (chapter 7).
    """
    keep = targets > 0
    n_items = weights.shape[0] - 1
    if kind == "ce":  # scores for items 1..N only: padding is never a class (no in-place -inf)
        return F.cross_entropy(hidden[keep] @ weights[1:].T, targets[keep] - 1)
    if kind not in ("sampled", "gbce"):
        raise ValueError(f"loss must be 'ce', 'sampled' or 'gbce', got {kind!r}")
    b, k = targets.shape[0], negatives
    # drawn on the CPU (where the training loop's generator lives), then moved: same draws on
    # every device, and a CPU generator never meets a CUDA tensor
    neg = torch.randint(1, n_items + 1, (b, k), generator=generator).to(hidden.device)
    h, y = hidden[keep], targets[keep]  # (P, d), (P,): only positions that have a target
    pos_logit = (h * weights[y]).sum(-1)
    neg_logits = torch.einsum("btd,bkd->btk", hidden, weights[neg])[keep]  # (P, K)
    clash = (neg[:, None, :] == targets[..., None])[keep]  # a negative that is the target
    if kind == "sampled":
        logits = torch.cat([pos_logit[:, None], neg_logits.masked_fill(clash, float("-inf"))], 1)
        return F.cross_entropy(logits, torch.zeros_like(y))
    alpha = negatives / max(1, n_items - 1)
    beta = alpha * (gbce_t * (1 - 1 / alpha) + 1 / alpha)
    neg_term = F.logsigmoid(-neg_logits).masked_fill(clash, 0.0).sum(1)
    return -(beta * F.logsigmoid(pos_logit) + neg_term).mean()
