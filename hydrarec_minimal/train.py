"""Train and evaluate HydraRec on MovieLens, from Python or the command line.

    python -m hydrarec_minimal.train --recipe cpu15 --attention hydra --mode causal --out DIR

Writes ``DIR/checkpoint.pt`` after every epoch (plain state dicts, optimiser and RNG state)
and ``DIR/metrics.json`` (settings, per-epoch history, times, test metrics and each user's
test rank). ``--resume`` continues from the last checkpoint and, with the same seed and
thread count, ends with the same metrics as an uninterrupted run. Early stopping on
validation NDCG@10. Named recipes (``RECIPES``, ``--recipe``) hold the book's settings.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import metrics as M
from .data import ORDERS, SequenceData, Split, load_movielens, pad_left
from .distributed import Group, local_device, process_group
from .machine import (
    AUTOCAST_DTYPES,
    denormals_flushed,
    environment,
    freed_memory_kept,
    proc_status,
    resolve_device,
    resolve_precision,
    torch_threads,
    trim_freed_memory,
)
from .model import MODELS, HydraRec, ModelConfig, count_parameters, losses
from .runs import append_epoch, load_checkpoint, write

LOSSES = ("ce", "sampled", "gbce")
SOLO = Group()  # a run of one process
SCHEDULES = ("constant", "linear", "cosine")


@dataclass
class TrainConfig(ModelConfig):
    """A training run, completely: the model's settings (inherited from ``ModelConfig``, its
    item count left to the data) plus how to train it. What the CLI takes and metrics.json
    records."""

    dataset: str = "ml-1m"
    order: str = "time"  # 'time', or 'shuffled': each history's films randomly permuted
    loss: str = "ce"  # 'ce' (full catalogue) | 'sampled' | 'gbce'
    negatives: int = 256
    gbce_t: float = 0.75
    loss_chunk: int = 0  # 'ce': score this many positions at a time (0 = the whole batch)
    mask_prob: float = 0.2  # bidirectional mode: share of items replaced by [MASK]
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    epochs: int = 50
    patience: int = 5  # validations without a better NDCG@10 before stopping
    time_budget_s: float = 0.0  # stop training after this much time (0 = no budget)
    budget_clock: str = "wall"  # 'wall' seconds, or 'cpu': process CPU seconds / threads
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads during the run (0 = leave as is)
    eval_batch_size: int = 512
    test_every_epoch: bool = False  # also record test metrics per epoch (never used to select)
    min_item_count: int = 5
    precision: str = "fp32"  # 'fp32' | 'bf16' | 'fp16' | 'auto' (bf16 where it is fast)
    schedule: str = "constant"  # 'constant' | 'linear' (decay to 0) | 'cosine'
    warmup: int = 0  # linear warm-up steps
    eval_every: int = 1  # validate every this many epochs (and at the last one)
    recipe: str = ""  # the named recipe these settings started from (RECIPES), if any
    model: str = ""  # the named model (model.MODELS) they started from, if any

    @classmethod
    def from_recipe(cls, name: str, model: str = "", **overrides) -> TrainConfig:
        """A named recipe's settings (``RECIPES``), then a named model's (``model.MODELS``),
        then ``overrides``."""
        if name not in RECIPES:
            raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
        shape = MODELS[model][1] | {"model": model} if model in MODELS else {"model": model}
        return cls(**(RECIPES[name] | {"recipe": name} | shape | overrides))

    def __post_init__(self) -> None:
        """Refuse settings that cannot train, with the reason."""
        super().__post_init__()  # the model's settings
        choices = {"loss": LOSSES, "schedule": SCHEDULES, "order": ORDERS}
        choices |= {"budget_clock": ("wall", "cpu")}
        choices |= {"precision": ("auto", *AUTOCAST_DTYPES)}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.batch_size < 1 or self.epochs < 0 or self.lr <= 0:
            raise ValueError("batch_size >= 1, epochs >= 0 and lr > 0 are required")
        if self.eval_every < 1 or self.warmup < 0:
            raise ValueError("eval_every must be >= 1 and warmup >= 0")
        if not 0 < self.mask_prob < 1:
            raise ValueError(f"mask_prob must be in (0, 1), got {self.mask_prob}")
        if self.recipe and self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose one of {sorted(RECIPES)}")
        if self.model and self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {sorted(MODELS)}")

    def model_config(self, num_items: int) -> ModelConfig:
        """The model's part of this configuration, for a data set of ``num_items`` items."""
        shape = {f.name: getattr(self, f.name) for f in dataclasses.fields(ModelConfig)}
        return ModelConfig(**(shape | {"num_items": num_items}))

    def record(self) -> dict:
        """The settings as metrics.json stores them (the item count is the data's)."""
        return {k: v for k, v in asdict(self).items() if k != "num_items"}


