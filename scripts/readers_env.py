"""Run every chapter the way a Google Colab reader runs it, and record each chapter's peak memory.

    python scripts/readers_env.py [--venv .readers-venv] [--out _build/readers]
        [--chapters chapters/00_quickstart.ipynb ...] [--memory-limit-gib 2.0]

What it proves: each chapter runs top to bottom when all a reader has is the notebook file,
the package installed from its wheel, and the library versions Colab ships; and it stays
under a memory limit (Colab's free runtime has about 12 GB; the default 2 GiB is Binder's).

How:
1. The package's wheel is built (`pip wheel --no-deps`, this interpreter) from a clean copy
   of the working tree, so a stale build/ folder cannot slip deleted modules into it. The
   stored results and benchmarks travel inside it as hydrarec_minimal/stored/.
2. A virtual environment gets torch (the CPU build named by --torch), then the pins of
   tests/colab_versions.txt, then the wheel, its dependencies resolved under those pins with
   torch held where it is; a kernelspec pointing at the venv's python is installed into the
   venv. A marker in the venv records the wheel, pins, torch and python it was built from:
   all the same, the venv is reused; only the wheel differs, the wheel is swapped in place;
   otherwise the venv is built anew.
3. Each chapter is copied alone into a fresh empty folder and executed there by nbclient,
   itself running in the venv's python, with PYTHONPATH and the user's Jupyter, IPython and
   matplotlib configuration kept out, $HYDRAREC_DATA passed through, MPLBACKEND=Agg, and a
   900 s limit per cell. A probe cell run first checks that the kernel is the venv's python,
   starts in that folder and finds hydrarec_minimal in the venv, not in the repository; it
   is left out of the executed copy saved under --out.
4. A watcher thread samples the kernel every 0.2 s: its peak RSS (VmHWM, exact) plus the
   resident memory of any process it started (sampled). The largest total is the chapter's
   peak. Shared copy-on-write pages of forked workers count in full, so it errs high.

Writes OUT/peaks.json ({chapter: {"peak_rss_bytes", "seconds", "ok", "error"}}), the executed
notebooks, OUT/pip-freeze.txt and OUT/venv-install.log. Exit status: 0 when every chapter ran
clean under the limit, 1 when one did not, 2 when the environment could not be built.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLAB_VERSIONS = REPO / "tests" / "colab_versions.txt"
KERNEL_NAME = "hydrarec-readers"
CELL_TIMEOUT_S = 900
POLL_S = 0.2
MARKER = "readers-env.json"
# Kept out of the chapters' environment: each would let the repository or this machine's
# own configuration reach a kernel that a Colab reader would not have.
STRIPPED_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "JUPYTER_PATH",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "JUPYTER_CONFIG_PATH",
    "IPYTHONDIR",
    "MPLCONFIGDIR",
    "MPLBACKEND",
)
PROBE = """import importlib.util, os, sys
print(sys.executable)
print(sys.prefix)
print(os.getcwd())
print(getattr(importlib.util.find_spec("hydrarec_minimal"), "origin", None))"""


# --- the wheel --------------------------------------------------------------------------------


def source_files(repo: Path, skip_dirs: list[Path]) -> list[str]:
    """Files a commit would hold: tracked plus untracked-but-not-ignored, less build output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    skip = ["build/", "dist/", "_build/"]
    skip += [f"{d.relative_to(repo)}/" for d in skip_dirs if d.is_relative_to(repo)]
    return [
        f
        for f in listed
        if f and not f.startswith(tuple(skip)) and ".egg-info/" not in f and (repo / f).is_file()
    ]


def build_wheel(repo: Path, wheel_dir: Path, skip_dirs: list[Path], log: Path) -> Path:
    """Build the package's wheel from a clean copy of the working tree; return its path."""
    shutil.rmtree(wheel_dir, ignore_errors=True)
    wheel_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="readers-src-") as tmp:
        for name in source_files(repo, skip_dirs):
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, Path(tmp) / name)
        run_logged(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheel_dir), tmp], log
        )
    (wheel,) = wheel_dir.glob("*.whl")
    return wheel


def wheel_digest(wheel: Path) -> str:
    """Hash of the wheel's member names and contents (zip timestamps left out)."""
    h = hashlib.sha256()
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            h.update(name.encode() + b"\0" + zf.read(name) + b"\0")
    return h.hexdigest()


# --- the venv ---------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    """The venv's interpreter."""
    return venv / "bin" / "python"


def run_logged(cmd: list[str], log: Path, check: bool = True) -> int:
    """Run a command with its output appended to log; on failure show the log's tail."""
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc and check:
        tail = log.read_text().splitlines()[-25:]
        raise RuntimeError(f"command failed ({rc}): {' '.join(cmd)}\n" + "\n".join(tail))
    return rc


