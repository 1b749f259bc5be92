"""What runs inside one trial's process (one tool, one mutant, one seed).

The mutant core is the one in the folder ``WSA_HARNESS_CORE_DIR`` names; each entry point
writes its outcome as JSON to the file ``WSA_BENCH_RESULT`` (or ``--out``)
the moment the first divergence shows, and stops.  Times count from the
start of the process (``T0``), imports and seed loading included, the same
way for every tool.

* :func:`fuzz_main`: the atheris campaign target, started by libFuzzer with
  the campaign's flags (:mod:`.trials` writes the launcher).
* ``python -m harness.bugbench.worker random|hypothesis ...``: the anchors.
"""

from __future__ import annotations

import time

T0 = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from harness.oracle.diff import Side  # noqa: E402

RESULT_ENV = "WSA_BENCH_RESULT"
#: set when the trial's core is a native-coverage build (-fsanitize=fuzzer-no-link)
NATIVE_ENV = "WSA_BENCH_NATIVE"
#: the target's exit status once it has written its result (not one of libFuzzer's)
DETECTED_EXIT = 42


@dataclass
class Outcome:
    detected: bool
    seconds: float
    execs: int
    kind: str = "censored"  # divergence, a fault kind (crash, cost, ...), timeout, censored
    signature: str = ""
    #: why the reference ran on the detecting input (harness.fuzz.policy.REASONS)
    reason: str = ""

    def write(self, path: Path) -> None:
        from harness.vocab.fsutil import write_atomic

        write_atomic(path, json.dumps(asdict(self)) + "\n")


def _since_start() -> float:
    return round(time.monotonic() - T0, 4)


def _sides(profile: str) -> tuple[Side, Side]:
    return Side.parse("core", profile), Side.parse("reference", profile)


def fuzz_main(t0: float) -> None:
    """The campaign target (harness.fuzz.entry) that stops at the first divergence."""
    import atheris

    from harness.fuzz.entry import instrument_reference, load_libfuzzer_globally

    setup_options = {}
    if os.environ.get(NATIVE_ENV):  # an instrumented mutant: libFuzzer first, globally
        setup_options["internal_libfuzzer"] = load_libfuzzer_globally()
    instrument_reference()
    from harness.fuzz.target import target_from_env

    target = target_from_env()
    out = Path(os.environ[RESULT_ENV])
    execs = 0

    def stop(kind: str, signature: str) -> None:
        reason = target.policy.last or "core"  # None: the core alone faulted
        Outcome(True, round(time.monotonic() - t0, 4), execs, kind, signature, reason).write(out)
        os._exit(DETECTED_EXIT)

    def one(data: bytes) -> None:
        nonlocal execs
        execs += 1
        try:
            finding = target.check(data)
        except Exception as exc:  # a core that raises is a detected bug too
            stop("exception", repr(exc)[:200])
        else:
            if finding is not None:
                stop(finding.kind, finding.signature)

    atheris.Setup(list(sys.argv), one, **setup_options)
    atheris.Fuzz()


def run_random(profile: str, budget: float, seed: int, runs: int | None, max_steps: int) -> Outcome:
    """Pure random programs: the decoder on random bytes, no feedback."""
    from harness.fuzz.target import DifferentialTarget
    from harness.lang.encoding import STEP_BYTES

    target = DifferentialTarget(_sides(profile), None, max_steps)  # the reference on every input
    rng = random.Random(seed)
    deadline = T0 + budget
    execs = 0
    while (runs is None or execs < runs) and time.monotonic() < deadline:
        data = rng.randbytes(rng.randint(1, 1 + STEP_BYTES * max_steps))
        execs += 1
        try:
            finding = target.check(data)
        except Exception as exc:
            return Outcome(True, _since_start(), execs, "exception", repr(exc)[:200])
        if finding is not None:
            return Outcome(True, _since_start(), execs, finding.kind, finding.signature)
    return Outcome(False, _since_start(), execs)


def run_hypothesis(profile: str, budget: float, seed: int, runs: int | None) -> Outcome:
    """The lockstep state machine (:mod:`harness.library.lockstep`) on the trial's
    profile, rerun with fresh seeds until failure or budget."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import seed as hseed
    from hypothesis.stateful import run_state_machine_as_test

    from harness.engines import load_engine
    from harness.library.lockstep import BudgetOver, lockstep_machine
    from harness.vocab.profiles import get_profile

    core, ref = load_engine("core"), load_engine("reference")
    deadline = T0 + budget
    execs = 0
    first: Outcome | None = None

    def on_case() -> None:
        nonlocal execs
        execs += 1

    def on_divergence(report: str) -> None:
        nonlocal first
        if first is None:
            # the report's head (what differs, the two sides) on one line, without the program
            head = " ".join(report.partition("\nprogram:\n")[0].split())
            first = Outcome(True, _since_start(), execs, "divergence", head[:200])

    machine = lockstep_machine(
        ref, core, profile=get_profile(profile), deadline=deadline,
        on_case=on_case, on_divergence=on_divergence,
    )  # fmt: skip
    config = settings(
        max_examples=20, phases=[Phase.generate], database=None, deadline=None,
        suppress_health_check=list(HealthCheck), print_blob=False,
    )  # fmt: skip
    rng = random.Random(seed)
    while first is None and time.monotonic() < deadline and (runs is None or execs < runs):
        hseed(rng.getrandbits(64))(machine)
        try:
            run_state_machine_as_test(machine, settings=config)
        except Exception as exc:
            # Hypothesis may report the BudgetOver of the next test case in its
            # own words (a flaky-generation error): past the deadline, any
            # exception without a divergence is the budget's end
            if first is not None or isinstance(exc, BudgetOver) or time.monotonic() >= deadline:
                break
            return Outcome(True, _since_start(), execs, "exception", repr(exc)[:200])
    return first if first is not None else Outcome(False, _since_start(), execs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.bugbench.worker")
    p.add_argument("tool", choices=("random", "hypothesis"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--profile", default="documented")
    p.add_argument("--budget", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=20)
    args = p.parse_args(argv)
    if args.tool == "random":
        outcome = run_random(args.profile, args.budget, args.seed, args.runs, args.max_steps)
    else:
        outcome = run_hypothesis(args.profile, args.budget, args.seed, args.runs)
    outcome.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
