"""Whole campaigns, side by side in one run: what the user of `make fuzz` gets.

(d) core-led against ``--reference every``: the same campaign (`make fuzz`'s
    sides: core against reference, ``--profiles any``, the native-coverage
    core when clang is installed, the seed corpus) for a fixed time, the two
    policies in alternating order round after round, so that the load of this
    shared machine falls on both alike.  Each round starts from a fresh copy
    of the seeds.  The figure is libFuzzer's executions per second of
    fuzzing; the core-led campaign's replay of its final corpus, after the
    budget, is timed apart and printed (target: core-led >= 4x every).
(e) ``--jobs 2`` against ``--jobs 1``, core-led, interleaved the same way,
    twice as long: executions in the same time (the ratio is printed; two
    cores shared with other work bound it).

The best round of each side is kept.  Nothing here asserts a time; what is
asserted is that the campaigns ran and the reference checked what the
policy says (all inputs with ``every``, fewer with core-led).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from ratios import Speed

from harness.engines import CORE_DIR_ENV, no_core
from harness.fuzz.campaign import Campaign, Config, Summary, export_seeds
from harness.fuzz.target import ANY_PROFILE
from harness.oracle.diff import Side
from harness.vocab import resources

#: seconds per campaign and interleaved rounds (WSA_BENCH_CAMPAIGN=SECONDS,ROUNDS)
SECONDS, ROUNDS = (int(v) for v in os.environ.get("WSA_BENCH_CAMPAIGN", "10,3").split(","))
#: the jobs rounds are longer: each job's start-up (Python, atheris, the seeds) is a fixed cost
JOBS_SECONDS = 2 * SECONDS


@pytest.fixture(scope="module")
def native_env() -> dict[str, str]:
    """The child's environment: the native-coverage core when clang is there."""
    if no_core():
        pytest.skip("WSA_HARNESS_NO_CORE=1: a core-led campaign needs the core")
    if shutil.which("clang") is None:
        return {}
    from harness.fuzz import native

    native.build("coverage")
    return {CORE_DIR_ENV: str(native.core_dir("coverage"))}


def campaign(
    work: Path, env: dict[str, str], reference: str, jobs: int = 1, seconds: int = SECONDS
) -> tuple[Summary, float]:
    """One campaign from a fresh copy of the seeds; its summary and the
    seconds its final replay took (after the budget)."""
    seeds = resources.seeds()
    assert seeds is not None, "no seed programs"
    shutil.rmtree(work, ignore_errors=True)
    (work / "corpus").mkdir(parents=True)
    export_seeds(seeds.path, work / "corpus")
    side = ANY_PROFILE
    cfg = Config(
        sides=(Side("core", side), Side("reference", side)), out=work, time=seconds,
        jobs=jobs, env=dict(env), reference=reference, extra=["-seed=1"],
    )  # fmt: skip
    c = Campaign(cfg, io.StringIO())
    replay = [0.0]
    original = c._replay

    def timed(*args: Any) -> Any:
        t0 = time.monotonic()
        try:
            return original(*args)
        finally:
            replay[0] = time.monotonic() - t0

    c._replay = timed  # type: ignore[method-assign]
    summary = c.run()
    assert summary.execs > 0 and not summary.interrupted
    return summary, replay[0]


def _rate(s: Summary, seconds: int) -> float:
    return s.execs / seconds


def test_campaign_core_led_vs_every(
    benchmark: Any, native_env: dict[str, str], tmp_path: Path, speed: Speed
) -> None:
    best: dict[str, float] = {}
    checked: dict[str, str] = {}
    replays: list[float] = []

    def rounds() -> None:
        for r in range(ROUNDS):
            order = ("core-led", "every") if r % 2 == 0 else ("every", "core-led")
            for policy in order:
                s, replay = campaign(tmp_path / policy, native_env, policy)
                best[policy] = max(best.get(policy, 0.0), _rate(s, SECONDS))
                checked[policy] = s.checked.line()
                if policy == "core-led":
                    replays.append(replay)
                    assert s.checked.reasons["start"] > 0
                    assert s.checked.total <= s.checked.executions
                else:
                    assert s.checked.total == s.checked.executions

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    ratio = best["core-led"] / best["every"]
    how = "native-coverage core" if native_env else "in-place core (no clang)"
    benchmark.extra_info.update(
        core_led_exec_per_s=best["core-led"], every_exec_per_s=best["every"], ratio=ratio
    )
    speed.notes += [
        f"campaign exec/s ({SECONDS} s x {ROUNDS} interleaved rounds, best, {how}): "
        f"core-led {best['core-led']:,.0f}, --reference every {best['every']:,.0f}: "
        f"{ratio:.2f}x  (target >= 4x)",
        f"  reference checked, last round: core-led {checked['core-led']}; "
        f"every {checked['every']}",
        f"  core-led's final-corpus replay after the budget: "
        f"{min(replays):.1f}-{max(replays):.1f} s",
    ]


def test_campaign_jobs_2_vs_1(
    benchmark: Any, native_env: dict[str, str], tmp_path: Path, speed: Speed
) -> None:
    best: dict[int, float] = {}

    def rounds() -> None:
        for r in range(ROUNDS):
            for jobs in (1, 2) if r % 2 == 0 else (2, 1):
                s, _ = campaign(
                    tmp_path / f"jobs{jobs}", native_env, "core-led", jobs, JOBS_SECONDS
                )
                best[jobs] = max(best.get(jobs, 0.0), _rate(s, JOBS_SECONDS))

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    ratio = best[2] / best[1]
    benchmark.extra_info.update(jobs1_exec_per_s=best[1], jobs2_exec_per_s=best[2], ratio=ratio)
    speed.notes.append(
        f"campaign --jobs 2 vs --jobs 1 (core-led, {JOBS_SECONDS} s x {ROUNDS} interleaved rounds, "
        f"best): {best[2]:,.0f} vs {best[1]:,.0f} exec/s: {ratio:.2f}x"
    )
