"""Fail (exit 1) unless every chapter notebook holds a complete, clean, in-order stored run.

The site publishes the committed outputs (execute_notebooks: off), so this is the build's
guarantee that no chapter is shown half-run or with a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def problems(nb_path: Path) -> list[str]:
    """Everything wrong with one notebook's stored run, as readable lines."""
    nb = json.loads(nb_path.read_text())
    out = []
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in code]
    if any(n is None for n in counts):
        out.append(f"{sum(n is None for n in counts)} of {len(code)} code cells never ran")
    ran = [n for n in counts if n is not None]
    if ran != sorted(ran) or len(set(ran)) != len(ran):
        out.append("cells ran out of order; re-run the notebook top to bottom")
    for c in code:
        tags = set(c.get("metadata", {}).get("tags", []))
        for o in c.get("outputs", []):
            if o.get("output_type") == "error" and "raises-exception" not in tags:
                out.append(f"stored error output: {o.get('ename')}: {o.get('evalue')}")
    return [f"{nb_path}: {p}" for p in out]


def main(folder: str) -> int:
    """Check every notebook in ``folder``; print the problems and return the exit status."""
    found = [p for nb in sorted(Path(folder).glob("*.ipynb")) for p in problems(nb)]
    print("\n".join(found) or f"all notebooks in {folder}/ hold complete stored runs")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "chapters"))
