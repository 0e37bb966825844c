"""Train and evaluate HydraRec on MovieLens, from Python or the command line.

    python -m hydrarec_minimal.train --dataset ml-1m --attention hydra --mode causal \
        --epochs 30 --out runs/hydra

Writes ``DIR/checkpoint.pt`` after every epoch (plain state dicts, optimiser and RNG state)
and ``DIR/metrics.json`` (config, per-epoch history, wall times, final test metrics).
``--resume`` continues from the last checkpoint and, with the same seed and thread count,
ends with the same metrics as an uninterrupted run. Early stopping on validation NDCG@10.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import metrics as M
from .bench import _proc_status, environment, keep_freed_memory, resolve_device, trim_freed_memory
from .data import SequenceData, Split, load_movielens, pad_left
from .model import HydraRec, ModelConfig, count_parameters, losses


@dataclass
class TrainConfig:
    """A training run, completely: what the CLI takes and what metrics.json records."""

    dataset: str = "ml-1m"
    attention: str = "hydra"
    mode: str = "causal"
    max_len: int = 200
    d: int = 64
    layers: int = 2
    heads: int = 1
    dropout: float = 0.2
    ffn_mult: int = 1
    hydra_mean: bool = False  # Hydra: running mean instead of running sum (a variant)
    tied: bool = True  # output scores by the input item embeddings
    loss: str = "ce"  # 'ce' (full catalogue) | 'sampled' | 'gbce'
    negatives: int = 256
    gbce_t: float = 0.75
    mask_prob: float = 0.2  # bidirectional mode: share of items replaced by [MASK]
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    epochs: int = 50
    patience: int = 5  # epochs without a better validation NDCG@10 before stopping
    time_budget_s: float = 0.0  # stop training after this much time (0 = no budget)
    budget_clock: str = "wall"  # 'wall' seconds, or 'cpu': process CPU seconds / threads
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads (0 = torch's default)
    eval_batch_size: int = 512
    test_every_epoch: bool = False  # also record test metrics per epoch (never used to select)
    min_item_count: int = 5
    bf16: bool = False  # bfloat16 autocast for matmuls (fast on CPUs with AVX512-BF16, GPUs)
    schedule: str = "constant"  # 'constant' | 'linear' (decay to 0) | 'cosine'
    warmup: int = 0  # linear warm-up steps
    eval_every: int = 1  # validate every this many epochs (and at the last one)

    def __post_init__(self) -> None:
        """Refuse settings that cannot train, with the reason."""
        if self.loss not in ("ce", "sampled", "gbce"):
            raise ValueError(f"loss must be 'ce', 'sampled' or 'gbce', got {self.loss!r}")
        if self.batch_size < 1 or self.epochs < 0 or self.lr <= 0:
            raise ValueError("batch_size >= 1, epochs >= 0 and lr > 0 are required")
        if self.schedule not in ("constant", "linear", "cosine"):
            raise ValueError(
                f"schedule must be 'constant', 'linear' or 'cosine', got {self.schedule!r}"
            )
        if self.budget_clock not in ("wall", "cpu"):
            raise ValueError(f"budget_clock must be 'wall' or 'cpu', got {self.budget_clock!r}")
        if self.eval_every < 1 or self.warmup < 0:
            raise ValueError("eval_every must be >= 1 and warmup >= 0")
        if not 0 < self.mask_prob < 1:
            raise ValueError(f"mask_prob must be in (0, 1), got {self.mask_prob}")
        self.model_config(1)  # validates max_len, d, heads, attention, mode, dropout

    def model_config(self, num_items: int) -> ModelConfig:
        """The model's part of this configuration."""
        return ModelConfig(
            num_items=num_items,
            max_len=self.max_len,
            d=self.d,
            layers=self.layers,
            heads=self.heads,
            attention=self.attention,
            mode=self.mode,
            dropout=self.dropout,
            ffn_mult=self.ffn_mult,
            hydra_mean=self.hydra_mean,
            tied=self.tied,
        )


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