def wanted_marker(wheel: Path, torch_spec: str) -> dict[str, str]:
    """What the venv must have been built from to be reused."""
    return {
        "wheel": wheel.name,
        "wheel_sha256": wheel_digest(wheel),
        "constraints_sha256": hashlib.sha256(COLAB_VERSIONS.read_bytes()).hexdigest(),
        "torch": torch_spec,
        "python": sys.version.split()[0],
    }


def ensure_venv(venv: Path, wheel: Path, torch_spec: str, log: Path) -> str:
    """Reuse, update or build the venv to match the marker; return what was done and how long.

    Only the package changed: the new wheel replaces the old one in the same venv (a full
    rebuild takes minutes). Anything else changed, or no marker: the venv is built anew.
    """
    marker = wanted_marker(wheel, torch_spec)
    try:
        had = json.loads((venv / MARKER).read_text())
    except (OSError, ValueError):
        had = {}
    if had == marker:
        return "reused"
    start = time.perf_counter()
    py = str(venv_python(venv))
    install = [py, "-m", "pip", "install", "--no-input", "--progress-bar", "off"]
    hold_torch = venv / "hold-torch.txt"  # keeps every later step off any other torch build
    pins = ["-c", str(COLAB_VERSIONS), "-c", str(hold_torch)]
    same_env = {k: v for k, v in had.items() if not k.startswith("wheel")} == {
        k: v for k, v in marker.items() if not k.startswith("wheel")
    }
    (venv / MARKER).unlink(missing_ok=True)  # an interrupted update must not look current
    if had and same_env:
        run_logged(install + ["--force-reinstall", "--no-deps", str(wheel)], log)
        run_logged(install + [str(wheel)] + pins, log)  # a dependency the new wheel added
        done = "package replaced"
    else:
        shutil.rmtree(venv, ignore_errors=True)
        run_logged([sys.executable, "-m", "venv", str(venv)], log)
        hold_torch.write_text(torch_spec + "\n")
        run_logged(install + [torch_spec], log)
        run_logged(install + ["-r", str(COLAB_VERSIONS)] + pins, log)
        run_logged(install + [str(wheel)] + pins, log)
        kernelspec = ["--prefix", str(venv), "--name", KERNEL_NAME]
        run_logged([py, "-m", "ipykernel", "install", *kernelspec], log)
        done = "built"
    run_logged([py, "-m", "pip", "check"], log, check=False)  # Colab itself is not conflict-free
    (venv / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    return f"{done} in {time.perf_counter() - start:.0f} s"


def freeze(venv: Path) -> str:
    """The venv's `pip freeze`."""
    return subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "freeze", "--all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


# --- peak memory ------------------------------------------------------------------------------


def proc_kib(pid: int, field: str) -> int:
    """One kB-valued field (VmHWM, VmRSS) of /proc/PID/status; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct children of a process (all its threads')."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    """Every process below pid."""
    below, todo = [], children(pid)
    while todo:
        p = todo.pop()
        below.append(p)
        todo += children(p)
    return below


class PeakWatcher(threading.Thread):
    """Samples the kernels under a driver process: their VmHWM plus their children's VmRSS."""

    def __init__(self, driver_pid: int) -> None:
        super().__init__(daemon=True)
        self.driver_pid = driver_pid
        self.peak_bytes = 0
        self.done = threading.Event()

    def run(self) -> None:
        """Poll until told to stop."""
        while not self.done.wait(POLL_S):
            total_kib = 0
            for kernel in children(self.driver_pid):
                total_kib += proc_kib(kernel, "VmHWM")
                total_kib += sum(proc_kib(p, "VmRSS") for p in descendants(kernel))
            self.peak_bytes = max(self.peak_bytes, total_kib * 1024)


# --- one chapter ------------------------------------------------------------------------------


def reader_env(venv: Path, home: Path) -> dict[str, str]:
    """The chapter's environment: this one, less the repository's and this user's settings."""
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONNOUSERSITE="1",
        MPLBACKEND="Agg",
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # quiets debugpy's frozen-modules warning
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        MPLCONFIGDIR=str(home / "matplotlib"),
    )
    return env


