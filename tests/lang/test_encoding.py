"""The binary form: total, syntax-aware, dense, stable and round-trip."""

from __future__ import annotations

import difflib
import random
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.lang.encoding import STEP_BYTES, NotRepresentable, decode, encode, number, number_bytes
from harness.lang.parser import parse, parse_file
from harness.lang.program import Var
from harness.vocab.constants import Op

SEEDS = sorted((Path(__file__).resolve().parents[2] / "corpus" / "seeds").glob("*.wsa"))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_is_total_and_round_trips(data: bytes) -> None:
    program = decode(data)
    assert decode(encode(program)) == program


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_variables_are_bound_before_use(data: bytes) -> None:
    bound: set[str] = set()
    for step in decode(data).steps:
        if isinstance(step.target, Var):
            assert step.target.name in bound
        if step.bind is not None:
            assert step.bind not in bound
            bound.add(step.bind)


def _edits(a: list[str], b: list[str]) -> int:
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def test_flipping_one_byte_changes_about_one_step() -> None:
    """Stable: a flipped byte changes its own step; names and thread choices
    downstream may shift, but the sequence of steps stays aligned."""
    rng = random.Random(7)
    edits = []
    for _ in range(2000):
        data = bytearray(rng.randrange(256) for _ in range(1 + STEP_BYTES * 20))
        before = [s.op.name for s in decode(bytes(data)).steps]
        data[rng.randrange(1, len(data))] = rng.randrange(256)
        after = [s.op.name for s in decode(bytes(data)).steps]
        edits.append(_edits(before, after))
    assert statistics.median(edits) <= 1
    assert statistics.mean(edits) < 1.5


def test_dense() -> None:
    rng = random.Random(1)
    kept = total = 0
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(1 + STEP_BYTES * 20))
        kept += len(decode(data).steps)
        total += 20
    assert kept / total > 0.8


def test_numbers_round_trip() -> None:
    for b in range(256):
        for c in (0, 1, 77, 255):
            assert number(*number_bytes(number(b, c))) == number(b, c)
    with pytest.raises(NotRepresentable):
        number_bytes(16385)


def test_text_programs_become_fuzzer_seeds() -> None:
    represented = 0
    for path in SEEDS:
        program = parse_file(path)
        try:
            data = encode(program)
        except NotRepresentable:
            continue
        represented += 1
        again = decode(data, program.profile)
        assert [(s.op, s.thread, s.bind, s.target, s.args) for s in again.steps] == [
            (s.op, s.thread, s.bind, s.target, s.args) for s in program.steps
        ], path.name
    assert represented >= len(SEEDS) // 2


def test_unrepresentable_programs_say_why() -> None:
    program = parse("t0: startup 2.2\nt0: s1 = socket stream\nt0: bind s1 80\n")
    with pytest.raises(NotRepresentable, match="port 80"):
        encode(program)


def test_prelude_header() -> None:
    full = [Op.STARTUP, Op.STARTUP, Op.SOCKET, Op.CONNECT]
    assert [s.op for s in decode(bytes([0])).steps] == full
    assert [s.op for s in decode(bytes([6])).steps] == [Op.STARTUP]
    assert decode(bytes([7])).steps == ()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([None, 5, 20]))
def test_decode_lowered_is_lower_of_decode(data: bytes, max_steps: int | None) -> None:
    from harness.lang.encoding import decode_lowered
    from harness.lang.program import lower

    program = decode(data, max_steps=max_steps)
    code, limits = decode_lowered(data, max_steps)
    assert list(code) == list(lower(program))
    assert limits == program.limits


def test_header_bits_6_7_name_the_profile_for_any_campaigns() -> None:
    from harness.fuzz.target import parse_sides, resolve_sides
    from harness.lang.encoding import HEADER_PROFILES, header_profile
    from harness.vocab.profiles import PROFILES

    # the header's two bits name the four profiles before lwip; `any` does not draw
    # lwip (decision D78), a campaign names it: --profiles documented,lwip
    assert set(HEADER_PROFILES) == set(PROFILES) - {"lwip"}
    sides = parse_sides("core/any,reference/any")
    for i, name in enumerate(HEADER_PROFILES):
        data = bytes([i << 6, 0, 0, 0, 0])
        assert header_profile(data).name == name
        a, b = resolve_sides(sides, data)
        assert (a.label, b.label) == (f"core/{name}", f"reference/{name}")
    program = parse("@profile linux\nt0: startup 2.2\n")
    assert header_profile(encode(program)).name == "linux"
    with pytest.raises(Exception, match="both sides"):
        parse_sides("core/any,reference/linux")
