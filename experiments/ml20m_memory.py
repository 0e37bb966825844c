"""How much memory and time does the first build of MovieLens 20M take?

Writes a synthetic ratings.csv in the official format at full size (20,000,263 ratings by
138,493 users of 26,744 films, ratings in half stars, timestamps, a header), then in fresh
processes: parses it into sequences.txt (``data.csv_sequences``, the first build) and loads
that back (``data.load_movielens``, every later load), recording each step's peak resident
memory and seconds. The synthetic file has the real one's shape, not its content. Writes
benchmarks/ml20m_memory.json. Usage: .venv/bin/python experiments/ml20m_memory.py [scratch]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hydrarec_minimal.machine import environment
from hydrarec_minimal.runs import write

USERS, FILMS, RATINGS = 138_493, 26_744, 20_000_263
STEPS = {
    "first build: ratings.csv -> sequences.txt": (
        "from hydrarec_minimal import data; from pathlib import Path; import sys\n"
        "home = Path(sys.argv[1]); folder = home / 'ml-20m'\n"
        "data.csv_sequences(folder / 'ratings.csv', folder / 'sequences.txt')"
    ),
    "later load: sequences.txt -> SequenceData": (
        "from hydrarec_minimal import data; import sys\n"
        "d = data.load_movielens('ml-20m', home=sys.argv[1], download=False)\n"
        "print(d.num_users, d.num_items, d.num_interactions)"
    ),
}
PEAK = "\nfrom hydrarec_minimal import machine; print('PEAK', machine.proc_status('VmHWM'))"


def synthetic_ratings(path: Path, seed: int = 0) -> None:
    """A ratings.csv of the official format and size: each user's ratings in time order."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(RATINGS - 20 * USERS, np.full(USERS, 1 / USERS)) + 20
    user = np.repeat(np.arange(1, USERS + 1), counts)
    film = rng.zipf(1.3, RATINGS) % FILMS + 1
    stars = rng.integers(1, 11, RATINGS) / 2
    stamp = 789_652_009 + np.sort(rng.integers(0, 638_000_000, RATINGS))
    frame = pd.DataFrame({"userId": user, "movieId": film, "rating": stars, "timestamp": stamp})
    frame.to_csv(path, index=False, float_format="%.1f", chunksize=2_000_000)


def measure(code: str, home: Path) -> dict:
    """Run one step in a fresh process: its peak memory and wall seconds."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code + PEAK, str(home)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    seconds = time.perf_counter() - start
    peak = int(next(line for line in run.stdout.splitlines() if line.startswith("PEAK")).split()[1])
    return {"peak_rss_bytes": peak, "seconds": seconds}


def main(scratch: str | None = None) -> None:
    """Build the synthetic file, time and measure both steps, write the JSON."""
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        home = Path(tmp)
        (home / "ml-20m").mkdir()
        csv_path = home / "ml-20m" / "ratings.csv"
        synthetic_ratings(csv_path)
        size = csv_path.stat().st_size
        rows = [{"step": name, **measure(code, home)} for name, code in STEPS.items()]
    record = {"ratings": RATINGS, "users": USERS, "films": FILMS, "csv_bytes": size,
              "rows": rows, "environment": environment()}  # fmt: skip
    write(Path(__file__).resolve().parents[1] / "benchmarks" / "ml20m_memory.json", record)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
