"""WSA_HARNESS_CORE_DIR: load_engine("core") takes the core from that folder,
and a folder without one is an error, not a fallback to the in-place core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from harness.engines import load_engine, EngineError
try:
    m = load_engine("core")
except EngineError as exc:
    print("ERROR", exc)
    sys.exit(3)
print(m.__name__, m.__file__)
"""


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WSA_HARNESS_CORE_DIR": str(folder), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.core
def test_core_dir_loads_the_core_there(tmp_path: Path) -> None:
    built = sorted((REPO / "harness").glob("_core.*.so"))
    if not built:
        pytest.fail("harness/_core.*.so is not built: run `make`", pytrace=False)
    copy = tmp_path / built[0].name
    shutil.copy(built[0], copy)
    out = _run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["harness._core", str(copy)]


@pytest.mark.core
def test_core_dir_without_a_core_is_a_one_line_error(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stdout.startswith(f"ERROR WSA_HARNESS_CORE_DIR={tmp_path}: no compiled core there")