# The book's training recipes, by name: every script, chapter and the README use these names
# instead of re-typing flags. "cpu15" is Part III's harness: 15 minutes of CPU time per thread
# on 2 threads, the model kept at its best validation epoch, test scores recorded every epoch
# for the curves (never to choose); bfloat16 where the processor runs it fast, else float32.
# "gpu-converge" trains the same model to early stopping; "gpu-sweep" trains it for a fixed
# 60 epochs, validating after each (the appendix's recipe search reads them at any epoch).
_BOOK = dict(
    max_len=200, d=64, layers=2, dropout=0.2, loss="ce", lr=2e-3, batch_size=128, precision="auto"
)
_CPU15 = dict(
    epochs=500,
    patience=500,
    time_budget_s=900.0,
    budget_clock="cpu",
    threads=2,
    test_every_epoch=True,
)
_GPU_CONVERGE = dict(epochs=400, eval_every=2, patience=8, device="cuda", threads=1,
                     test_every_epoch=True)
# SASRec+'s published hyperparameters (Klenitskiy & Vasilev 2023, their configs): embeddings
# N(0, 0.02) times sqrt(d), dropout 0.1, ReLU, lr 1e-3, float32
_SASREC_PLUS = dict(attention="sdpa", lr=1e-3, dropout=0.1, init_std=0.02,
                    scale_embeddings=True, activation="relu", precision="fp32")
RECIPES: dict[str, dict] = {
    "cpu15": _BOOK | _CPU15,
    "cpu45": _BOOK | _CPU15 | dict(patience=10, time_budget_s=2700.0),
    "gpu-converge": _BOOK | _GPU_CONVERGE,
    "gpu-sweep": _BOOK | _GPU_CONVERGE | dict(epochs=60, eval_every=1, patience=60),
    "sasrec-plus": _BOOK | _CPU15 | _SASREC_PLUS,  # on the cpu15 budget
    "sasrec-plus-converge": _BOOK | _GPU_CONVERGE | _SASREC_PLUS,  # to early stopping
}  # fmt: skip


# ----------------------------------------------------------------------------- batches


