"""The package's import graph against ARCHITECTURE.md: no circle, no import that the table
does not allow (imports inside functions included), no use of another module's private names,
and a core that never imports plotting or widget libraries."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hydrarec_minimal"
MODULES = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
CORE = MODULES - {"plotting", "widgets"}


def allowed() -> dict[str, set[str]]:
    """{module: modules it may import}, from the table in ARCHITECTURE.md."""
    table = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines():
        m = re.match(r"\|\s*`(\w+)\.py`\s*\|.*\|\s*([^|]*)\|\s*$", line)
        if m:
            table[m.group(1)] = {x.strip() for x in m.group(2).split(",") if x.strip() != "—"}
    return table


def imports(module: str) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """(package modules imported, (module, name) pairs imported, top-level libraries)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    mods, names, libs = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                mods.add(node.module.split(".")[0])
                names |= {(node.module, a.name) for a in node.names}
            else:
                mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            libs.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            libs |= {a.name.split(".")[0] for a in node.names}
    return mods & MODULES, names, libs


def test_the_table_lists_every_module_once():
    assert set(allowed()) == MODULES


def test_every_import_is_allowed_by_the_table():
    table = allowed()
    for module in MODULES:
        mods, _, _ = imports(module)
        assert mods <= table[module], f"{module} imports {sorted(mods - table[module])}"


def test_no_import_circle():
    graph = {m: imports(m)[0] for m in MODULES}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start]
        )

    assert not [m for m in MODULES if reaches(m, m)]


def test_no_module_uses_another_modules_private_names():
    for module in MODULES:
        _, names, _ = imports(module)
        private = [f"{m}.{n}" for m, n in names if n.startswith("_")]
        assert not private, f"{module} imports {private}"
        source = (PACKAGE / f"{module}.py").read_text()
        reached = re.findall(r"\b(\w+)\._[a-z]\w*\(", source)  # e.g. bench._proc_status(
        assert not [r for r in reached if r in MODULES], f"{module} calls {reached}"


def test_the_core_draws_nothing():
    for module in CORE:
        _, _, libs = imports(module)
        assert not libs & {"matplotlib", "seaborn", "ipywidgets", "IPython"}, module
