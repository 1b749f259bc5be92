"""The distribution as a user gets it: ``python -m build`` makes an sdist and,
from it, a wheel with the compiled core, the seed corpus and the benchmark's
mutants; the wheel installs into a fresh venv where the ``wsa-harness`` command
and the pytest plugin work without this checkout on sys.path: ``fuzz`` seeds
from the packaged corpus and says so, and ``bench bugs`` builds and finds a
packaged mutant.

One test, marked slow (about two minutes: it compiles the core twice, the
wheel's and a mutant's, and installs the [bench] extra and pytest into the new
venv).  It needs the package index that pip is configured with.
"""

from __future__ import annotations

import os
import re
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
    ".hypothesis", ".benchmarks", "fuzz-out", "out", "bench-out",
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


def _run(
    args: list[str | Path], cwd: Path, timeout: float = 300, extra_env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**_env(), **(extra_env or {})},
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
    wanted |= {f"bench/mutants/{p.name}" for p in (REPO / "bench" / "mutants").glob("*.patch")}
    assert wanted <= names, f"missing from the sdist: {sorted(wanted - names)}"
    assert not [n for n in names if n.startswith("harness/data/")]  # made at build time only
    # no build output; the conformance export's C runtime is a source, shipped on purpose
    shipped = {"harness/conformance/export_runtime.c"}
    assert not [n for n in names if n.endswith((".so", ".c")) and n not in shipped]


def _check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    # the checkout's corpus/seeds and bench/mutants, every file, as package data
    for source, target, pattern in (
        ("corpus/seeds", "harness/data/seeds", "*.wsa"),
        ("bench/mutants", "harness/data/mutants", "*.patch"),
    ):
        wanted = {f"{target}/{p.name}" for p in (REPO / source).glob(pattern)}
        assert wanted and wanted <= names, f"missing from the wheel: {sorted(wanted - names)}"
    with zipfile.ZipFile(wheel) as z:
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
    # [bench]: Cython and setuptools to build mutant cores, atheris, hypothesis, matplotlib
    _run([py, "-m", "pip", "install", "--quiet", f"{wheel}[bench]", "pytest"], cwd=tmp_path)

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

    _fuzz_seeds_from_the_package(bin_dir, venv, tmp_path)
    _bench_finds_a_packaged_mutant(bin_dir, tmp_path)

    project = tmp_path / "project"
    project.mkdir()
    (project / "test_double.py").write_text(THROWAWAY_TEST)
    shutil.copy(SEED, project / "seed.wsa")
    collected = _run([py, "-m", "pytest", "--collect-only", "-q"], cwd=project)
    ids = ["test_double.py::test_stack_double", *(f"seed.wsa::{e}" for e in ENGINES)]
    assert sorted(collected.splitlines()[: len(ids)]) == sorted(ids), collected
    ran = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert f"{len(ids)} passed" in ran, ran


def _fuzz_seeds_from_the_package(bin_dir: Path, venv: Path, tmp: Path) -> None:
    if atheris_missing():
        return
    work = tmp / "fuzz"
    work.mkdir()
    out = _run([bin_dir / "wsa-harness", "fuzz", "--runs", "200"], cwd=work)
    seeds = venv.glob("lib/python*/site-packages/harness/data/seeds")
    (packaged,) = list(seeds)
    exported = len(list((work / "fuzz-out" / "corpus").glob("seed-*.bin")))
    skipped = len(list(packaged.glob("*.wsa"))) - exported
    line = f"seeding fuzz-out/corpus with {exported} seed programs from the packaged seeds"
    assert f"{line} ({packaged})\n" in out, out
    assert exported >= 90 and f"  {skipped} seed(s) have no binary form" in out, out
    assert "port 80 has no binary form" in out
    assert "executions        200" in out, out
    again = _run([bin_dir / "wsa-harness", "fuzz", "--runs", "10"], cwd=work)
    assert "resuming from " in again and "seeding" not in again, again


def _bench_finds_a_packaged_mutant(bin_dir: Path, tmp: Path) -> None:
    if atheris_missing():
        return
    work = tmp / "bench"
    work.mkdir()
    env_cache = {"WSA_BENCH_CACHE": str(tmp / "mutant-cache")}
    cmd = [bin_dir / "wsa-harness", "bench", "bugs", "--trials", "1", "--budget", "5",
           "--mutants", "01", "--tools", "harness"]  # fmt: skip
    out = _run(cmd, cwd=work, extra_env=env_cache)
    assert re.search(r"01-dup-close-keeps-ref( \(native coverage\))?: built in", out), out
    assert "01-dup-close-keeps-ref harness #1: detected at" in out, out
    assert "harness: 1/1 mutants killed" in out, out
    assert (work / "bench-out" / "bugs.json").is_file()  # the default --out, in the cwd


def atheris_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("atheris") is None
