"""Result files: where the stored runs live, how a run's record is read and written, and
the few summaries every chapter takes from a group of runs.

A training run writes ``metrics.json`` (settings, per-epoch history, test metrics, the data's
fingerprint, the machine) and, while it runs, may append each epoch to a JSON-lines log. The
book's stored runs live in ``results/`` and the benchmarks in ``benchmarks/`` of the
repository; an installed package carries a copy of both, so a chapter opened alone (Colab)
reads the same files.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import torch

from . import metrics as M
from .machine import environment
from .model import HydraRec, ModelConfig

CHECKOUT = Path(__file__).resolve().parent.parent  # the repository, when run from a checkout
STORED = ("results", "benchmarks")  # the folders of stored outputs
SIGNIFICANCE = 0.01  # the book's rule: a paired difference counts when p is below this


def stored(folder: str, *parts: str) -> Path:
    """The path of a stored output, ``folder`` being 'results' or 'benchmarks': in the
    repository when the package runs from a checkout, else the copy installed with it."""
    if folder not in STORED:
        raise ValueError(f"stored outputs live in {STORED}, not {folder!r}")
    here = CHECKOUT / folder
    if here.is_dir():
        return here.joinpath(*parts)
    return Path(str(resources.files("hydrarec_minimal").joinpath("stored", folder, *parts)))


def read(path: str | Path) -> dict:
    """A stored JSON file (a run's metrics.json, a benchmark), with old keys brought up to
    date: a run's ``bf16`` flag becomes its ``precision``."""
    record = json.loads(Path(path).read_text())
    cfg = record.get("config")
    if isinstance(cfg, dict) and "bf16" in cfg and "precision" not in cfg:
        cfg["precision"] = "bf16" if cfg.pop("bf16") else "fp32"
    return record


def write(path: str | Path, record: dict) -> Path:
    """Write a record as indented JSON (a temporary file, then a rename: never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def append_epoch(path: str | Path, record: dict) -> None:
    """Append one epoch's record to a JSON-lines file as the epoch ends (``--epoch-log``), so
    a run cut off before it writes metrics.json still leaves its history."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_epochs(path: str | Path) -> list[dict]:
    """The per-epoch records an ``--epoch-log`` file holds, in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


# ----------------------------------------------------------------------------- benchmark tables


def write_table(out: str | Path, kind: str, rows: list[dict], **extra) -> tuple[Path, Path]:
    """Write a benchmark's rows: OUT.json (rows, environment, extra) and OUT.csv; return both."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": kind,
        "environment": environment(extra.pop("device", "cpu")),
        **extra,
        "rows": rows,
    }
    jpath, cpath = out.with_suffix(".json"), out.with_suffix(".csv")
    jpath.write_text(json.dumps(payload, indent=1) + "\n")
    keys = sorted({k for r in rows for k in r if k != "times_s"})
    with open(cpath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in keys})
    return jpath, cpath


# Row keys renamed since the first stored files: features are 'd', the attention is 'attention'.
_RENAMED = {"D": "d", "kind": "attention", "attention_kind": "attention", "L": "max_len"}


def read_table(path: str | Path) -> dict:
    """Read a benchmark written by ``write_table`` (older files' row keys brought up to date)."""
    payload = json.loads(Path(path).read_text())
    payload["rows"] = [{_RENAMED.get(k, k): v for k, v in r.items()} for r in payload["rows"]]
    return payload


# ----------------------------------------------------------------------------- groups of runs


def seeds(group: str, name: str) -> list[dict]:
    """Every stored seed of one model, ``results/<group>/<name>_s<seed>.json``, by seed."""
    paths = stored("results", group).glob(f"{name}_s*.json")
    runs = [read(p) for p in paths if p.stem[len(name) + 2 :].isdigit()]
    return sorted(runs, key=lambda r: r["config"]["seed"])


def same_data(runs: Iterable[dict]) -> str:
    """The data fingerprint all ``runs`` share; ValueError naming the odd ones out otherwise
    (two orders of the same films are two data sets, and never share a table)."""
    prints = {}
    for r in runs:
        label = r.get("command", "") or r.get("config", {}).get("model", "")
        prints.setdefault(r.get("data", {}).get("fingerprint"), []).append(label)
    if len(prints) != 1:
        detail = "; ".join(f"{fp}: {len(v)} run(s)" for fp, v in prints.items())
        raise ValueError(f"these runs were measured on different data ({detail})")
    (fingerprint,) = prints
    if fingerprint is None:
        raise ValueError("these runs record no data fingerprint (made before it existed)")
    return fingerprint


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        raise ValueError("no values")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def mean_pm(values: Sequence[float | None], digits: int = 4) -> str:
    """'0.1234 ± 0.0012' over the values given (None skipped), one value alone, '—' for none."""
    kept = [v for v in values if v is not None]
    if not kept:
        return "—"
    m, s = mean_std(kept)
    return f"{m:.{digits}f} ± {s:.{digits}f}" if len(kept) > 1 else f"{m:.{digits}f}"


