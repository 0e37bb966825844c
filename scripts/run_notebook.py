"""Execute chapter notebooks top to bottom in a fresh kernel and store their outputs in place.

    python scripts/run_notebook.py chapters/01_softmax_attention.ipynb [...]

The kernel starts in the notebook's folder, as under nbval and Jupyter. A failing cell stops
the run with the error shown, and the notebook file is left unchanged.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path, timeout: int = 1800) -> float:
    """Run one notebook in place; return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {run(Path(arg)):.1f} s", flush=True)
