"""Running programs on an engine, checking expectations, and explaining.

Everything here is engine-neutral: it lowers the program, hands it to an
engine's batch API and decodes the canonical trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

from harness.engines import load_engine
from harness.lang.program import RECORD_WIDTH, TARGET_SLOT, Program, Step, lower
from harness.oracle.faults import WORK_PER_STEP, check_trace, guarded_run, run_side
from harness.vocab import trace
from harness.vocab.profiles import Profile


def run(
    program: Program,
    engine: str | ModuleType = "reference",
    profile: Profile | None = None,
    timeout: float | None = None,
) -> trace.Trace:
    """Run ``program`` on ``engine`` (a name or an engine module) under
    ``profile`` (default: the program's header).  An engine that raises,
    returns a malformed trace or (with ``timeout`` seconds, run in a child)
    hangs, dies or settles past the work limit raises
    :class:`~harness.oracle.faults.EngineFault`."""
    return trace.decode(canonical(program, engine, profile, timeout))


def canonical(
    program: Program,
    engine: str | ModuleType,
    profile: Profile | None = None,
    timeout: float | None = None,
) -> tuple[int, ...]:
    """The canonical comparison form of one run (see :func:`run` for faults)."""
    profile = profile or program.profile
    lowered = lower(program)
    if timeout is not None and isinstance(engine, str):
        return guarded_run(engine, lowered, profile, program.limits, timeout, WORK_PER_STEP)
    module = load_engine(engine) if isinstance(engine, str) else engine
    name = engine if isinstance(engine, str) else module.__name__.rpartition(".")[2].strip("_")
    values = tuple(run_side(module, name, lowered, profile, program.limits))
    check_trace(name, lowered, values)
    return values


class StepwiseEngine(Protocol):
    def step(
        self, op: int, thread: int, target: int, x1: int, x2: int, x3: int
    ) -> tuple[int, ...]: ...


def stepwise(program: Program, engine: StepwiseEngine) -> Iterator[tuple[Step, tuple[int, ...]]]:
    """Drive an engine object through the stepwise API, resolving variables;
    yields each step with its canonical record."""
    code = lower(program)
    slots = [0] * code[0]
    for i, step in enumerate(program.steps):
        op, thread, bind, tk, tv, x1, x2, x3 = code[
            1 + RECORD_WIDTH * i : 1 + RECORD_WIDTH * (i + 1)
        ]
        record = engine.step(op, thread, slots[tv] if tk == TARGET_SLOT else tv, x1, x2, x3)
        if bind >= 0:
            slots[bind] = record[0]
        yield step, record


@dataclass(frozen=True)
class Mismatch:
    """A checked step whose actual outcome differs from its expectation."""

    step: Step
    expected: tuple[str, ...]
    actual: tuple[str, ...]

    def render(self, filename: str) -> str:
        exp = "\n".join(f"    {x}" for x in self.expected)
        act = "\n".join(f"    {x}" for x in self.actual)
        head = f"{filename}:{self.step.line}: step does not match"
        return f"{head}\n  expected:\n{exp}\n  actual:\n{act}"


def _lines(result: str, events: tuple[str, ...]) -> tuple[str, ...]:
    return (f"-> {result}", *(f"! {e}" for e in events))


#: What every checker says of a file none of whose steps has an expectation
#: (an empty file, comments only, a regression cut down to its header): it
#: fails, since passing would say nothing (the CLI, corpus check, the plugin).
NOTHING_CHECKED = "no step carries an expectation ('->'), so nothing is checked"


def nothing_checked(program: Program) -> bool:
    """Whether no step of ``program`` carries an expectation."""
    return all(step.expect is None for step in program.steps)


def check(program: Program, result: trace.Trace) -> list[Mismatch]:
    """Compare every checked step with the trace; [] when the program passes."""
    from harness.lang.render import with_expectations

    actual = with_expectations(program, result)
    out = []
    for want, got in zip(program.steps, actual.steps, strict=True):
        if want.expect is None or got.expect is None:
            continue
        if want.expect != got.expect:
            out.append(
                Mismatch(
                    want,
                    _lines(want.expect.result, want.expect.events),
                    _lines(got.expect.result, got.expect.events),
                )
            )
    return out


@dataclass(frozen=True)
class ExplainedStep:
    step: Step
    result: str
    result_rules: tuple[str, ...]
    events: tuple[tuple[str, str], ...]  # (event text, rule id)
    invariant_violations: tuple[str, ...]


def explain(program: Program, profile: Profile | None = None) -> list[ExplainedStep]:
    """Run on the reference model, keeping the rules behind every outcome."""
    from harness.lang.render import with_expectations

    # The reference model is the engine that records rules (engine.world.applied).
    engine = load_engine("reference").Engine(profile or program.profile, program.limits)
    records: list[tuple[int, ...]] = []
    rules: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    violations: list[tuple[str, ...]] = []
    for _, record in stepwise(program, engine):
        records.append(record)
        world = engine.world
        rules.append((tuple(dict.fromkeys(world.applied)), tuple(r for _, r in world.events)))
        violations.append(tuple(engine.check_invariants()))
    flat = [len(records)] + [v for r in records for v in r] + list(engine.snapshot())
    filled = with_expectations(program, trace.decode(flat))
    out = []
    for step, (applied, event_rules), bad in zip(filled.steps, rules, violations, strict=True):
        assert step.expect is not None
        out.append(
            ExplainedStep(
                step,
                step.expect.result,
                applied,
                tuple(zip(step.expect.events, event_rules, strict=True)),
                bad,
            )
        )
    return out


def rules_fired(program: Program, profile: Profile | None = None) -> set[str]:
    """Every rule id the reference model applied while running ``program``."""
    fired: set[str] = set()
    for s in explain(program, profile):
        fired.update(s.result_rules)
        fired.update(r for _, r in s.events)
    return fired