def causal_examples(train: list[list[int]], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-item pairs: inputs s[:-1] and targets s[1:], the last max_len of each, left-padded."""
    usable = [s for s in train if len(s) >= 2]
    return pad_left([s[:-1] for s in usable], max_len), pad_left([s[1:] for s in usable], max_len)


def cloze_batch(
    seqs: torch.Tensor, mask_prob: float, mask_token: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT4Rec's cloze task: replace a random share of the real items by [MASK] (at least
    one per sequence, always including the last position half of the time as in the
    evaluation) and ask for them back. Returns (inputs, targets with 0 where not masked)."""
    real = seqs > 0
    masked = (torch.rand(seqs.shape, generator=generator) < mask_prob) & real
    last = torch.rand(seqs.shape[0], generator=generator) < 0.5
    masked[:, -1] |= last & real[:, -1]
    none = ~masked.any(1) & real.any(1)
    if none.any():  # guarantee one masked item: the last real one
        masked[none, -1] = True
    inputs = seqs.masked_fill(masked, mask_token)
    targets = seqs.masked_fill(~masked, 0)
    return inputs, targets


def cloze_next_batch(
    seqs: torch.Tensor, mask_prob: float, mask_token: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cloze task for a model read out at its last real item (``readout="last"``): the
    history without its last film, some items replaced by [MASK] as in ``cloze_batch`` but
    never the last position, whose target is the film that follows (0 where there is none)."""
    history = torch.cat([torch.zeros_like(seqs[:, :1]), seqs[:, :-1]], dim=1)
    real = history > 0
    masked = (torch.rand(history.shape, generator=generator) < mask_prob) & real
    masked[:, -1] = False
    inputs = history.masked_fill(masked, mask_token)
    targets = history.masked_fill(~masked, 0)
    targets[:, -1] = torch.where(real[:, -1], seqs[:, -1], torch.zeros_like(seqs[:, -1]))
    return inputs, targets


def training_examples(cfg: TrainConfig, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Causal: (inputs, next-item targets). Bidirectional: (histories, None); each batch's
    cloze masks are drawn as it is used."""
    if cfg.mode == "causal":
        return causal_examples(split.train, cfg.max_len)
    return pad_left([s for s in split.train if s], cfg.max_len), None


def lr_factor(cfg: TrainConfig, step: int, share: float) -> float:
    """Learning-rate multiplier: linear warm-up over ``cfg.warmup`` steps, then the schedule
    over ``share`` in [0, 1], the part of the run done (by epochs, or by time when a time
    budget binds sooner; time-based schedules are not bit-identical on --resume)."""
    warm = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
    p = min(1.0, max(0.0, share))
    decay = {"constant": 1.0, "linear": 1.0 - p, "cosine": 0.5 * (1 + math.cos(math.pi * p))}
    return warm * decay[cfg.schedule]


# ----------------------------------------------------------------------------- one step


def train_step(cfg: TrainConfig, model: HydraRec, opt, x, y, g: torch.Generator, scaler=None):
    """One optimiser step on a batch; returns its loss. ``cfg.precision`` is a resolved one
    ('fp32', 'bf16' or 'fp16'); fp16 needs a gradient ``scaler``."""
    dtype = AUTOCAST_DTYPES[cfg.precision]
    weights = getattr(model, "module", model).item_weights  # the model, or DDP's wrapped one
    with torch.autocast(x.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        hidden = model(x)
        loss = losses(hidden, y, weights(), cfg.loss, cfg.negatives, cfg.gbce_t, g, cfg.loss_chunk)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return loss.item()


# ----------------------------------------------------------------------------- the loop


class Stopped(Exception):
    """Raised inside ``train`` when ``should_stop`` asks to stop (the Stop button)."""


@dataclass
class Run:
    """What a run carries from epoch to epoch, and its checkpoint stores."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1  # the epoch with the best validation NDCG@10 so far (1-based)
    best_ndcg: float = -math.inf
    best_state: dict | None = None
    wall_before: float = 0.0  # seconds spent before this process started (a resumed run)
    cpu_before: float = 0.0
    stop_reason: str = "epochs"
    started: tuple[float, float] = field(
        default_factory=lambda: (time.perf_counter(), time.process_time())
    )

    def wall(self) -> float:
        """Wall seconds of the whole run."""
        return self.wall_before + time.perf_counter() - self.started[0]

    def cpu(self) -> float:
        """CPU seconds per thread of the whole run: what it got on a shared machine."""
        return self.cpu_before + (time.process_time() - self.started[1]) / torch.get_num_threads()

    def spent(self, cfg: TrainConfig) -> float:
        """The time the budget counts: CPU or wall seconds."""
        return self.cpu() if cfg.budget_clock == "cpu" else self.wall()

    def stale(self) -> int:
        """Validations since the best one."""
        return sum(1 for r in self.history if r["epoch"] > self.best_epoch and "valid" in r)

    def done(self, cfg: TrainConfig) -> bool:
        """True (and the reason noted) when early stopping or the time budget ends the run."""
        if self.best_epoch >= 0 and self.stale() >= cfg.patience:
            self.stop_reason = "early stopping"
        elif cfg.time_budget_s and self.history and self.spent(cfg) >= cfg.time_budget_s:
            self.stop_reason = "time budget"
        return self.stop_reason != "epochs"

    def keep_if_best(self, record: dict, model: HydraRec) -> None:
        """Remember the model's weights when this epoch's validation is the best so far."""
        if record["valid"]["ndcg@10"] > self.best_ndcg:
            self.best_ndcg, self.best_epoch = record["valid"]["ndcg@10"], record["epoch"]
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def train(
    cfg: TrainConfig,
    out: str | Path | None = None,
    resume: bool = False,
    data: SequenceData | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train a model as ``cfg`` says; return (and write to ``out/metrics.json``) the results.
    The caller's random state, thread count and allocator settings are left as they were."""
    device = local_device(resolve_device(cfg.device))
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))
    data = data if data is not None else load_movielens(cfg.dataset, cfg.min_item_count)
    split = data.split(cfg.order)
    ckpt = Path(out) / "checkpoint.pt" if out is not None else None
    if ckpt:
        ckpt.parent.mkdir(parents=True, exist_ok=True)
    with session(cfg, device) as group:  # ranks of a torchrun launch, or a group of one
        torch.manual_seed(cfg.seed)
        model = HydraRec(cfg.model_config(data.num_items)).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None
        progress = progress and group.main
        run = (
            restore(ckpt, cfg, model, opt, progress) if resume and ckpt and ckpt.exists() else Run()
        )
        examples, net = training_examples(cfg, split), group.wrap(model)
        for epoch in range(len(run.history), cfg.epochs):
            if group.agree(run.done(cfg)):
                break
            record = run_epoch(
                cfg, net, opt, scaler, examples, epoch, run, progress, on_step, should_stop, group
            )
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs or run.done(cfg):
                record.update(validate(cfg, model, split, group))
                run.keep_if_best(record, model)
            if device.type == "cpu":  # hand the epoch's freed memory back: a flat footprint
                trim_freed_memory(0.0)  # for about 1% of an epoch (its pages fault in again)
            record["wall_s"], record["cpu_s"] = run.wall(), run.cpu()
            run.history.append(record)
            if progress:
                print(describe(record), file=sys.stderr)
            if ckpt and group.main:
                save_checkpoint(ckpt, checkpoint_state(cfg, model, opt, run))
            if on_epoch:
                on_epoch(record)
        return finish(cfg, model, data, split, run, out if group.main else None, group)


@contextlib.contextmanager
def session(cfg: TrainConfig, device: torch.device) -> Iterator[Group]:
    """Everything a run changes in the process, undone when it ends: the random state, the
    thread count, the CPU memory settings, and (under torchrun) the process group."""
    with torch.random.fork_rng(), torch_threads(cfg.threads), memory_settings(device):
        with process_group(device) as group:
            yield group


@contextlib.contextmanager
def memory_settings(device: torch.device):
    """On the CPU, during the run, glibc keeps freed memory for reuse (a training step about
    twice as fast) and denormal numbers count as zero (10 to 25% faster); elsewhere nothing
    changes. Both are undone when the run ends."""
    if device.type != "cpu":
        yield
        return
    with freed_memory_kept(), denormals_flushed():
        yield


def run_epoch(cfg, model, opt, scaler, examples, epoch, run, progress, on_step, should_stop,
              group=SOLO):  # fmt: skip
    """One pass over the users, in an order fixed by the seed and the epoch (a time budget
    may end it early); returns the epoch's record. Under torchrun each rank takes its share
    of every batch, and a last batch too small to share is left out."""
    inputs, targets = examples
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)  # order, masks, negatives
    order = torch.randperm(inputs.shape[0], generator=g)
    steps = math.ceil(inputs.shape[0] / cfg.batch_size)
    if steps and inputs.shape[0] - (steps - 1) * cfg.batch_size < group.world:
        steps -= 1
    model.train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0, total, done = time.perf_counter(), 0.0, 0
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}", disable=not progress, leave=False)
    for step in bar:
        idx = group.shard(order[step * cfg.batch_size : (step + 1) * cfg.batch_size])
        if targets is not None:
            x, y = inputs[idx], targets[idx]
        else:
            core = getattr(model, "module", model).cfg
            make = cloze_next_batch if core.readout == "last" else cloze_batch
            x, y = make(inputs[idx], cfg.mask_prob, core.mask_token, g)
        share = (epoch * steps + step) / (cfg.epochs * steps)
        if cfg.time_budget_s:
            share = max(share, run.spent(cfg) / cfg.time_budget_s)
        for param_group in opt.param_groups:
            param_group["lr"] = cfg.lr * lr_factor(cfg, epoch * steps + step, share)
        total += train_step(cfg, model, opt, x.to(device), y.to(device), g, scaler)
        done += 1
        bar.set_postfix(loss=f"{total / done:.3f}")
        if on_step:
            on_step(step + 1, steps, total / done)
        if should_stop and should_stop():
            raise Stopped(f"stopped during epoch {epoch + 1}")
        if cfg.time_budget_s and group.world == 1 and run.spent(cfg) >= cfg.time_budget_s:
            break  # finish this (partial) epoch; several ranks check between epochs only
    return {
        "epoch": epoch + 1,
        "loss": total / max(1, done),
        "steps": done,
        "train_s": time.perf_counter() - t0,
        "peak_memory_bytes": peak_memory(device),
    }