def run_chapter(chapter: Path, venv: Path, out: Path) -> dict:
    """Execute one chapter alone in an empty folder, in a child process; return its record."""
    with tempfile.TemporaryDirectory(prefix="readers-") as tmp:
        content, home = Path(tmp) / "content", Path(tmp) / "home"
        content.mkdir()
        home.mkdir()
        shutil.copy2(chapter, content / chapter.name)
        result_file = home / "result.json"
        cmd = [
            str(venv_python(venv)),
            "-I",
            str(Path(__file__).resolve()),
            "--execute-one",
            str(content / chapter.name),
            "--executed",
            str(out / chapter.name),
            "--result",
            str(result_file),
        ]
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=content, env=reader_env(venv, home))
        watcher = PeakWatcher(child.pid)
        watcher.start()
        rc = child.wait()
        watcher.done.set()
        watcher.join()
        seconds = time.perf_counter() - start
        try:
            result = json.loads(result_file.read_text())
        except (OSError, ValueError):
            result = {"error": f"the executing process ended with status {rc} and no result"}
        error = result.get("error")
        probe = result.get("probe", [])
        if not error:
            if len(probe) < 4 or Path(probe[1]).resolve() != venv.resolve():
                error = f"the kernel is not the venv's python: {probe}"
            elif Path(probe[2]).resolve() != content.resolve():
                error = f"the kernel did not start in the chapter's folder: {probe}"
            elif not Path(probe[3]).resolve().is_relative_to(venv.resolve()):
                error = f"hydrarec_minimal is not the venv's (the wheel's): {probe[3]}"
    return {
        "peak_rss_bytes": watcher.peak_bytes,
        "seconds": round(seconds, 1),
        "ok": not error,
        "error": error,
        "kernel_python": probe[0] if probe else None,
    }


def execute_one(notebook: Path, executed: Path, result_file: Path) -> None:
    """Child side, run by the venv's python: execute the notebook and write a result file."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=180,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    error = None
    try:
        client.execute()
    except CellExecutionError:
        error = "a cell raised an error"
    except (CellTimeoutError, DeadKernelError) as exc:
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
    probe_cell = nb.cells.pop(0)
    if error == "a cell raised an error":
        error = first_error(nb)
    probe = "".join(o.get("text", "") for o in probe_cell.get("outputs", [])).split("\n")
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed)
    result_file.write_text(json.dumps({"error": error, "probe": probe[:4]}))


def first_error(nb) -> str:
    """The first error output of an executed notebook, as 'cell N (id X): Name: value'."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                value = out.get("evalue", "").strip().splitlines()
                where = f"cell {index} (id {cell.get('id', '?')})"
                return f"{where}: {out.get('ename')}: {value[0][:200] if value else ''}"
    return "a cell raised an error"


# --- the whole run ----------------------------------------------------------------------------


def report(peaks: dict[str, dict], limit_bytes: int) -> None:
    """Print one line per chapter."""
    print(f"\n{'chapter':32} {'result':6} {'peak MiB':>9} {'seconds':>8}  error")
    for name, rec in peaks.items():
        result = "ok" if rec["ok"] else "FAIL"
        mib = rec["peak_rss_bytes"] / 2**20
        print(f"{name:32} {result:6} {mib:9.0f} {rec['seconds']:8.1f}  {rec['error'] or ''}")
    print(f"memory limit: {limit_bytes / 2**30:.2f} GiB")


def main() -> int:
    """Parse arguments; build the wheel and venv; run the chapters; write peaks.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=REPO / ".readers-venv")
    parser.add_argument("--out", type=Path, default=REPO / "_build" / "readers")
    parser.add_argument("--chapters", type=Path, nargs="+")
    parser.add_argument("--memory-limit-gib", type=float, default=2.0)
    parser.add_argument("--torch", default="torch==2.13.0", help="torch to install first")
    parser.add_argument("--execute-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--executed", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.execute_one:
        execute_one(args.execute_one, args.executed, args.result)
        return 0

    venv, out = args.venv.absolute(), args.out.absolute()
    chapters = args.chapters or sorted((REPO / "chapters").glob("*.ipynb"))
    limit_bytes = int(args.memory_limit_gib * 2**30)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "venv-install.log"
    log.write_text("")
    try:
        wheel = build_wheel(REPO, out / "wheel", [venv, out], log)
        print(f"wheel: {wheel.name}", flush=True)
        done = ensure_venv(venv, wheel, args.torch, log)
    except (RuntimeError, subprocess.CalledProcessError, ValueError) as exc:
        print(f"could not build the readers' environment: {exc}", file=sys.stderr)
        return 2
    print(f"venv: {venv} ({done})", flush=True)
    (out / "pip-freeze.txt").write_text(freeze(venv))
    print(f"HYDRAREC_DATA: {os.environ.get('HYDRAREC_DATA', '(unset)')}", flush=True)

    peaks: dict[str, dict] = {}
    for chapter in chapters:
        print(f"running {chapter.name} ...", flush=True)
        rec = run_chapter(Path(chapter).absolute(), venv, out)
        if rec["ok"] and rec["peak_rss_bytes"] > limit_bytes:
            rec["ok"] = False
            peak = rec["peak_rss_bytes"] / 2**30
            rec["error"] = f"peak {peak:.2f} GiB is over the {args.memory_limit_gib} GiB limit"
        print(f"  kernel python: {rec.pop('kernel_python')}", flush=True)
        peaks[chapter.name] = rec
        (out / "peaks.json").write_text(json.dumps(peaks, indent=1) + "\n")
    report(peaks, limit_bytes)
    return 0 if all(rec["ok"] for rec in peaks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
