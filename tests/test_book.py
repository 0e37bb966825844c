"""The book's structure and its consistency with pyproject.toml, Binder and Colab.

Neither Binder nor Colab can be reached from CI, so these tests check, offline, what those
services will read: the install cell of every chapter, binder/, the table of contents.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONFIG = (ROOT / "_config.yml").read_text()
REPO_URL = re.search(r"^\s*url:\s*(\S+)", CONFIG, re.M).group(1)
COLAB_PROVIDED = {"torch", "matplotlib", "seaborn", "ipywidgets", "numpy", "pandas", "tqdm"}


def name_of(requirement: str) -> str:
    """'torch==2.5.1+cpu' -> 'torch' (lower case, '_' as '-')."""
    return re.split(r"[<>=!~\[ ;@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def cells(path: Path) -> list[dict]:
    """The cells of a notebook."""
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    """A cell's source as one string."""
    return "".join(cell["source"])


def test_there_are_chapters_and_the_toc_lists_each_once_in_order():
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*(chapters/\S+)", toc)
    assert len(CHAPTERS) >= 8
    assert listed == [f"chapters/{p.stem}" for p in CHAPTERS], "every chapter, in reading order"
    for page in re.findall(r"file:\s*(\S+)", toc) + [re.search(r"root:\s*(\S+)", toc).group(1)]:
        assert list(ROOT.glob(page + ".*")), f"{page} in _toc.yml does not exist"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_colab_install_cell(path):
    first_code = next(c for c in cells(path) if c["cell_type"] == "code")
    text = source(first_code)
    assert 'if "google.colab" in sys.modules:' in text, "installs only when running in Colab"
    assert '%pip install -q "hydrarec-minimal @ git+{BOOK}@main"' in text, "from main"
    m = re.search(r'BOOK = "(\S+)"', text)
    assert m, "names the book's repository once"
    assert m.group(1) == REPO_URL, "the same repository as _config.yml's launch buttons"
    pins = re.findall(r"\b(torch|matplotlib|seaborn|ipywidgets)\s*[=<>]", text)
    assert not pins, f"never pin what Colab already provides: {pins}"


def test_what_colab_gets_from_pyproject_is_unpinned():
    deps = PYPROJECT["project"]["dependencies"]
    for dep in deps:
        if name_of(dep) in COLAB_PROVIDED:
            assert "==" not in dep and "<" not in dep, f"{dep}: Colab's version must satisfy it"
    assert "torch>=2.3" in deps


def test_binder_installs_what_pyproject_needs_with_a_cpu_torch():
    reqs = [
        line.strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    assert {name_of(r) for r in reqs} == {name_of(d) for d in PYPROJECT["project"]["dependencies"]}
    torch_req = next(r for r in reqs if name_of(r) == "torch")
    assert torch_req.endswith("+cpu"), "a CPU-only torch: the default wheel is several GB"
    major, minor = (int(x) for x in re.search(r"==(\d+)\.(\d+)", torch_req).groups())
    assert (major, minor) >= (2, 3), "satisfies pyproject's torch>=2.3"
    assert "download.pytorch.org/whl/cpu" in (ROOT / "binder" / "requirements.txt").read_text()
    post = (ROOT / "binder" / "postBuild").read_text()
    assert (
        post.startswith("#!/bin/bash") and "set -e" in post and "pip install --no-deps -e ." in post
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_shape(path):
    cs = cells(path)
    md = [source(c) for c in cs if c["cell_type"] == "markdown"]
    assert md[0].startswith("# "), "opens with a title"
    assert "**You will learn**" in md[0], "says what the reader will learn"
    body = "\n".join(md)
    assert "## Summary" in body
    if path.stem.startswith("a"):  # an appendix: a summary is enough
        return
    assert "## Exercises" in body
    exercises = body.split("## Exercises", 1)[1]
    assert len(re.findall(r"^\d+\. ", exercises, re.M)) >= 6, "at least three exercises and answers"
    assert ":class: dropdown" in exercises, "solutions the reader can reveal"
    assert "{cite}`" in body or path.stem.startswith("00"), "cites its papers"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_is_numbered_with_a_caption_and_alt_text(path):
    """Image outputs (PNG or SVG) are MyST figures: a name to refer to, a caption, alt text;
    cells that time something, or show a live explorer, are exempt from output comparison."""
    for i, c in enumerate(cells(path)):
        if c["cell_type"] != "code":
            continue
        images = [
            o
            for o in c.get("outputs", [])
            if {"image/png", "image/svg+xml"} & set(o.get("data", {}))
        ]
        options = c["metadata"].get("mystnb", {})
        if images:
            figure = options.get("figure", {})
            assert figure.get("name", "").startswith(("fig-", "tab-")), f"cell {i}: no figure name"
            assert len(figure.get("caption", "")) > 30, f"cell {i}: no caption"
            assert len(options.get("image", {}).get("alt", "")) > 30, f"cell {i}: no alt text"
        text = source(c)
        if "perf_counter" in text or "Explorer(" in text:
            assert "nbval-ignore-output" in c["metadata"].get("tags", []), f"cell {i}: live output"


BOOKKEEPING = re.compile(
    r"nbval|\bCI\b|virtual machine|project'?s? (set a )?target|earlier draft|committed|"
    r"\bthis session\b|was wrong",
    re.I,
)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_are_written_for_the_reader(path):
    """No project targets, CI or test-runner remarks, machine logistics or correction diary."""
    for i, c in enumerate(cells(path)):
        if c["cell_type"] == "markdown":
            found = BOOKKEEPING.search(source(c))
            assert not found, f"cell {i}: '{found.group(0)}' is the authors' bookkeeping"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_fits_the_page(path):
    """Chapter code lines fit the site's text width (about 80 characters)."""
    for i, c in enumerate(cells(path)):
        if c["cell_type"] == "code":
            long = [line for line in source(c).splitlines() if len(line) > 80]
            assert not long, f"cell {i}: {long[0]!r}"


def test_appendices_are_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert f"chapters/{path.stem}" in toc


def test_movielens_is_never_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout
    pattern = re.compile(
        r"(^|/)(u\.data|ratings\.(dat|csv)|ml-1m\.zip|ml-100k\.zip|sequences\.txt)$"
    )
    assert not [f for f in tracked.splitlines() if pattern.search(f)]


def test_bibliography_has_every_cited_key():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    cited = set()
    for path in [*CHAPTERS, ROOT / "book" / "intro.md"]:
        text = path.read_text()
        for group in re.findall(r"\{cite\}`([^`]+)`", text):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, f"cited but not in references.bib: {cited - keys}"


def test_one_repository_everywhere():
    """The package's project URL, the launch buttons and every install cell name one repo."""
    assert PYPROJECT["project"]["urls"]["Homepage"] == REPO_URL
    assert re.search(r"^\s*branch:\s*main", CONFIG, re.M)
