"""One trial: one tool against one built mutant with one seed, in a child.

``harness`` trials use the campaign's own command line
(:func:`harness.fuzz.campaign.command`: the same ``-max_len``, dictionary,
``-timeout`` and stats flags as ``wsa-harness fuzz``) and a fresh corpus
seeded from ``corpus/seeds`` (:func:`harness.fuzz.campaign.export_seeds`), plus
``-seed=N``; only the launcher differs: it runs :func:`.worker.fuzz_main`,
which stops at the first divergence.  A crash or hang of the target (a
mutant that corrupts memory or loops) counts as a detection, at the time the
child ended.  The anchors run :mod:`.worker`'s ``random`` and ``hypothesis``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.bugbench.mutants import REPO
from harness.bugbench.worker import NATIVE_ENV, RESULT_ENV
from harness.engines import CORE_DIR_ENV
from harness.fuzz.target import (
    DEFAULT_MAX_STEPS,
    INITIAL_ENV,
    MAX_STEPS_ENV,
    POLICY_ENV,
    SIDES_ENV,
)
from harness.oracle.diff import Side
from harness.vocab import resources
from harness.vocab.profiles import get_profile

#: every tool, in report order.  ``harness`` is the core-led campaign (the
#: default of ``wsa-harness fuzz``), ``harness-every`` the campaign with
#: ``--reference every``; ``-noseeds`` is either from an empty corpus (the
#: generator's own power, without the seed programs)
TOOLS = (
    "harness", "harness-every", "harness-noseeds", "harness-every-noseeds", "random", "hypothesis",
)  # fmt: skip
DEFAULT_TOOLS = ("harness", "harness-every", "random", "hypothesis")
#: the campaign tools: (reference policy, seeded)
CAMPAIGNS = {
    "harness": ("core-led", True),
    "harness-every": ("every", True),
    "harness-noseeds": ("core-led", False),
    "harness-every-noseeds": ("every", False),
}
_SEEDS = resources.seeds()
#: the checkout's corpus/seeds, else the wheel's harness/data/seeds
SEEDS = _SEEDS.path if _SEEDS is not None else REPO / "corpus" / "seeds"
#: per-input hang limit for libFuzzer (a hang is a detection)
HANG_SECONDS = 10
#: time the parent allows beyond the budget before it kills a child
GRACE = 60
#: libFuzzer's exit statuses (-error_exitcode, -timeout_exitcode defaults)
LIBFUZZER_CRASH, LIBFUZZER_HANG = 77, 70
_FINAL = re.compile(r"stat::number_of_executed_units:\s+(\d+)")


@dataclass(frozen=True)
class Trial:
    tool: str
    mutant: str
    seed: int
    detected: bool
    seconds: float  # to the first detection, or when the trial ended undetected
    execs: int  # programs run by then (-1: unknown)
    kind: str  # divergence | exception | crash | timeout | censored
    signature: str
    #: campaign tools: why the reference ran on the detecting input (start,
    #: new-step, sample, every; core: the core alone faulted)
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Trial:
        return cls(**data)  # type: ignore[arg-type]


def _env(module: Path, result: Path) -> dict[str, str]:
    env = dict(os.environ)
    env[CORE_DIR_ENV] = str(module.parent)  # the build's own folder: its _core alone
    env[RESULT_ENV] = str(result)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _launcher(folder: Path) -> Path:
    path = folder / "bench_target"
    path.write_text(
        f"#!{sys.executable}\nimport time\nT0 = time.monotonic()\n"
        "from harness.bugbench.worker import fuzz_main\nfuzz_main(T0)\n"
    )
    path.chmod(0o755)
    return path


def _run_child(cmd: list[str], env: dict[str, str], log: Path, limit: float) -> tuple[int, float]:
    """Run ``cmd`` in its own session; (exit status, seconds); killed at ``limit``."""
    start = time.monotonic()
    with log.open("w") as out:
        child = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            status = child.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill(child)
            status = -signal.SIGKILL
        except BaseException:  # Ctrl-C or SIGTERM of the benchmark: no orphan fuzzer
            _kill(child)
            raise
    return status, time.monotonic() - start


def _kill(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def run_trial(
    tool: str,
    mutant: str,
    module: Path,
    profile: str,
    seed: int,
    budget: float,
    runs: int | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    keep: Path | None = None,
    native: bool = False,
) -> Trial:
    """Run one trial; ``runs`` bounds it by programs instead of time (tests).
    ``keep`` names a folder to keep the trial's files in (else a temp one).
    ``native``: ``module`` is a native-coverage build (campaign tools only)."""
    work = keep or Path(tempfile.mkdtemp(prefix=f"wsa-trial-{tool}-"))
    work.mkdir(parents=True, exist_ok=True)
    result = work / "result.json"
    result.unlink(missing_ok=True)
    env = _env(module, result)
    limit = (budget if runs is None else 3600.0) + GRACE
    try:
        if tool in CAMPAIGNS:
            policy, seeded = CAMPAIGNS[tool]
            cmd = _harness_command(work, profile, seed, budget, runs, max_steps, seeded)
            env[SIDES_ENV] = f"core/{profile},reference/{profile}"
            env[MAX_STEPS_ENV] = str(max_steps)
            env[POLICY_ENV] = policy
            # the initial corpus (and libFuzzer's empty input), as the campaign counts it
            env[INITIAL_ENV] = str(sum(1 for _ in (work / "corpus").iterdir()) + 1)
            if native:
                env[NATIVE_ENV] = "1"
            env.pop("WSA_FUZZ_FINDINGS", None)
        elif tool in ("random", "hypothesis"):
            cmd = [sys.executable, "-m", "harness.bugbench.worker", tool, "--out", str(result),
                   "--profile", profile, "--budget", str(budget if runs is None else 1e9),
                   "--seed", str(seed), "--max-steps", str(max_steps)]  # fmt: skip
            if runs is not None:
                cmd += ["--runs", str(runs)]
        else:
            raise ValueError(f"unknown tool {tool!r}")
        status, elapsed = _run_child(cmd, env, work / "log.txt", limit)
        return _outcome(tool, mutant, seed, budget if runs is None else None, status, elapsed, work)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _harness_command(
    work: Path, profile: str, seed: int, budget: float, runs: int | None, max_steps: int,
    seeded: bool,
) -> list[str]:  # fmt: skip
    from harness.fuzz.campaign import Config, command, export_seeds

    corpus = work / "corpus"
    corpus.mkdir(exist_ok=True)
    (work / "crashes").mkdir(exist_ok=True)
    if seeded:
        if not SEEDS.is_dir():
            raise RuntimeError(f"{SEEDS}: no seed programs for the harness tool")
        export_seeds(SEEDS, corpus)
    side = get_profile(profile)
    cfg = Config(
        sides=(Side("core", side), Side("reference", side)), out=work, corpus=corpus,
        time=None if runs is not None else max(1, math.ceil(budget)), runs=runs,
        max_steps=max_steps, extra=[f"-seed={seed}", f"-timeout={HANG_SECONDS}"],
    )  # fmt: skip
    cmd = command(cfg, corpus)
    cmd[0] = str(_launcher(work))
    return cmd


def _outcome(
    tool: str, mutant: str, seed: int, budget: float | None, status: int, elapsed: float,
    work: Path,
) -> Trial:  # fmt: skip
    result = work / "result.json"
    reason = ""
    log = (work / "log.txt").read_text(errors="replace")
    found = _FINAL.findall(log)
    fuzz_execs = int(found[-1]) if found else -1
    if result.exists():
        data = json.loads(result.read_text())
        detected, seconds = bool(data["detected"]), float(data["seconds"])
        execs, kind, sig = int(data["execs"]), str(data["kind"]), str(data["signature"])
        reason = str(data.get("reason", ""))
    elif status == -signal.SIGKILL:  # the parent's limit: the child hung past any budget
        detected, seconds, execs, kind, sig = False, elapsed, fuzz_execs, "censored", ""
    elif tool.startswith("harness") and status in (LIBFUZZER_CRASH, LIBFUZZER_HANG):
        # libFuzzer saw the target die or hang: a detection, when the child ended
        kind = "timeout" if status == LIBFUZZER_HANG or "libFuzzer: timeout" in log else "crash"
        detected, seconds, execs, sig = True, elapsed, fuzz_execs, _last_error_line(log)
    elif tool.startswith("harness") and status == 0:  # libFuzzer's budget ran out
        detected, seconds, execs, kind, sig = False, elapsed, fuzz_execs, "censored", ""
    elif not tool.startswith("harness") and status < 0:  # an anchor killed by a signal
        detected, seconds, execs, kind, sig = True, elapsed, -1, "crash", f"signal {-status}"
    else:  # the benchmark itself failed (an import error, a bad flag): never a detection
        tail = "\n".join(log.splitlines()[-15:])
        raise RuntimeError(f"{tool} trial ended with status {status} and no result:\n{tail}")
    if budget is not None and (not detected or seconds > budget):
        detected, seconds, kind = False, budget, "censored"
    return Trial(
        tool, mutant, seed, detected, seconds, execs, kind, sig, reason if detected else ""
    )


def _last_error_line(log: str) -> str:
    for line in reversed(log.splitlines()):
        if "ERROR" in line or "Error" in line or "ALARM" in line:
            return line.strip()[:200]
    return "crash"
