"""Findings a machine can act on: exit codes, crash / hang / bad-trace / cost
findings with their own reproducers, reproducible campaigns, a lock on the
output folder, and an appended libFuzzer log.

Broken cores are made out of tree and reached through ``WSA_HARNESS_CORE_DIR``:
a small ``_core.py`` there loads the real compiled core and misbehaves on
every ``shutdown`` step (it diverges, raises, loops, or returns a result of
kind 0).  The slow core is a real build: the planted mutant
``bench/mutants/22-no-fast-forward.patch`` gives every result unchanged, only
far more settling work.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engines import CORE_DIR_ENV, load_engine, no_core

pytestmark = [pytest.mark.fuzz, pytest.mark.core]
REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "harness"]

WRAPPER = '''
"""A broken core for the tests: the real one, except on shutdown steps ({mode})."""
import importlib.util

from harness.vocab.constants import Op

_spec = importlib.util.spec_from_file_location("harness._core", {real!r})
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
MODE = {mode!r}
set_work_limit = _real.set_work_limit


def _broken(record):
    if MODE == "raise":
        raise ValueError("planted: shutdown raises")
    if MODE == "loop":
        while True:
            pass
    if MODE == "diverge":
        return (record[0], record[1], record[2] + 1, *record[3:])
    return (record[0], 0, *record[2:])  # bad-trace: result kind 0


class Engine:
    def __init__(self, profile, limits):
        self._e = _real.Engine(profile, limits)

    def step(self, op, thread, target, x1, x2, x3):
        record = tuple(self._e.step(op, thread, target, x1, x2, x3))
        return _broken(record) if op == Op.SHUTDOWN else record

    def snapshot(self):
        return self._e.snapshot()

    def check_invariants(self):
        return self._e.check_invariants()

    @property
    def work(self):
        return self._e.work


def run_lowered(lowered, profile, limits, **kwargs):
    import array

    engine = Engine(profile, limits)
    slots = [0] * lowered[0]
    out = [(len(lowered) - 1) // 8]
    for i in range(out[0]):
        op, thread, bind, tk, tv, x1, x2, x3 = lowered[1 + 8 * i : 9 + 8 * i]
        record = engine.step(op, thread, slots[tv] if tk == 1 else tv, x1, x2, x3)
        if bind >= 0:
            slots[bind] = record[0]
        out.extend(record)
    out.extend(engine.snapshot())
    return array.array("q", out)
'''


def _env(core_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if core_dir is not None:
        env[CORE_DIR_ENV] = str(core_dir)
    return env


def broken_core(tmp_path: Path, mode: str) -> Path:
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    real = load_engine("core").__file__
    folder = tmp_path / f"core-{mode}"
    folder.mkdir()
    (folder / "_core.py").write_text(WRAPPER.format(mode=mode, real=real))
    return folder


def fuzz(
    out: Path, *args: str, core_dir: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "fuzz", "--out", str(out), *args],
        capture_output=True, text=True, env=_env(core_dir), timeout=timeout,
    )  # fmt: skip


def causes(out: Path) -> dict[str, dict[str, object]]:
    return {c["key"]: c for c in json.loads((out / "causes.json").read_text())}


# --- the four kinds of broken core --------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kind", "words"),
    [
        ("diverge", "divergence", "engines shutdown"),
        ("raise", "crash", "crash core ValueError in shutdown"),
        ("bad-trace", "bad-trace", "bad-trace core"),
    ],
)
def test_a_broken_core_is_a_finding_and_fails_the_campaign(
    tmp_path: Path, mode: str, kind: str, words: str
) -> None:
    out = tmp_path / "out"
    done = fuzz(out, "--runs", "300", core_dir=broken_core(tmp_path, mode))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    found = causes(out)
    assert any(words in key and c["kind"] == kind for key, c in found.items()), found
    assert f"UNEXPECTED {words}" in done.stdout.replace("  ", " "), done.stdout
    for cause in found.values():
        repro = out / str(cause["reproducer"])
        assert repro.is_file() and "shutdown" in repro.read_text(), repro
        assert int(str(cause["steps"])) <= 6, cause


def test_a_core_that_loops_is_a_hang_finding(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = fuzz(
        out, "--runs", "300", "--timeout", "1", core_dir=broken_core(tmp_path, "loop"), timeout=600
    )
    assert done.returncode == 1, done.stdout + done.stderr
    found = causes(out)
    hang = [c for key, c in found.items() if key == "hang core in shutdown"]
    assert hang and hang[0]["kind"] == "hang", found
    text = (out / str(hang[0]["reproducer"])).read_text()
    assert "# signature: hang core at step" in text and "shutdown" in text, text
    assert list((out / "crashes").glob("timeout-*"))


def test_diff_and_run_report_a_broken_core_without_a_traceback(tmp_path: Path) -> None:
    seed = REPO / "corpus" / "seeds"
    program = next(p for p in sorted(seed.glob("*.wsa")) if "shutdown" in p.read_text())
    for mode, words in (("raise", "crash core ValueError"), ("loop", "hang core"),
                        ("bad-trace", "bad-trace core")):  # fmt: skip
        core_dir = broken_core(tmp_path, mode)
        for cmd in (["diff", "--engines", "reference,core"], ["run", "--engine", "core"]):
            done = subprocess.run(
                [*CLI, *cmd, "--timeout", "2", str(program)],
                capture_output=True, text=True, env=_env(core_dir), timeout=120,
            )  # fmt: skip
            assert done.returncode == 1, (mode, cmd, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr + done.stdout, done.stderr
            assert words in done.stdout, (mode, cmd, done.stdout)


@pytest.mark.slow
def test_a_slow_core_is_a_cost_finding(tmp_path: Path) -> None:
    """Mutant 22 keeps every result and only settles a pass at a time."""
    from harness.bugbench.build import build
    from harness.bugbench.mutants import core_sources, load_mutants, mutant_sources

    (mutant,) = load_mutants(only=["22"])
    built = build(mutant_sources(mutant, core_sources()))
    assert built.module is not None, built.log
    program = tmp_path / "slow.wsa"
    program.write_text(
        "@limits sndbuf=1 window=2147483647\n"
        "t0: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\n"
        "t0: o1 = wsasend s1 2147483647 event\n"
    )
    env = _env(built.module.parent)
    done = subprocess.run(
        [*CLI, "minimize", "--engines", "core,reference", str(program)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# signature: cost core at step 4" in done.stdout, done.stdout
    out = tmp_path / "out"
    found = fuzz(out, "--runs", "3000", core_dir=built.module.parent, timeout=600)
    assert found.returncode == 1, found.stdout + found.stderr
    assert any(key.startswith("cost core") for key in causes(out)), found.stdout


# --- reproducible, locked, logged ---------------------------------------------------------


def test_one_job_does_not_reload_its_folder(tmp_path: Path) -> None:
    # libFuzzer's reload reruns, at a moment the clock sets, the seeds that added
    # no coverage: one job without -reload=0 gives different files for one -seed
    from harness.fuzz.campaign import Config, Side, command
    from harness.vocab.profiles import DOCUMENTED, WINDOWS

    sides = (Side("reference", DOCUMENTED), Side("reference", WINDOWS))
    one = command(Config(sides=sides, out=tmp_path), tmp_path)
    two = command(Config(sides=sides, out=tmp_path, jobs=2), tmp_path)
    assert "-reload=0" in one and not any(a.startswith("-reload") for a in two)


def test_the_same_seed_and_runs_give_the_same_findings(tmp_path: Path) -> None:
    args = ["--engines", "reference", "--profiles", "documented,windows", "--runs", "1500",
            "--", "-seed=7"]  # fmt: skip
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        done = fuzz(out, *args)
        assert done.returncode == 0, done.stdout + done.stderr

    def files(out: Path, folder: str) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((out / folder).iterdir())}

    for folder in ("findings", "reproducers", "corpus"):
        one, two = files(outs[0], folder), files(outs[1], folder)
        one.pop("hits.counted", None), two.pop("hits.counted", None)
        assert one == two, folder
    assert causes(outs[0]) == causes(outs[1])


def test_a_second_campaign_on_the_same_out_is_refused(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with (out / ".lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        done = fuzz(out, "--engines", "reference", "--profiles", "documented,windows",
                    "--runs", "10")  # fmt: skip
    assert done.returncode == 1
    assert "another campaign (pid 4242) is using this folder" in done.stderr, done.stderr


def test_libfuzzer_log_is_appended_with_a_header_per_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        done = fuzz(out, "--engines", "reference", "--profiles", "documented,windows",
                    "--runs", "50")  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
    log = (out / "libfuzzer.log").read_text()
    assert log.count("\n=== ") == 2 and log.count("Done 50 runs") + log.count("-runs=") >= 2


def test_a_clean_core_passes(tmp_path: Path) -> None:
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1 asks for pure-Python mode")
    done = fuzz(tmp_path / "out", "--runs", "300")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit status       0" in done.stdout


def test_killing_the_campaign_kills_the_fuzzing_child(tmp_path: Path) -> None:
    """SIGKILL of the driver leaves no libFuzzer child writing the corpus."""
    import signal
    import time

    proc = subprocess.Popen(
        [*CLI, "fuzz", "--out", str(tmp_path / "out"), "--engines", "reference",
         "--profiles", "documented,windows", "--time", "600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
    )  # fmt: skip
    children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 60
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        time.sleep(0.2)
        children = [int(p) for p in children_file.read_text().split()]
    assert children, "the campaign started no child"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{children[0]}").exists():
        state = Path(f"/proc/{children[0]}/stat").read_text().split()[2]
        if state == "Z":
            break
        time.sleep(0.1)
    else:
        pass
    alive = Path(f"/proc/{children[0]}").exists() and (
        Path(f"/proc/{children[0]}/stat").read_text().split()[2] != "Z"
    )
    assert not alive, f"child {children[0]} outlived the campaign"


def test_fuzz_help_documents_the_exit_status() -> None:
    done = subprocess.run([*CLI, "fuzz", "--help"], capture_output=True, text=True, env=_env())
    assert done.returncode == 0
    for line in ("exit status:", "  0 ", "  1 ", "  2 ", "  130 "):
        assert line in done.stdout, line


@pytest.mark.slow
def test_coverage_with_jobs_is_also_given_as_one_process_sees_it(tmp_path: Path) -> None:
    done = fuzz(tmp_path / "out", "--engines", "reference", "--profiles", "documented,windows",
                "--runs", "2000", "--jobs", "2")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(the largest one job saw)" in done.stdout, done.stdout
    assert "coverage, replay  cov " in done.stdout, done.stdout
    # two long-lived libFuzzer processes, each its share of the runs, one corpus
    log = (tmp_path / "out" / "libfuzzer.log").read_text()
    assert " job 0: " in log and " job 1: " in log and "[job 1] " in log
    assert log.count("-runs=1000") == 2, log[:2000]
    # the summary adds up the jobs' executions; a job's corpus reload runs the
    # other's new inputs past its -runs (libFuzzer counts them), so the sum
    # is at least the budget
    units = [int(n) for n in re.findall(r"stat::number_of_executed_units: (\d+)", log)]
    assert len(units) == 2 and sum(units) >= 2000, units
    assert f"executions        {sum(units)}\n" in done.stdout, done.stdout
