"""Hypothesis strategies (harness/library/strategies.py): programs() and steps()."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import harness
from harness.engines import no_core
from harness.lang.parser import parse
from harness.lang.program import Program
from harness.lang.render import format_program, same_program, with_expectations
from harness.library.strategies import append, programs, steps
from harness.vocab.profiles import PROFILES, Limits

FIXTURE_OK = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150
)


def _engine_name(module: ModuleType) -> str:
    return "reference" if module.__name__ == "harness.reference" else "core"


@pytest.mark.core
@pytest.mark.skipif(no_core(), reason="WSA_HARNESS_NO_CORE is set: there is no core to compare")
@settings(deadline=None, max_examples=300)
@given(programs(max_steps=40))
def test_core_and_reference_agree_on_generated_programs(program: Program) -> None:
    """The differential property, written with the public strategy and API."""
    found = harness.diff(program, a=("reference", None), b=("core", None))
    assert found is None, found.render()


@FIXTURE_OK
@given(program=programs(max_steps=25))
def test_stack_replays_generated_programs(engine_module: ModuleType, program: Program) -> None:
    """Driving the Stack step by step gives the batch run's results and events."""
    engine = _engine_name(engine_module)
    stack = harness.Stack(program.profile, engine, program.limits)
    for step in program.steps:
        stack.execute(step)
        assert stack.invariants() == []
    filled = with_expectations(program, harness.run(program, engine))
    assert stack.program() == format_program(filled)


@settings(deadline=None, max_examples=200)
@given(program=programs(profile="windows", max_steps=12, limits=Limits(sockets=2)))
def test_programs_honour_their_arguments(program: Program) -> None:
    assert len(program.steps) <= 12
    assert program.profile is PROFILES["windows"]
    assert program.limits == Limits(sockets=2)
    text = format_program(program)
    assert same_program(parse(text), program)


@settings(deadline=None, max_examples=200)
@given(data=st.data())
def test_steps_are_valid_after_their_context(data: st.DataObject) -> None:
    context = data.draw(programs(max_steps=10), label="context")
    step = data.draw(steps(context), label="step")
    grown = append(context, step)
    if step.bind is not None:  # a fresh variable, numbered after the context's
        letter = step.bind[0]
        used = [int(v[1:]) for v in context.slots if v[0] == letter]
        assert step.bind == f"{letter}{max(used, default=0) + 1}"
    again = parse(format_program(grown))  # every check of the program text passes
    assert same_program(again, grown)
    harness.run(grown, "reference")


@settings(deadline=None, max_examples=100)
@given(steps())
def test_steps_in_an_empty_context(step: harness.Step) -> None:
    assert step.target is None or step.target.__class__.__name__ != "Var"
    harness.run(append(Program(()), step), "reference")


def _has_reset(program: Program) -> bool:
    filled = with_expectations(program, harness.run(program, "reference"))
    return any("c1 reset" in s.expect.events for s in filled.steps if s.expect is not None)


def test_shrinking_gives_a_short_program() -> None:
    """A program whose trace shows ``c1 reset`` shrinks to a handful of steps:
    startup, socket, connect and one step that resets."""
    found = find(
        programs(max_steps=30),
        _has_reset,
        settings=settings(database=None, derandomize=True, max_examples=2000, deadline=None),
    )
    assert _has_reset(found)
    assert len(found.steps) <= 5, format_program(found)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        programs(max_steps=-1)
    unordered = parse("t0: startup 2.2\nt0: s2 = socket stream\n")
    with pytest.raises(harness.HarnessError, match="has no binary form"):
        steps(unordered)
