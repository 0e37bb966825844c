"""HydraRec: a transformer over a user's item history, with a choice of attention.

Item embeddings plus learned positions, N pre-norm blocks (attention and a GELU feed-forward,
each with a residual connection, layer norm and dropout), a final layer norm, and scores for
every item by the tied item embeddings. Two modes:

- ``causal``: position i sees items <= i and predicts item i + 1 (SASRec-style);
- ``bidirectional``: every position sees the whole sequence; some items are replaced by a
  mask token and the model predicts them (BERT4Rec-style cloze task); the next item is read
  out at a [MASK] appended to the history (``readout="mask"``) or at the last real item
  (``"last"``, trained on it to predict the film that follows).

With ``attention="sdpa"`` the two modes are SASRec and BERT4Rec; with ``"hydra"`` they are
HydraRec; ``"linear"`` is linear attention (elu + 1). Padding (item 0) never enters any
attention sum: padded keys are masked and padded rows are zeroed before every block.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import ATTENTIONS, cosine_feature_map, default_log_decay
from .shapes import merge_heads, split_heads

MODES = ("causal", "bidirectional")
POSITIONS = ("absolute", "none")  # learned right-aligned position embeddings, or none at all
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}
# Bidirectional mode: where the next item is read out. 'mask': at a [MASK] token appended to the
# history (BERT4Rec); 'last': at the last real item, trained to predict the item that follows.
READOUTS = ("mask", "last")
# Attentions that can run one new film at a time from a per-user state (HydraRec.step):
# Hydra keeps a running sum of d numbers per block, softmax a cache of every past key and value.
RECURRENT = ("hydra", "hydra_decay")
STREAMABLE = RECURRENT + ("sdpa", "softmax")


@dataclass
class ModelConfig:
    """Everything that fixes the model's shape; stored with every checkpoint and result."""

    num_items: int = 0  # 0 until the data set is known (TrainConfig leaves it to the data)
    max_len: int = 200
    d: int = 64
    layers: int = 2
    heads: int = 1  # softmax/linear only; Hydra always uses H = d heads of size 1
    attention: str = "hydra"  # a name in attention.ATTENTIONS; 'a+b' = one per block
    mode: str = "causal"  # 'causal' | 'bidirectional'
    dropout: float = 0.2
    ffn_mult: int = 1
    init_std: float = 0.05
    hydra_mean: bool = False  # Hydra only: divide each row's sum by its number of keys
    tied: bool = True  # score items with the input embeddings (False: a separate output table)
    positions: str = "absolute"  # 'absolute' (learned, right-aligned) | 'none'
    learn_decay: bool = True  # hydra_decay: learn each feature's decay (False: keep the init)
    conv: int = 0  # width of a causal depthwise convolution before attention (0 = none)
    mask_in_keys: bool = True  # bidirectional: [MASK] tokens enter the attention's key sums
    scale_embeddings: bool = False  # multiply item embeddings by sqrt(d) (SASRec's code)
    activation: str = "gelu"  # feed-forward non-linearity: 'gelu' | 'relu'
    readout: str = "mask"  # bidirectional: 'mask' (appended [MASK]) | 'last' (last real item)

    def __post_init__(self) -> None:
        """Refuse shapes and choices that cannot work, with the reason."""
        if self.max_len < 2:
            raise ValueError(f"max_len must be >= 2 (one input and one target), got {self.max_len}")
        if self.num_items < 0 or self.d < 1 or self.layers < 1 or self.ffn_mult < 1:
            raise ValueError(f"num_items >= 0, d, layers, ffn_mult >= 1 required: {asdict(self)}")
        kinds = self.block_attentions()
        if any(k not in ATTENTIONS for k in kinds) or len(kinds) not in (1, self.layers):
            raise ValueError(
                f"attention must be one of {sorted(ATTENTIONS)}, or one per block joined by '+' "
                f"({self.layers} blocks), got {self.attention!r}"
            )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.hydra_mean and not all(k.startswith("hydra") for k in kinds):
            raise ValueError(f"hydra_mean applies to Hydra attentions only: {self.attention!r}")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {self.positions!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}: {self.activation!r}"
            )
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if self.readout != "mask" and self.mode != "bidirectional":
            raise ValueError(
                "readout applies to the bidirectional mode only (causal models "
                "always read out at the last item)"
            )
        if self.conv < 0:
            raise ValueError(f"conv must be >= 0 (0 = no convolution), got {self.conv}")
        if self.d % self.heads != 0:
            raise ValueError(f"d={self.d} is not divisible by heads={self.heads}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def mask_token(self) -> int:
        """The id of the [MASK] token (bidirectional mode): one past the last item."""
        return self.num_items + 1

    def block_attentions(self) -> list[str]:
        """The attention of each block ('hydra_decay+sdpa': Hydra first, softmax second)."""
        kinds = self.attention.split("+")
        return kinds * self.layers if len(kinds) == 1 else kinds


# The book's models by name: what results/ files, scripts (``--model NAME``) and chapters call
# them, their label on the page, and the settings that make them (the rest is the recipe's).
MODELS: dict[str, tuple[str, dict]] = {
    "sasrec": ("SASRec", dict(attention="sdpa", mode="causal")),
    "hydrarec_causal": ("HydraRec (causal)", dict(attention="hydra", mode="causal")),
    "linear_causal": ("Linear attention (causal)", dict(attention="linear", mode="causal")),
    "bert4rec": ("BERT4Rec-style", dict(attention="sdpa", mode="bidirectional")),
    "hydrarec_bidirectional": (
        "HydraRec (bidirectional)", dict(attention="hydra", mode="bidirectional")),
    "hydrarec_causal_mean": (
        "HydraRec, running mean", dict(attention="hydra", mode="causal", hydra_mean=True)),
    # Part IV: Hydra with forgetting, and the ablations around it
    "hydrarec_decay": (
        "HydraRec with forgetting",
        dict(attention="hydra_decay", mode="causal", positions="none")),
    "hydrarec_decay_positions": (
        "HydraRec with forgetting, positions",
        dict(attention="hydra_decay", mode="causal", positions="absolute")),
    "hydrarec_decay_fixed": (
        "HydraRec with fixed forgetting",
        dict(attention="hydra_decay", mode="causal", positions="none", learn_decay=False)),
    "hydrarec_decay_conv": (
        "HydraRec with forgetting and a convolution",
        dict(attention="hydra_decay", mode="causal", positions="none", conv=4)),
    "hydra_decay_sdpa": (
        "Forgetting Hydra, then softmax",
        dict(attention="hydra_decay+sdpa", mode="causal", positions="none")),
    "sasrec_no_positions": (
        "SASRec without positions", dict(attention="sdpa", mode="causal", positions="none")),
    "hydrarec_bidirectional_nomask": (
        "HydraRec (bidirectional), [MASK] out of the sums",
        dict(attention="hydra", mode="bidirectional", mask_in_keys=False)),
    "hydrarec_decay_bidirectional": (
        "HydraRec with forgetting (bidirectional)",
        dict(attention="hydra_decay", mode="bidirectional", mask_in_keys=False)),
    "hydrarec_bidirectional_last": (
        "HydraRec (bidirectional), read out at the last film",
        dict(attention="hydra", mode="bidirectional", readout="last")),
}  # fmt: skip


class Attention(nn.Module):
    """Projections q, k, v and the output around one of the package's attention functions
    (``hydra_decay`` also holds each feature's decay, learned as a logit)."""

    def __init__(self, cfg: ModelConfig, kind: str):
        super().__init__()
        self.kind = kind
        self.qkv = nn.Linear(cfg.d, 3 * cfg.d)
        self.out = nn.Linear(cfg.d, cfg.d)
        self.fn = ATTENTIONS[kind]
        self.kwargs = {"mean": cfg.hydra_mean} if kind.startswith("hydra") else {"heads": cfg.heads}
        self.causal = cfg.mode == "causal"
        if kind == "hydra_decay":
            logit = torch.special.logit(default_log_decay(cfg.d).exp().double()).float()
            if cfg.learn_decay:
                self.decay_logit = nn.Parameter(logit)
            else:
                self.register_buffer("decay_logit", logit)

    def log_decay(self) -> Tensor | None:
        """(d,) log g of every feature (g = sigmoid(logit), in (0, 1)); None without decay."""
        return F.logsigmoid(self.decay_logit) if self.kind == "hydra_decay" else None

    def forward(self, x: Tensor, keys_off: Tensor) -> Tensor:
        """x: (B, T, d); keys_off: (B, T) bool, True at keys no query may use (padding)."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        kw = self.kwargs | ({"log_decay": self.log_decay()} if self.kind == "hydra_decay" else {})
        y = self.fn(q, k, v, causal=self.causal, key_padding_mask=keys_off, **kw)
        return self.out(y)

    def initial_state(self, users: int, like: Tensor) -> dict:
        """An empty history: Hydra's running sum (users, d), or softmax's empty key/value cache."""
        d = self.qkv.in_features
        if self.kind in RECURRENT:
            return {"sum": like.new_zeros(users, d)}
        return {"k": like.new_zeros(users, 0, d), "v": like.new_zeros(users, 0, d)}

    def step(self, state: dict, x: Tensor) -> tuple[dict, Tensor]:
        """One new position (users, d): Hydra's recurrent form (O(d) work and state), or
        softmax attention of the new query over the cached keys (O(L d))."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if self.kind in RECURRENT:  # g = sigmoid(logit) = exp(log_decay()), one op cheaper
            decay = torch.sigmoid(self.decay_logit) if self.kind == "hydra_decay" else 1.0
            s = decay * state["sum"] + cosine_feature_map(k) * v
            return {"sum": s}, self.out(cosine_feature_map(q) * s)
        keys = torch.cat([state["k"], k[:, None]], 1)
        values = torch.cat([state["v"], v[:, None]], 1)
        h = self.kwargs["heads"]
        y = F.scaled_dot_product_attention(*(split_heads(t, h) for t in (q[:, None], keys, values)))
        return {"k": keys, "v": values}, self.out(merge_heads(y)[:, 0])


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + FFN(LN(x)), with dropout;
    optionally a causal depthwise convolution (``conv`` positions wide) before attention."""

    def __init__(self, cfg: ModelConfig, kind: str):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d)
        self.conv = CausalConv(cfg.d, cfg.conv) if cfg.conv else None
        self.attn = Attention(cfg, kind)
        self.ln2 = nn.LayerNorm(cfg.d)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.d, cfg.ffn_mult * cfg.d),
            ACTIVATIONS[cfg.activation](),
            nn.Linear(cfg.ffn_mult * cfg.d, cfg.d),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, pad: Tensor, keys_off: Tensor) -> Tensor:
        """One block; padded rows are zeroed on the way in, so nothing leaks from them."""
        x = x.masked_fill(pad[..., None], 0.0)
        h = self.ln1(x)
        if self.conv is not None:
            h = self.conv(h.masked_fill(pad[..., None], 0.0))
        x = x + self.drop(self.attn(h, keys_off))
        return x + self.drop(self.ffn(self.ln2(x)))

    def step(self, state: dict, x: Tensor) -> tuple[dict, Tensor]:
        """One new position (B, d), with this block's state (running sum, conv window)."""
        h = self.ln1(x)
        new = {}
        if self.conv is not None:
            window = torch.cat([state["window"], h[:, None]], 1)[:, 1:]
            new["window"], h = window, self.conv.last(window)
        attn, y = self.attn.step({k: v for k, v in state.items() if k != "window"}, h)
        new |= attn
        x = x + y
        return new, x + self.ffn(self.ln2(x))


class CausalConv(nn.Module):
    """Depthwise convolution over the last ``width`` positions of each feature, started as
    the identity (the newest position's weight 1, the others 0), so training begins from the
    model without it."""

    def __init__(self, d: int, width: int):
        super().__init__()
        self.width = width
        self.weight = nn.Parameter(torch.zeros(d, width))
        with torch.no_grad():
            self.weight[:, -1] = 1.0

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, d) -> (B, T, d): y_t = sum_i w_i * x_{t - width + 1 + i} (zeros before 0)."""
        xt = F.pad(x.transpose(1, 2), (self.width - 1, 0))
        return F.conv1d(xt, self.weight[:, None, :], groups=x.shape[-1]).transpose(1, 2)

    def last(self, window: Tensor) -> Tensor:
        """The output at the newest of the (B, width, d) last inputs."""
        return (window * self.weight.T).sum(1)


class HydraRec(nn.Module):
    """The sequential recommender: item ids (B, T), left-padded with 0, to hidden states."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        # ids: 0 = padding, 1..N = items, N + 1 = [MASK] (used in bidirectional mode only)
        if cfg.num_items < 1:
            raise ValueError("num_items must be >= 1 (the number of items in the data)")
        self.items = nn.Embedding(cfg.num_items + 2, cfg.d, padding_idx=0)
        self.positions = nn.Embedding(cfg.max_len, cfg.d) if cfg.positions == "absolute" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, kind) for kind in cfg.block_attentions())
        self.ln = nn.LayerNorm(cfg.d)
        self.output = None if cfg.tied else nn.Embedding(cfg.num_items + 1, cfg.d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small normal embeddings (std 0.05): far faster learning here than N(0, 1) * sqrt(d)."""
        nn.init.normal_(self.items.weight, std=self.cfg.init_std)
        if self.positions is not None:
            nn.init.normal_(self.positions.weight, std=self.cfg.init_std)
        if self.output is not None:
            nn.init.normal_(self.output.weight, std=self.cfg.init_std)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, seq: Tensor) -> Tensor:
        """(B, T) item ids -> (B, T, d) hidden states; with position embeddings (right-aligned)
        T <= max_len, without them any T."""
        b, t = seq.shape
        if t > self.cfg.max_len and self.positions is not None:
            raise ValueError(f"sequence length {t} exceeds max_len={self.cfg.max_len}")
        pad = seq == 0
        keys_off = pad if self.cfg.mask_in_keys else pad | (seq == self.cfg.mask_token)
        x = self.drop(self.embed(seq))
        for block in self.blocks:
            x = block(x, pad, keys_off)
        return self.ln(x).masked_fill(pad[..., None], 0.0)

    def embed(self, seq: Tensor) -> Tensor:
        """Item embeddings (scaled by sqrt(d) if asked) plus right-aligned positions, if any."""
        x = self.items(seq)
        if self.cfg.scale_embeddings:
            x = x * self.cfg.d**0.5
        if self.positions is not None:
            t = seq.shape[1]
            x = x + self.positions(
                torch.arange(self.cfg.max_len - t, self.cfg.max_len, device=seq.device)
            )
        return x

    def decay_half_lives(self) -> list[list[float]] | None:
        """Each forgetting block's per-feature half-life, in positions (ln 2 / -ln g); None
        for a model without forgetting."""
        lives = [
            (-math.log(2.0) / block.attn.log_decay()).tolist()
            for block in self.blocks
            if block.attn.kind == "hydra_decay"
        ]
        return lives or None

    # ------------------------------------------------------------------------- streaming

    def initial_state(self, users: int = 1) -> list[dict]:
        """A new user's state for ``step``, per block: Hydra's (users, d) running sum or
        softmax's key/value cache (and the convolution's window). Needs a causal model
        without position embeddings (right-aligned positions move every film at each event)."""
        kinds = set(self.cfg.block_attentions())
        if self.cfg.mode != "causal" or self.positions is not None or not kinds <= set(STREAMABLE):
            raise ValueError(
                f"step() needs mode='causal', positions='none' and attention in {STREAMABLE}; "
                f"this model has {self.cfg.mode!r}, {self.cfg.positions!r}, {self.cfg.attention!r}"
            )
        if self.cfg.hydra_mean:
            raise ValueError("step() does not support hydra_mean")
        w = next(self.parameters())
        state = [block.attn.initial_state(users, w) for block in self.blocks]
        if self.cfg.conv:
            for s in state:
                s["window"] = w.new_zeros(users, self.cfg.conv, self.cfg.d)
        return state

    @torch.no_grad()
    def step(self, state: list[dict], items: Tensor) -> tuple[list[dict], Tensor]:
        """Feed each user's newest film (``items``, (users,) ids): the new state and the
        (users, d) hidden state, equal to ``forward``'s last position over the whole history."""
        x = self.embed(items[:, None])[:, 0]
        new = []
        for block, s in zip(self.blocks, state, strict=True):
            s, x = block.step(s, x)
            new.append(s)
        return new, self.ln(x)

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
        if self.cfg.mode == "bidirectional" and self.cfg.readout == "mask":  # append [MASK]
            mask = torch.full_like(seq[:, :1], self.cfg.mask_token)
            seq = torch.cat([seq, mask], dim=1)[:, -self.cfg.max_len :]
        return self.scores(self(seq)[:, -1])


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class ChunkedCrossEntropy(torch.autograd.Function):
    """Full cross-entropy over all items, ``chunk`` positions at a time, with its gradients
    computed in the same pass: the (positions x items) score matrix never exists whole, so
    memory stays at (chunk x items) whatever the batch, for the same three matrix products
    the usual forward and backward do."""

    @staticmethod
    def forward(ctx, hidden: Tensor, weights: Tensor, targets: Tensor, chunk: int) -> Tensor:
        """Mean loss of (P, d) hidden states against (N, d) item weights, targets in 0..N-1."""
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        h_all, w = (hidden.to(dtype), weights.to(dtype)) if dtype else (hidden, weights)
        acc = torch.promote_types(h_all.dtype, torch.float32)  # half precision: float32 sums
        grad_h = torch.empty_like(h_all)
        grad_w = torch.zeros_like(w, dtype=acc)
        total = hidden.new_zeros((), dtype=acc)
        rows = torch.arange(min(chunk, hidden.shape[0]), device=hidden.device)
        with torch.autocast(device, enabled=False):
            for s in range(0, hidden.shape[0], chunk):
                h, y = h_all[s : s + chunk], targets[s : s + chunk]
                r = rows[: len(y)]
                logp = torch.log_softmax((h @ w.T).to(acc), dim=-1)
                total -= logp[r, y].sum()
                p = logp.exp_()  # the softmax, then minus the one-hot target: d loss / d score
                p[r, y] -= 1.0
                p = p.to(h.dtype)
                torch.mm(p, w, out=grad_h[s : s + chunk])
                grad_w.addmm_(p.T.to(acc), h.to(acc))
        n = hidden.shape[0]
        ctx.save_for_backward(grad_h.to(hidden.dtype) / n, grad_w.to(weights.dtype) / n)
        return total / n

    @staticmethod
    def backward(ctx, grad: Tensor):
        """The gradients computed in the forward pass, times the incoming gradient."""
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad, grad_w * grad, None, None


