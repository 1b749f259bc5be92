"""Lockstep: the reference model and the compiled core, driven together.

The machine is harness.library.lockstep (its docstring is the theory of
operation): a Hypothesis state machine that hands every kind of step to both
engines through the stepwise API and, after every step, compares their step
records and snapshots and checks SEMANTICS.md section 11 on both.  Here it
draws a profile from all of PROFILES for each test case; the bug-finding
benchmark's ``hypothesis`` tool runs the same machine on a fixed profile.
A failure prints the steps so far as a program (PROGRAMS.md) that
``wsa-harness diff`` replays on both engines.

Needs both engines.  ``WSA_HARNESS_NO_CORE=1`` (an explicit request for the
reference alone) skips it with that reason; otherwise a core that is missing
or stale fails the test.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from conftest import CORE, REFERENCE
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from harness.engines import NO_CORE_ENV, no_core
from harness.library.lockstep import Divergence, lockstep_machine
from harness.vocab.constants import Op
from harness.vocab.profiles import Limits, Profile

SETTINGS = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.core
@pytest.mark.skipif(
    no_core(), reason=f"{NO_CORE_ENV} is set: lockstep compares the core with the model"
)
def test_engines_agree_in_lockstep() -> None:
    # Each engine is imported by its own name: a missing or stale core fails here.
    machine = lockstep_machine(REFERENCE.load(), CORE.load())
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_a_divergence_is_caught() -> None:
    """The machine can fail: an engine that answers one step differently is
    reported with the program so far, to ``on_divergence`` and in the error."""

    class Skewed:
        def __init__(self, profile: Profile, limits: Limits) -> None:
            self.inner = REFERENCE.load().Engine(profile, limits)

        def step(self, op: int, *rest: int) -> tuple[int, ...]:
            record = tuple(self.inner.step(op, *rest))
            return (record[0] + 1, *record[1:]) if op == Op.SOCKET else record

        def snapshot(self) -> tuple[int, ...]:
            return tuple(self.inner.snapshot())

        def check_invariants(self) -> list[str]:
            return list(self.inner.check_invariants())

    skewed = ModuleType("skewed")
    skewed.Engine = Skewed  # type: ignore[attr-defined]
    reports: list[str] = []
    machine = lockstep_machine(REFERENCE.load(), skewed, on_divergence=reports.append)
    quiet = settings(SETTINGS, max_examples=100, database=None, print_blob=False)
    with pytest.raises(Divergence, match="step records differ") as caught:
        run_state_machine_as_test(machine, settings=quiet)
    assert "socket" in str(caught.value) and "@profile" in str(caught.value)
    assert reports and reports[-1] == str(caught.value)
