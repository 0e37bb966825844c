"""Execute chapter notebooks top to bottom in a fresh kernel and store their outputs in place.

    python scripts/run_notebook.py chapters/01_softmax_attention.ipynb [...]

The kernel starts in the notebook's folder, as under nbval and Jupyter. A failing cell stops
the run with the error shown, and the notebook file is left unchanged.

Widget views are stored as their text form only: without a kernel they are dead controls
that would pull the widget manager from a CDN. Every explorer draws a real static figure in
its cell, which is what the published page shows, beside a line saying how to use the
controls live.
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
    strip_widget_views(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def strip_widget_views(nb) -> None:
    """Keep only the text form of widget outputs, and no saved widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            data.pop("application/vnd.jupyter.widget-view+json", None)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {run(Path(arg)):.1f} s", flush=True)
