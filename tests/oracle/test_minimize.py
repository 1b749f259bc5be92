"""The minimizer keeps the divergence signature and shrinks known divergences."""

from __future__ import annotations

from harness.lang.parser import parse
from harness.lang.program import Program
from harness.lang.render import format_program
from harness.oracle.diff import Side, diff
from harness.oracle.shrink import drop, minimize, renumber
from harness.vocab.profiles import DOCUMENTED, WINDOWS

A, B = Side("reference", DOCUMENTED), Side("reference", WINDOWS)

NOISY = """\
t0: startup 2.2
t2: startup 2.2
t0: s1 = socket stream
t0: s2 = socket dgram
t0: c1 = connect s1 window=1000
t1: send s1 5000
t0: getlasterror
t0: s3 = duplicate s1 1
t2: getsockopt s3 SO_LINGER
advance 100
t3: o1 = wsarecv s3 50 event
t0: bind s2 7
t0: getmessage
t2: closesocket s2
t3: closesocket s3
peer_send c1 10
advance 2000
"""


def _keeps(signature: str):  # type: ignore[no-untyped-def]
    def keeps(program: Program) -> bool:
        d = diff(program, A, B)
        return d is not None and d.signature == signature

    return keeps


def test_minimizes_a_profile_divergence_to_a_few_steps() -> None:
    program = parse(NOISY)
    d = diff(program, A, B)
    assert d is not None
    small = minimize(program, _keeps(d.signature))
    again = diff(small, A, B)
    assert again is not None and again.signature == d.signature
    assert len(small.steps) <= 7, format_program(small)
    assert len(small.steps) < len(program.steps)


def test_dropping_a_producer_drops_its_consumers() -> None:
    steps = list(parse(NOISY).steps)
    socket_s1 = next(i for i, s in enumerate(steps) if s.bind == "s1")
    left = drop(steps, {socket_s1})
    names = {s.bind for s in left}
    assert "s1" not in names and "c1" not in names and "s3" not in names
    assert all(getattr(s.target, "name", None) not in ("s1", "c1", "s3") for s in left)


def test_renumber_gives_binding_order() -> None:
    program = parse("t0: startup 2.2\nt0: s5 = socket stream\nt0: s2 = duplicate s5 0\n")
    assert [s.bind for s in renumber(program).steps][1:] == ["s1", "s2"]
