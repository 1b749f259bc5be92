"""No lost findings: a real campaign killed with SIGINT or SIGTERM leaves its
reproducers, findings and corpus consistent, and a second run with the same
``--out`` goes on from them without minimizing known findings again.

The campaign compares the two profiles on the reference model, so findings
(known profile differences) come within seconds.  Its budget is far longer
than the test: only the signal ends it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.lang.parser import parse_file

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
FUZZ = [sys.executable, "-m", "harness", "fuzz", "--engines", "reference",
        "--profiles", "documented,windows"]  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _wait_for(predicate: object, timeout: float, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"campaign ended early ({proc.returncode}):\n{out}\n{err}")
        time.sleep(0.2)
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"timed out waiting for the campaign:\n{out}\n{err}")


def _signatures(folder: Path) -> list[str]:
    sigs = []
    for path in sorted(folder.glob("*.wsa")):
        lines = [ln for ln in path.read_text().splitlines() if ln.startswith("# signature: ")]
        assert len(lines) == 1, path
        sigs.append(lines[0].removeprefix("# signature: "))
    return sigs


def _causes(out: Path) -> dict[str, dict[str, object]]:
    return {c["key"]: c for c in json.loads((out / "causes.json").read_text())}


def check_consistent(out: Path) -> None:
    """Every reproducer parses and passes `corpus check` under its own profile,
    has its raw input, and stands for one root cause of causes.json; every
    finding is a complete .json/.bin pair whose signature is listed under
    exactly one cause once it is done; no temporary file is left behind."""
    repros, findings = out / "reproducers", out / "findings"
    causes = _causes(out)
    assert {Path(str(c["reproducer"])).name for c in causes.values()} == {
        p.name for p in repros.glob("*.wsa")
    }
    for path in sorted(repros.glob("*.wsa")):
        program = parse_file(path)
        assert program.has_profile, path
        assert path.with_suffix(".bin").is_file(), path
    listed = [sig for c in causes.values() for sig in c["signatures"]]  # type: ignore[attr-defined]
    assert len(listed) == len(set(listed)), listed
    for meta in sorted(findings.glob("*.json")):
        assert meta.with_suffix(".bin").is_file(), meta
        signature = json.loads(meta.read_text())["signature"]
        assert signature
        if meta.with_suffix(".done").exists():
            assert signature in listed, signature
    sigs = _signatures(repros)
    assert len(sigs) == len(set(sigs)), sigs
    # (the fuzzing child may die mid-write, leaving a hidden .tmp in findings/ that
    # nothing reads; the driver itself handles the signal and finishes its writes)
    leftovers = [p for d in (repros, out) for p in d.glob(".*.tmp")]
    assert not leftovers, leftovers
    check = subprocess.run(
        [sys.executable, "-m", "harness", "corpus", "check", str(repros), "--engines", "reference"],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_killed_campaign_keeps_findings_and_resumes(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*FUZZ, "--time", "3600", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    _wait_for(lambda: any((out / "reproducers").glob("*.wsa")), 300, proc)
    proc.send_signal(signum)
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"the campaign did not stop after the signal:\n{stdout}\n{stderr}")
    assert proc.returncode == 130, (proc.returncode, stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert "summary (interrupted)" in stdout, stdout
    check_consistent(out)

    # every finding recorded before the signal is done: minimized under its cause
    findings = {p.stem for p in (out / "findings").glob("*.json")}
    assert findings == {p.stem for p in (out / "findings").glob("*.done")}
    before = _causes(out)
    corpus = {p.name: p.read_bytes() for p in (out / "corpus").iterdir()}
    assert corpus

    # resume: same --out, a bounded run
    again = subprocess.run(
        [*FUZZ, "--runs", "400", "--out", str(out)],
        capture_output=True, text=True, env=_env(), timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr  # known switches: expected
    assert "seeding" not in again.stdout  # the corpus was kept, not seeded anew
    check_consistent(out)
    after = _causes(out)
    for key, cause in before.items():
        # known causes are kept, never minimized again into something larger
        assert after[key]["steps"] <= cause["steps"], key  # type: ignore[operator]
        assert f"expected divergence: {key} ->" not in again.stdout
    assert {p.stem for p in (out / "findings").glob("*.json")} == {
        p.stem for p in (out / "findings").glob("*.done")
    }
    now = {p.name for p in (out / "corpus").iterdir()}
    assert set(corpus) <= now  # nothing of the corpus was lost


def test_a_signal_while_the_child_starts_stops_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C just as the fuzzing child has been started: the campaign ends as
    interrupted and the child (in a session of its own, so the terminal's
    SIGINT never reaches it) is stopped, not left running."""
    import io

    from harness.fuzz import campaign
    from harness.oracle.diff import Side
    from harness.vocab.profiles import DOCUMENTED, WINDOWS

    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    monkeypatch.setattr(campaign, "command", lambda cfg, corpus, *rest: sleeper)
    real_popen = subprocess.Popen
    children: list[subprocess.Popen[str]] = []

    def popen_then_signal(*args: object, **kwargs: object) -> subprocess.Popen[str]:
        child = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        children.append(child)
        os.kill(os.getpid(), signal.SIGINT)
        return child  # type: ignore[no-any-return]

    monkeypatch.setattr(campaign.subprocess, "Popen", popen_then_signal)
    cfg = campaign.Config(
        sides=(Side("reference", DOCUMENTED), Side("reference", WINDOWS)), out=tmp_path, time=600
    )
    try:
        summary = campaign.Campaign(cfg, io.StringIO()).run()
        assert summary.interrupted
        assert len(children) == 1 and children[0].poll() is not None
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
