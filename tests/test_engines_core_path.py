"""WSA_HARNESS_CORE_PATH: load_engine("core") loads the core from a file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

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


def _run(env_path: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WSA_HARNESS_CORE_PATH": env_path, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.core
def test_core_path_loads_that_file(tmp_path: Path) -> None:
    built = sorted((REPO / "harness").glob("_core.*.so"))
    if not built:
        pytest.fail("harness/_core.*.so is not built: run `make`", pytrace=False)
    copy = tmp_path / built[0].name
    shutil.copy(built[0], copy)
    out = _run(str(copy))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["harness._core", str(copy)]


def test_core_path_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    out = _run(str(tmp_path / "nothing.so"))
    assert out.returncode == 3
    assert out.stdout.startswith("ERROR WSA_HARNESS_CORE_PATH=")
    assert "not a compiled core module" in out.stdout
