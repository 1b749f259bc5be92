"""The distribution as a user gets it: ``python -m build`` makes an sdist and,
from it, a wheel with the compiled core; the wheel installs into a fresh venv
where the ``wsa-harness`` command and the pytest plugin work without this
checkout on sys.path.

One test, marked slow (about a minute: it compiles the core and installs pytest
into the new venv).  It needs the package index that pip is configured with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.engines import no_core

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "corpus" / "seeds" / "031-abortive-close-discards-backlog.wsa"
ENGINES = ("reference",) if no_core() else ("reference", "core")
#: Copied into the scratch source tree: everything but builds, venvs and caches.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*cache",
    ".hypothesis", ".benchmarks", "fuzz-out", "out",
)  # fmt: skip
#: Variables that would let the checkout or another core leak into the fresh venv.
LEAKY_ENV = (
    "PYTHONPATH",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "WSA_HARNESS_CORE_DIR",
    "VIRTUAL_ENV",
)

THROWAWAY_TEST = """\
import harness


def test_stack_double():
    stack = harness.Stack(profile="windows", engine="reference")
    stack.startup(2, 2)
    s = stack.socket("stream")
    assert s.text == "4" and s.var == "s1"
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}


def _run(args: list[str | Path], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{out}"
    return done.stdout


def _build(tmp: Path) -> tuple[Path, Path]:
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=IGNORED)
    dist = tmp / "dist"
    # No --sdist/--wheel: build makes the sdist, then the wheel from the unpacked
    # sdist, so a file missing from the sdist breaks the wheel build.
    _run([sys.executable, "-m", "build", "--outdir", dist, src], cwd=tmp)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return sdist, wheel


def _check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {f"harness/{p.name}" for p in (REPO / "harness").glob("*.p[yx][xi]")}
    wanted |= {"harness/_core.pyi", "harness/py.typed", "setup.py", "pyproject.toml"}
    wanted |= {f"corpus/seeds/{SEED.name}", "docs/format.md", "MANIFEST.in"}
    assert wanted <= names, f"missing from the sdist: {sorted(wanted - names)}"
    assert not [n for n in names if n.endswith((".so", ".c"))]


def _check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entries = z.read(entry_points).decode()
    assert [n for n in names if n.startswith("harness/_core.") and n.endswith(".so")], names
    for name in (
        "py.typed",
        "_core.pyi",
        "library/pytest_plugin.py",
        "library/strategies.py",
        "library/stack.py",
        "fuzz/fuzz_differential.dict",
    ):
        assert f"harness/{name}" in names
    assert "[pytest11]\nwsa_harness = harness.library.pytest_plugin" in entries
    assert "wsa-harness = harness.cli.main:main" in entries


@pytest.mark.slow
def test_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    sdist, wheel = _build(tmp_path)
    _check_sdist(sdist)
    _check_wheel(wheel)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    py, bin_dir = venv / "bin" / "python", venv / "bin"
    _run([py, "-m", "pip", "install", "--quiet", wheel, "pytest"], cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    # The installed copy is the one imported, core included.
    where = _run(
        [py, "-c", "import harness, harness._core as c; print(harness.__file__, c.__file__)"],
        cwd=work,
    )
    assert all(str(venv) in path for path in where.split()), where

    shutil.copy(SEED, work / "seed.wsa")
    for engine in ENGINES:
        out = _run(
            [bin_dir / "wsa-harness", "run", "--check", "--engine", engine, "seed.wsa"], cwd=work
        )
        assert out == "seed.wsa: ok\n"
    broken = work / "broken.wsa"
    broken.write_text(SEED.read_text().replace("-> 300", "-> 299"))
    failed = subprocess.run(
        [bin_dir / "wsa-harness", "run", "--check", "broken.wsa"],
        cwd=work, env=_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert failed.returncode == 1 and "broken.wsa: 1 mismatched step(s)" in failed.stdout

    project = tmp_path / "project"
    project.mkdir()
    (project / "test_double.py").write_text(THROWAWAY_TEST)
    shutil.copy(SEED, project / "seed.wsa")
    collected = _run([py, "-m", "pytest", "--collect-only", "-q"], cwd=project)
    ids = ["test_double.py::test_stack_double", *(f"seed.wsa::{e}" for e in ENGINES)]
    assert sorted(collected.splitlines()[: len(ids)]) == sorted(ids), collected
    ran = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert f"{len(ids)} passed" in ran, ran