def losses(
    hidden: Tensor,
    targets: Tensor,
    weights: Tensor,
    kind: str = "ce",
    negatives: int = 256,
    gbce_t: float = 0.75,
    generator: torch.Generator | None = None,
    chunk: int = 0,
) -> Tensor:
    """Mean training loss over the positions with a target (target id > 0).

    ``ce``: cross-entropy over the full catalogue (SASRec+, Klenitskiy & Vasilev 2023); with
    ``chunk`` > 0 computed ``chunk`` positions at a time (``ChunkedCrossEntropy``: the same
    loss and gradients in a fraction of the memory).
    ``sampled``: softmax over the target and ``negatives`` uniform negatives per sequence.
    ``gbce``: gSASRec's generalised BCE (Petrov & Macdonald 2023) with calibration t =
    ``gbce_t`` and ``negatives`` uniform negatives per sequence (gSASRec draws them per
    position; one (B, K) draw keeps the scores a batched matmul). On ML-1M here gBCE sits at
    the most-popular level for about 30 epochs before it learns (chapter 7).
    """
    keep = targets > 0
    n_items = weights.shape[0] - 1
    if kind == "ce" and chunk > 0:
        return ChunkedCrossEntropy.apply(hidden[keep], weights[1:], targets[keep] - 1, chunk)
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
