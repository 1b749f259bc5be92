"""Hypothesis strategies for programs and steps.

Both are built on the fuzzer's byte decoder (:func:`harness.lang.encoding.decode`)
over ``st.binary()``: a header byte and a list of 4-byte step records, joined
and decoded.  The decoder is total, so every example is a valid program, and
Hypothesis shrinks the bytes: whole records are deleted (steps go away) and
record bytes get smaller (smaller numbers, earlier table entries), and every
shrink is still a valid program.

    from hypothesis import given
    import harness
    from harness.library.strategies import programs

    @given(programs(profile="windows", max_steps=20))
    def test_engines_agree(program):
        assert harness.diff(program, a=("reference", None), b=("core", None)) is None

Needs ``hypothesis`` (in the ``test`` extra).
"""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from harness.lang.encoding import STEP_BYTES, decode, encode
from harness.lang.program import Program, Step, variable_slots
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES, Limits, Profile

__all__ = ["append", "programs", "steps"]

#: Steps per program when ``max_steps`` is not given.
DEFAULT_MAX_STEPS = 30
#: Byte records drawn per wanted step: some records decode to nothing (a peer
#: step before any ``connect``, ``ovl`` before any operation).
_RECORDS_PER_STEP = 2


def _profile_strategy(profile: Profile | str | None) -> st.SearchStrategy[Profile]:
    if profile is None:
        return st.sampled_from(list(PROFILES.values()))
    from harness.api import resolve_profile

    return st.just(resolve_profile(profile))


def _with_limits(program: Program, limits: Limits | None) -> Program:
    if limits is None:
        return program
    return dataclasses.replace(program, limits=limits, has_limits=True)


def programs(
    profile: Profile | str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    limits: Limits | None = None,
) -> st.SearchStrategy[Program]:
    """Valid programs of at most ``max_steps`` steps.

    ``profile`` is a Profile or a profile name; None draws one of the known
    profiles.  ``limits`` fixes the system limits; None lets the first byte
    pick one of the binary form's presets (small limits reach the limit rules).
    The programs have ``@profile`` set and no expectations.
    """
    if max_steps < 0:
        raise ValueError(f"max_steps must be at least 0, got {max_steps}")
    records = st.lists(
        st.binary(min_size=STEP_BYTES, max_size=STEP_BYTES),
        max_size=_RECORDS_PER_STEP * max_steps,
    )

    def build(header: int, body: list[bytes], prof: Profile) -> Program:
        program = decode(bytes([header]) + b"".join(body), prof, max_steps=max_steps)
        return _with_limits(program, limits)

    return st.builds(build, st.integers(0, 255), records, _profile_strategy(profile))


def _context_bytes(context: Program | None) -> bytes:
    if context is None:
        context = Program(())
    try:  # the limits play no part in which steps are valid
        return encode(dataclasses.replace(context, limits=Limits()))
    except HarnessError as exc:
        raise HarnessError(
            f"steps(): the context program has no binary form ({exc}); build it from "
            "programs() or number its variables s1, s2, ... in binding order"
        ) from None


def steps(context: Program | None = None) -> st.SearchStrategy[Step]:
    """Single steps that are valid after ``context`` (default: an empty program).

    A step only uses variables the context binds, and binds the next fresh
    one (``s3`` after ``s1``, ``s2``).  The context must have a binary form,
    as every program from :func:`programs` has.  Append the step with
    :func:`append`.
    """
    prefix = _context_bytes(context)
    base = decode(prefix)
    if context is not None and not _same_steps(base, context):
        raise HarnessError("steps(): the context does not survive its binary form")
    count = len(base.steps)

    def one(record: bytes) -> Step | None:
        grown = decode(prefix + record)
        return grown.steps[count] if len(grown.steps) > count else None

    return (
        st.binary(min_size=STEP_BYTES, max_size=STEP_BYTES)
        .map(one)
        .filter(lambda s: s is not None)
        .map(_present)
    )


def _present(step: Step | None) -> Step:
    assert step is not None  # filtered above
    return step


def _same_steps(a: Program, b: Program) -> bool:
    def bare(p: Program) -> list[tuple[object, ...]]:
        return [(s.op, s.thread, s.bind, s.target, s.args) for s in p.steps]

    return bare(a) == bare(b)


def append(program: Program, step: Step) -> Program:
    """``program`` with ``step`` added at the end (numbered as its next line)."""
    numbered = dataclasses.replace(step, line=len(program.steps) + 1, expect=None)
    new_steps = (*program.steps, numbered)
    return dataclasses.replace(program, steps=new_steps, slots=variable_slots(new_steps))
