"""Train as `python -m hydrarec_minimal.train` does, and append every epoch's record to a
JSON-lines file as it happens (for runs that may be cut off before metrics.json is written).

Usage: python results/train_logged.py LOG.jsonl [the train CLI's arguments]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydrarec_minimal.train import TrainConfig, parser, train  # noqa: E402


def main(log: str, argv: list[str]) -> None:
    """Parse the train CLI's arguments, train, log each epoch to ``log``."""
    args = parser().parse_args(argv)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})

    def on_epoch(record: dict) -> None:
        with open(log, "a") as f:
            f.write(json.dumps(record) + "\n")

    train(cfg, args.out, resume=args.resume, progress=False, on_epoch=on_epoch)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
