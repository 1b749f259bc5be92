"""Random programs through each engine: no exception escapes and the
SEMANTICS.md section 11 invariants hold after every step."""

from __future__ import annotations

from types import ModuleType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.lang.encoding import decode
from harness.lang.render import format_program
from harness.oracle.run import stepwise
from harness.vocab.profiles import PROFILES

PROFILE_NAMES = sorted(PROFILES)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=1, max_size=200), profile=st.sampled_from(PROFILE_NAMES))
def test_invariants_hold_on_random_programs(
    engine_module: ModuleType, data: bytes, profile: str
) -> None:
    program = decode(data, PROFILES[profile])
    engine = engine_module.Engine(program.profile, program.limits)
    for step, _ in stepwise(program, engine):
        bad = engine.check_invariants()
        assert not bad, f"after line {step.line}: {bad}\n{format_program(program)}"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200))
def test_batch_and_stepwise_agree(engine_module: ModuleType, data: bytes) -> None:
    from harness.lang.program import lower

    program = decode(data)
    engine = engine_module.Engine(program.profile, program.limits)
    records = [v for _, record in stepwise(program, engine) for v in record]
    expected = [len(program.steps), *records, *engine.snapshot()]
    assert (
        list(engine_module.run_lowered(lower(program), program.profile, program.limits)) == expected
    )