def lr_factor(cfg: TrainConfig, step: int, share: float) -> float:
    """Learning-rate multiplier: linear warm-up over ``cfg.warmup`` steps, then the schedule
    over ``share`` in [0, 1], the part of the run done (by epochs, or by wall time when a time
    budget binds sooner; wall-time schedules are not bit-identical on --resume)."""
    warm = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else 1.0
    p = min(1.0, max(0.0, share))
    decay = {"constant": 1.0, "linear": 1.0 - p, "cosine": 0.5 * (1 + math.cos(math.pi * p))}
    return warm * decay[cfg.schedule]


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def score_users(model: HydraRec, inputs: list[list[int]], batch_size: int = 512) -> torch.Tensor:
    """(U, N + 1) next-item scores for every user's input history, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    L = model.cfg.max_len
    parts = []
    for i in range(0, len(inputs), batch_size):
        seq = pad_left(inputs[i : i + batch_size], L).to(device)
        parts.append(model.score_next(seq).float().cpu())
    return torch.cat(parts)


def evaluate(
    scores: torch.Tensor,
    inputs: list[list[int]],
    targets: torch.Tensor,
    protocol: str = "full",
    popularity: torch.Tensor | None = None,
    seed: int = 0,
    all_seen: list[list[int]] | None = None,
) -> dict[str, float]:
    """Metrics of (U, N + 1) scores under 'full' ranking (seen items excluded) or 100 sampled
    negatives, 'uniform100' or 'popular100' (drawn among items the user never rated)."""
    if protocol == "full":
        return M.metrics_from_ranks(M.full_ranks(scores, targets, inputs))
    g = torch.Generator().manual_seed(seed)
    never = all_seen if all_seen is not None else inputs
    pop = popularity if protocol == "popular100" else None
    if protocol not in ("uniform100", "popular100"):
        raise ValueError(f"protocol must be 'full', 'uniform100' or 'popular100', got {protocol!r}")
    neg = M.sample_negatives(scores.shape[1] - 1, never, 100, pop, g)
    return M.metrics_from_ranks(M.sampled_ranks(scores, targets, neg))


def evaluate_all(
    scores: torch.Tensor, data: SequenceData, split: Split, which: str = "test"
) -> dict:
    """Full, uniform-100 and popularity-100 metrics for the 'valid' or 'test' targets."""
    inputs = split.test_input if which == "test" else split.valid_input
    targets = split.test_target if which == "test" else split.valid_target
    pop = M.popularity_scores(split.train, data.num_items)
    return {
        "full": evaluate(scores, inputs, targets, "full"),
        "uniform100": evaluate(scores, inputs, targets, "uniform100", pop, 0, data.sequences),
        "popular100": evaluate(scores, inputs, targets, "popular100", pop, 0, data.sequences),
    }


def most_popular_scores(split: Split, num_items: int, users: int) -> torch.Tensor:
    """The most-popular baseline: every user gets the training-set item counts as scores."""
    return M.popularity_scores(split.train, num_items).expand(users, -1)


def most_popular(
    dataset: str = "ml-1m", min_item_count: int = 5, data: SequenceData | None = None
) -> dict:
    """The most-popular baseline under every protocol, in the same layout as a training run."""
    data = data if data is not None else load_movielens(dataset, min_item_count)
    split = data.split()
    scores = most_popular_scores(split, data.num_items, data.num_users)
    valid = evaluate(scores, split.valid_input, split.valid_target)
    test = evaluate_all(scores, data, split)
    return {
        "config": {"dataset": data.name, "model": "most popular", "min_item_count": min_item_count},
        "data": data_record(data),
        "valid": valid, "test": test["full"], "test_uniform100": test["uniform100"],
        "test_popular100": test["popular100"], "environment": environment(),
        "command": f"python -m hydrarec_minimal.train --dataset {data.name} --most-popular "
        "--out DIR",
    }  # fmt: skip


def data_record(data: SequenceData) -> dict:
    """What a result says about its data: name, sizes, and the fingerprint of its order."""
    return {
        "name": data.name,
        "users": data.num_users,
        "items": data.num_items,
        "interactions": data.num_interactions,
        "fingerprint": data.fingerprint(),
    }


def test_at(result: dict, seconds: float, clock: str = "cpu_s") -> dict | None:
    """The test metrics a run had after ``seconds`` of ``clock`` ('cpu_s', 'wall_s', or
    'epoch' to count epochs): those recorded at its best validation epoch among the epochs
    finished by then. Needs a run made with ``test_every_epoch``; None if no epoch finished."""
    done = [r for r in result["history"] if "valid" in r and r[clock] <= seconds]
    if not done:
        return None
    if "test" not in done[0]:
        raise ValueError("this run did not record test metrics per epoch (test_every_epoch)")
    return max(done, key=lambda r: r["valid"]["ndcg@10"])["test"]


def append_epoch_log(path: str | Path, record: dict) -> None:
    """Append one epoch's record to a JSON-lines file as the epoch ends (``--epoch-log``), so
    a run cut off before it writes metrics.json still leaves its history."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_epoch_log(path: str | Path) -> list[dict]:
    """The per-epoch records an ``--epoch-log`` file holds, in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a checkpoint atomically (temporary file, then rename): a kill never corrupts it."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint of plain tensors and Python values (``weights_only=True``)."""
    return torch.load(path, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- training


# Settings that may change between a run and its resumption (they do not change the model).
RESUMABLE = {
    "epochs",
    "patience",
    "time_budget_s",
    "device",
    "threads",
    "eval_batch_size",
    "eval_every",
    "test_every_epoch",
}


class Stopped(Exception):
    """Raised inside ``train`` when ``should_stop`` asks to stop (the Stop button)."""


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
    """Train a model as ``cfg`` says; return (and write to ``out/metrics.json``) the results."""
    t_start, c_start = time.perf_counter(), time.process_time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        keep_freed_memory()  # large per-batch tensors reuse pages instead of faulting them in
    out = Path(out) if out is not None else None
    ckpt_path = out / "checkpoint.pt" if out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    data = data if data is not None else load_movielens(cfg.dataset, cfg.min_item_count)
    split = data.split()
    mcfg = cfg.model_config(data.num_items)
    torch.manual_seed(cfg.seed)
    model = HydraRec(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    run = {
        "history": [],
        "best": {"epoch": -1, "ndcg@10": -math.inf, "state": None},
        "wall": 0.0,
        "cpu": 0.0,
    }
    start_epoch = 0
    if resume and ckpt_path and ckpt_path.exists():
        start_epoch = restore(ckpt_path, cfg, model, opt, run)
        if progress:
            print(f"resumed from {ckpt_path} after epoch {start_epoch}", file=sys.stderr)

    if cfg.mode == "causal":
        inputs, targets = causal_examples(split.train, cfg.max_len)
    else:
        inputs, targets = pad_left([s for s in split.train if s], cfg.max_len), None
    steps = math.ceil(inputs.shape[0] / cfg.batch_size)
    history, best = run["history"], run["best"]
    stale = sum(1 for r in history if r["epoch"] > best["epoch"] and "valid" in r)
    stop_reason = "epochs"

    def wall() -> float:
        return run["wall"] + time.perf_counter() - t_start

    def cpu() -> float:  # CPU seconds per thread: what a run gets on a shared machine
        return run["cpu"] + (time.process_time() - c_start) / torch.get_num_threads()

    def spent() -> float:
        return cpu() if cfg.budget_clock == "cpu" else wall()

    for epoch in range(start_epoch, cfg.epochs):
        if best["epoch"] >= 0 and stale >= cfg.patience:
            stop_reason = "early stopping"
            break
        if cfg.time_budget_s and history and spent() >= cfg.time_budget_s:
            stop_reason = "time budget"
            break
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)  # order, masks, negatives
        order = torch.randperm(inputs.shape[0], generator=g)
        model.train()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0, total, done_steps = time.perf_counter(), 0.0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}", disable=not progress, leave=False)
        for step in bar:
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            if cfg.mode == "causal":
                x, y = inputs[idx], targets[idx]
            else:
                x, y = cloze_batch(inputs[idx], cfg.mask_prob, mcfg.mask_token, g)
            share = (epoch * steps + step) / (cfg.epochs * steps)
            if cfg.time_budget_s:
                share = max(share, spent() / cfg.time_budget_s)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(cfg, epoch * steps + step, share)
            total += train_step(cfg, model, opt, x.to(device), y.to(device), g)
            done_steps += 1
            bar.set_postfix(loss=f"{total / done_steps:.3f}")
            if on_step:
                on_step(step + 1, steps, total / done_steps)
            if should_stop and should_stop():
                raise Stopped(f"stopped during epoch {epoch + 1}")
            if cfg.time_budget_s and spent() >= cfg.time_budget_s:
                stop_reason = "time budget"
                break  # finish this (partial) epoch: evaluate and checkpoint it
        record = {
            "epoch": epoch + 1,
            "loss": total / max(1, done_steps),
            "steps": done_steps,
            "train_s": time.perf_counter() - t0,
            "peak_memory_bytes": peak_memory(device),
        }
        last = epoch + 1 == cfg.epochs or stop_reason == "time budget"
        if (epoch + 1) % cfg.eval_every == 0 or last:
            record.update(validate(cfg, model, split))
            if record["valid"]["ndcg@10"] > best["ndcg@10"]:
                state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                best.update(epoch=epoch + 1, state=state, **{"ndcg@10": record["valid"]["ndcg@10"]})
                stale = 0
            else:
                stale += 1
        if device.type == "cpu":
            trim_freed_memory()  # bounded memory over long runs (see its docstring)
        record["wall_s"], record["cpu_s"] = wall(), cpu()
        history.append(record)
        if progress:
            print(describe(record), file=sys.stderr)
        if ckpt_path:
            save_checkpoint(
                ckpt_path, checkpoint_state(cfg, model, opt, epoch, history, best, wall(), cpu())
            )
        if on_epoch:
            on_epoch(record)

    result = finish(cfg, model, data, split, history, best, stop_reason, wall())
    result["cpu_time_per_thread_s"] = cpu()
    if out:
        (out / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def train_step(cfg: TrainConfig, model: HydraRec, opt, x, y, g: torch.Generator) -> float:
    """One optimiser step on a batch; returns its loss."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        hidden = model(x)
        loss = losses(hidden, y, model.item_weights(), cfg.loss, cfg.negatives, cfg.gbce_t, g)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def validate(cfg: TrainConfig, model: HydraRec, split: Split) -> dict:
    """Validation metrics (and test metrics, if ``cfg.test_every_epoch``) for the history."""
    keys = ("ndcg@10", "hr@10", "mrr")
    t0 = time.perf_counter()
    scores = score_users(model, split.valid_input, cfg.eval_batch_size)
    valid = evaluate(scores, split.valid_input, split.valid_target)
    out = {"valid": {k: valid[k] for k in keys}}
    if cfg.test_every_epoch:  # recorded for time-budget curves; never used to choose a model
        scores = score_users(model, split.test_input, cfg.eval_batch_size)
        test = evaluate(scores, split.test_input, split.test_target)
        out["test"] = {k: test[k] for k in keys}
    out["eval_s"] = time.perf_counter() - t0
    return out


def describe(record: dict) -> str:
    """One line per epoch for the terminal."""
    line = f"epoch {record['epoch']}: loss {record['loss']:.4f}  ({record['train_s']:.1f} s train"
    if "valid" in record:
        line += f", {record['eval_s']:.1f} s eval)  valid NDCG@10 {record['valid']['ndcg@10']:.4f}"
    return line + (")" if "valid" not in record else "")


def checkpoint_state(cfg, model, opt, epoch, history, best, wall_s, cpu_s) -> dict:
    """Everything a resumed run needs, as plain tensors, numbers and JSON strings."""
    return {
        "config": json.dumps(asdict(cfg)), "model": model.state_dict(), "optim": opt.state_dict(),
        "rng": torch.get_rng_state(), "epoch": epoch, "history": json.dumps(history),
        "best_epoch": best["epoch"], "best_ndcg": best["ndcg@10"], "best_state": best["state"],
        "wall_s": wall_s, "cpu_s": cpu_s,
    }  # fmt: skip


def restore(path: Path, cfg: TrainConfig, model: HydraRec, opt, run: dict) -> int:
    """Load a checkpoint into model, optimiser, RNG and ``run``; return the epoch to start at."""
    ck = load_checkpoint(path)
    saved, now, default = json.loads(ck["config"]), asdict(cfg), asdict(TrainConfig())
    changed = sorted(
        k for k in now if k not in RESUMABLE and saved.get(k, default[k]) != now[k]
    )  # a setting added after the checkpoint was written counts as its default
    if changed:
        raise ValueError(
            f"{path} was written with other settings ({', '.join(changed)}); "
            "resume with the same settings or use a new --out"
        )
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    torch.set_rng_state(ck["rng"])
    run["history"] = json.loads(ck["history"])
    run["best"] = {"epoch": ck["best_epoch"], "ndcg@10": ck["best_ndcg"], "state": ck["best_state"]}
    run["wall"], run["cpu"] = ck["wall_s"], ck["cpu_s"]
    return ck["epoch"] + 1


def peak_memory(device: torch.device) -> int | None:
    """Peak memory since the epoch began: CUDA allocator's peak, or the process's peak
    resident size on Linux CPUs (never reset, so an upper bound), else None."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return _proc_status("VmHWM")


def finish(cfg, model, data, split, history, best, stop_reason, wall_s) -> dict:
    """Load the best validation state, evaluate it on the test targets, assemble the record."""
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    t0 = time.perf_counter()
    test = evaluate_all(score_users(model, split.test_input, cfg.eval_batch_size), data, split)
    return {
        "config": asdict(cfg),
        "model": asdict(cfg.model_config(data.num_items)),
        "parameters": count_parameters(model),
        "data": data_record(data),
        "history": history,
        "best_epoch": best["epoch"],
        "stop_reason": stop_reason,
        "valid": {"ndcg@10": best["ndcg@10"]},
        "test": test["full"],
        "test_uniform100": test["uniform100"],
        "test_popular100": test["popular100"],
        "wall_time_s": wall_s,
        "train_time_s": sum(r["train_s"] for r in history),
        "test_eval_s": time.perf_counter() - t0,
        "environment": environment(model_device=str(next(model.parameters()).device)),
        "command": "python -m hydrarec_minimal.train " + " ".join(cli_args(cfg)) + " --out DIR",
    }


# ----------------------------------------------------------------------------- CLI


def cli_args(cfg: TrainConfig) -> list[str]:
    """The command-line arguments that reproduce ``cfg`` (non-default fields only)."""
    default = TrainConfig()
    args = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value != getattr(default, f.name):
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
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            p.add_argument(
                flag, type={"int": int, "float": float, "str": str}[f.type], default=f.default
            )
    p.add_argument("--out", required=True, help="folder for checkpoint.pt and metrics.json")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.add_argument("--most-popular", action="store_true", help="evaluate the most-popular baseline")
    p.add_argument("--epoch-log", help="append each epoch's record to this JSON-lines file")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the final test metrics."""
    args = parser().parse_args(argv)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.most_popular:
        result = most_popular(cfg.dataset, cfg.min_item_count)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    else:
        log = args.epoch_log
        on_epoch = (lambda record: append_epoch_log(log, record)) if log else None
        result = train(
            cfg, args.out, resume=args.resume, progress=not args.quiet, on_epoch=on_epoch
        )
    t = result["test"]
    print(f"test (full ranking): NDCG@10 {t['ndcg@10']:.4f}  HR@10 {t['hr@10']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