def validate(cfg: TrainConfig, model: HydraRec, split: Split, group: Group = SOLO) -> dict:
    """Validation metrics (and test metrics, if ``cfg.test_every_epoch``) for the history."""
    keys = ("ndcg@10", "hr@10", "mrr")
    t0 = time.perf_counter()
    valid = M.metrics_from_ranks(ranks(cfg, model, split.valid_input, split.valid_target, group))
    out = {"valid": {k: valid[k] for k in keys}}
    if cfg.test_every_epoch:  # recorded for time-budget curves; never used to choose a model
        test = M.metrics_from_ranks(ranks(cfg, model, split.test_input, split.test_target, group))
        out["test"] = {k: test[k] for k in keys}
    out["eval_s"] = time.perf_counter() - t0
    return out


def ranks(cfg, model, inputs, targets, group: Group = SOLO, negatives=None) -> torch.Tensor:
    """Every user's target rank: each rank of a torchrun launch scores its block of users,
    and the blocks are gathered, so the numbers are one process's."""
    part = group.block(len(inputs))
    negs = None if negatives is None else negatives[part]
    mine = M.model_ranks(model, inputs[part], targets[part], cfg.eval_batch_size, negs)
    return group.gather(mine)


def describe(record: dict) -> str:
    """One line per epoch for the terminal."""
    line = f"epoch {record['epoch']}: loss {record['loss']:.4f}  ({record['train_s']:.1f} s train"
    if "valid" in record:
        line += f", {record['eval_s']:.1f} s eval)  valid NDCG@10 {record['valid']['ndcg@10']:.4f}"
    return line + (")" if "valid" not in record else "")