def mean_metric(found: Sequence[dict], metric: str = "ndcg@10", split: str = "test") -> float:
    """One metric averaged over a model's runs (its seeds): the number chapters compare."""
    if not found:
        raise ValueError("no runs")
    return statistics.fmean(r[split][metric] for r in found)


def test_at(result: dict, budget: float, clock: str = "cpu_s") -> dict | None:
    """The test metrics a run had after ``budget`` of ``clock`` ('cpu_s', 'wall_s', or 'epoch'
    to count epochs): those recorded at its best validation epoch among the epochs finished
    by then. Needs a run made with ``test_every_epoch``; None if no epoch finished."""
    done = [r for r in result["history"] if "valid" in r and r[clock] <= budget]
    if not done:
        return None
    if "test" not in done[0]:
        raise ValueError("this run did not record test metrics per epoch (test_every_epoch)")
    return max(done, key=lambda r: r["valid"]["ndcg@10"])["test"]


def first_epoch_above(history: Sequence[dict], level: float, after: int = 0) -> int | None:
    """The first epoch after ``after`` whose validation NDCG@10 exceeds ``level``: when a run
    left a baseline behind (``after`` skips an early spike). None if it never did."""
    return next(
        (h["epoch"] for h in history if h["epoch"] > after and h["valid"]["ndcg@10"] > level),
        None,
    )


def median_epoch_seconds(runs: Iterable[dict], key: str = "train_s") -> float:
    """Median seconds per epoch ('train_s' or 'eval_s') over the epochs of ``runs``: the
    median, because an epoch during which a run was paused counts its pause."""
    return statistics.median(h[key] for r in runs for h in r["history"] if key in h)


def user_ndcg(runs: Sequence[dict], k: int = 10) -> torch.Tensor:
    """Each user's test NDCG@k, averaged over the runs (seeds) of one model, from the per-user
    ranks every result records."""
    if not runs:
        raise ValueError("no runs")
    same_data(runs)
    return torch.stack([M.ndcg_per_user(torch.tensor(r["test_ranks"]), k) for r in runs]).mean(0)


def compare(
    a: Sequence[dict],
    b: Sequence[dict],
    draws: int = 10_000,
    seed: int = 0,
    users: torch.Tensor | None = None,
) -> dict:
    """Model a against model b on the same users (each user's NDCG@10 averaged over seeds):
    the paired difference, its 95% bootstrap interval and a permutation p-value; ``users``
    (a boolean mask) restricts it to a group. The test holds the trained models fixed;
    seed-to-seed spread is reported separately."""
    if same_data(a) != same_data(b):
        raise ValueError("the two models were measured on different data")
    ndcg_a, ndcg_b = user_ndcg(a), user_ndcg(b)
    if users is not None:
        ndcg_a, ndcg_b = ndcg_a[users], ndcg_b[users]
    result = M.paired_test(ndcg_a, ndcg_b, n=draws, seed=seed)
    return result | {"seeds": min(len(a), len(b)), "draws": draws}


def paired_rows(tests: dict, adjusted: Sequence[float] | None = None) -> dict:
    """One table row per paired comparison from ``compare`` (difference, 95% interval, p as
    text, seeds), so every chapter prints its tests alike; p is Holm's when ``adjusted``."""
    p_values = [t["p_value"] for t in tests.values()] if adjusted is None else list(adjusted)
    if len(p_values) != len(tests):
        raise ValueError(f"{len(p_values)} adjusted p-values for {len(tests)} tests")
    p_column = "p" if adjusted is None else "p (Holm)"
    return {key: {"difference": f"{t['mean_difference']:+.4f}",
                  "95% interval": f"[{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]",
                  p_column: M.p_text(p, t["draws"]), "seeds": t["seeds"]}
            for (key, t), p in zip(tests.items(), p_values, strict=True)}


def verdict(test: dict, p_value: float | None = None) -> str:
    """The book's reading of a paired test from ``compare``: 'better than' or 'worse than'
    when p (Holm's, if given) is below SIGNIFICANCE and the interval excludes zero."""
    p = test["p_value"] if p_value is None else p_value
    if p < SIGNIFICANCE and test["ci_low"] > 0:
        return "better than"
    if p < SIGNIFICANCE and test["ci_high"] < 0:
        return "worse than"
    return "not distinguishable from"


# ----------------------------------------------------------------------------- trained models


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint of plain tensors and Python values (``weights_only=True``)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_model(run_dir: str | Path, result: dict | None = None) -> HydraRec:
    """The trained model of a run folder: its settings from ``metrics.json`` (or ``result``)
    and its best-validation weights from ``checkpoint.pt``, in eval mode on the CPU."""
    run_dir = Path(run_dir)
    result = result if result is not None else read(run_dir / "metrics.json")
    model = HydraRec(ModelConfig(**result["model"]))
    model.load_state_dict(load_checkpoint(run_dir / "checkpoint.pt")["best_state"])
    return model.eval()
