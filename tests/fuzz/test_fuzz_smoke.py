"""Fuzz smoke runs of the real atheris target, bounded by -runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engines import no_core
from harness.fuzz.dictionary import render
from harness.lang.parser import parse_file

pytestmark = pytest.mark.fuzz
REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # ./fuzz/fuzz_differential.py runs `python3` from PATH: the venv's, as when activated
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_dictionary_is_current() -> None:
    shipped = (REPO / "harness" / "fuzz" / "fuzz_differential.dict").read_text()
    assert shipped == render(), (
        "regenerate: python -m harness.fuzz.dictionary > harness/fuzz/fuzz_differential.dict"
    )


@pytest.mark.core
def test_core_against_reference_campaign(tmp_path: Path) -> None:
    """Core against reference, each input under the profile its header names."""
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    out = subprocess.run(
        [*CLI, "fuzz", "--runs", "1500", "--profiles", "any", "--out", str(tmp_path)],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr + out.stdout
    assert "summary" in out.stdout and "executions        1500" in out.stdout
    assert "root causes       0 (0 unexpected)" in out.stdout, out.stdout
    assert any((tmp_path / "corpus").iterdir())


def test_profile_campaign_writes_attributed_reproducers(tmp_path: Path) -> None:
    cmd = [*CLI, "fuzz", "--engines", "reference", "--profiles", "documented,windows"]
    out = subprocess.run(
        [*cmd, "--runs", "4000", "--out", str(tmp_path)],
        capture_output=True, text=True, env=_env(), timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr + out.stdout
    repros = sorted((tmp_path / "reproducers").glob("*.wsa"))
    assert repros, out.stdout
    for path in repros:
        text = path.read_text()
        assert "# signature: " in text and "# attribution: " in text
        assert (path.with_suffix(".bin")).exists()
        program = parse_file(path)
        assert len(program.steps) <= 12, text
    check = subprocess.run(
        [*CLI, "corpus", "check", str(tmp_path / "reproducers"), "--engines", "reference"],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout


def test_standalone_target_raises_with_the_report(tmp_path: Path) -> None:
    seed = tmp_path / "corpus"
    seed.mkdir()
    # a known profile difference: the FD_CLOSE error a peer reset leaves (snapshot)
    from harness.lang.encoding import encode
    from harness.lang.parser import parse

    program = parse("t0: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\npeer_reset c1\n")
    (seed / "reset").write_bytes(encode(program))
    env = _env()
    env["WSA_FUZZ_SIDES"] = "reference/documented,reference/windows"
    out = subprocess.run(
        [str(REPO / "fuzz" / "fuzz_differential.py"), str(seed), "-runs=10",
         f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode != 0
    report = out.stdout + out.stderr  # atheris prints the exception on stdout
    assert "DivergenceFound: divergence: snapshot snapshot.sockets.close_error" in report
    assert "peer_reset c1" in report
    assert list(tmp_path.glob("crash-*"))