def peak_memory(device: torch.device) -> int | None:
    """Peak memory since the epoch began: CUDA allocator's peak, or the process's peak
    resident size on Linux CPUs (never reset, so an upper bound), else None."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return proc_status("VmHWM")


# ----------------------------------------------------------------------------- checkpoints

# Settings that may change between a run and its resumption (they do not change the model).
RESUMABLE = {"recipe", "model", "loss_chunk", "epochs", "patience", "time_budget_s", "device",
             "threads", "eval_batch_size", "eval_every", "test_every_epoch"}  # fmt: skip


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a checkpoint atomically (temporary file, then rename): a kill never corrupts it."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def checkpoint_state(cfg: TrainConfig, model: HydraRec, opt, run: Run) -> dict:
    """Everything a resumed run needs, as plain tensors, numbers and JSON strings."""
    return {
        "config": json.dumps(cfg.record()), "model": model.state_dict(), "optim": opt.state_dict(),
        "rng": torch.get_rng_state(), "epoch": len(run.history) - 1,
        "history": json.dumps(run.history), "best_epoch": run.best_epoch,
        "best_ndcg": run.best_ndcg, "best_state": run.best_state, "wall_s": run.wall(),
        "cpu_s": run.cpu(),
    }  # fmt: skip


def restore(path: Path, cfg: TrainConfig, model: HydraRec, opt, progress: bool = True) -> Run:
    """Load a checkpoint into model, optimiser and RNG; return the run it had reached. A
    setting the checkpoint predates counts as its default; any other change is refused."""
    ck = load_checkpoint(path)
    saved, now, default = json.loads(ck["config"]), cfg.record(), TrainConfig().record()
    if "bf16" in saved:  # written before 'precision' replaced the bf16 flag
        saved.setdefault("precision", "bf16" if saved.pop("bf16") else "fp32")
    changed = sorted(k for k in now if k not in RESUMABLE and saved.get(k, default[k]) != now[k])
    if changed:
        raise ValueError(
            f"{path} was written with other settings ({', '.join(changed)}); "
            "resume with the same settings or use a new --out"
        )
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    torch.set_rng_state(ck["rng"])
    if progress:
        print(f"resumed from {path} after epoch {ck['epoch'] + 1}", file=sys.stderr)
    return Run(
        history=json.loads(ck["history"]), best_epoch=ck["best_epoch"],
        best_ndcg=ck["best_ndcg"], best_state=ck["best_state"], wall_before=ck["wall_s"],
        cpu_before=ck["cpu_s"],
    )  # fmt: skip


# ----------------------------------------------------------------------------- the record


def finish(cfg, model, data, split, run: Run, out, group: Group = SOLO) -> dict:
    """Load the best validation state, evaluate it on the test targets, assemble the record
    (written to ``out/metrics.json`` when ``out`` is given)."""
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    t0 = time.perf_counter()
    test_ranks = ranks(cfg, model, split.test_input, split.test_target, group)
    test = {"full": M.metrics_from_ranks(test_ranks)}
    for protocol in ("uniform100", "popular100"):
        negatives = M.protocol_negatives(protocol, data, split)
        sampled = ranks(cfg, model, split.test_input, split.test_target, group, negatives)
        test[protocol] = M.metrics_from_ranks(sampled)
    result = {
        "config": cfg.record(),
        "model": asdict(cfg.model_config(data.num_items)),
        "parameters": count_parameters(model),
        "data": data.summary(),
        "history": run.history,
        "best_epoch": run.best_epoch,
        "stop_reason": run.stop_reason,
        "valid": {"ndcg@10": run.best_ndcg},
        "test": test["full"],
        "test_uniform100": test["uniform100"],
        "test_popular100": test["popular100"],
        "test_ranks": test_ranks.tolist(),
        "wall_time_s": run.wall(),
        "cpu_time_per_thread_s": run.cpu(),
        "train_time_s": sum(r["train_s"] for r in run.history),
        "test_eval_s": time.perf_counter() - t0,
        "environment": environment(model_device=str(next(model.parameters()).device)),
        "command": "python -m hydrarec_minimal.train " + " ".join(cli_args(cfg)) + " --out DIR",
    }
    with torch.no_grad():
        if lives := model.decay_half_lives():  # what a model with forgetting learned
            result["decay_half_lives"] = lives
    if out is not None:
        write(Path(out) / "metrics.json", result)
    return result


# ----------------------------------------------------------------------------- CLI


def cli_args(cfg: TrainConfig) -> list[str]:
    """The command-line arguments that reproduce ``cfg``: its recipe, if any, then the fields
    that differ from it (or from the defaults)."""
    named = {"recipe": cfg.recipe, "model": cfg.model}
    default = TrainConfig.from_recipe(cfg.recipe, cfg.model) if cfg.recipe else TrainConfig()
    if not cfg.recipe and cfg.model:
        default = TrainConfig(**MODELS[cfg.model][1], model=cfg.model)
    args = [x for k, v in named.items() if v for x in (f"--{k}", v)]
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in ("num_items", *named) or value == getattr(default, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        else:
            args += [flag, str(value)]
    return args


def parser() -> argparse.ArgumentParser:
    """An argument parser with one flag per TrainConfig field, plus --out and --resume."""
    p = argparse.ArgumentParser(
        prog="python -m hydrarec_minimal.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for f in dataclasses.fields(TrainConfig):
        if f.name == "num_items":  # the data's
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            p.add_argument(flag, type=kind, default=f.default)
    p.add_argument("--out", required=True, help="folder for checkpoint.pt and metrics.json")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.add_argument("--epoch-log", help="append each epoch's record to this JSON-lines file")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the final test metrics."""
    p = parser()
    named = p.parse_known_args(argv)[0]
    if named.recipe in RECIPES:  # the recipe's values become the defaults, then the model's;
        p.set_defaults(**RECIPES[named.recipe])  # explicit flags still win
    if named.model in MODELS:
        p.set_defaults(**MODELS[named.model][1])
    args = p.parse_args(argv)
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"num_items"}
    try:
        cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log = args.epoch_log
    on_epoch = (lambda record: append_epoch(log, record)) if log else None
    result = train(cfg, args.out, resume=args.resume, progress=not args.quiet, on_epoch=on_epoch)
    t = result["test"]
    print(f"test (full ranking): NDCG@10 {t['ndcg@10']:.4f}  HR@10 {t['hr@10']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
