"""The program printer (harness.lang.render): headers, comparison, and expectations from a trace."""

from __future__ import annotations

import pytest

from harness.lang.parser import parse
from harness.lang.program import Program, Step
from harness.lang.render import format_program, format_step, same_program, with_expectations
from harness.vocab import trace
from harness.vocab.constants import Op
from harness.vocab.profiles import WINDOWS, Limits


def test_same_program_ignores_lines_and_filename_only() -> None:
    a = parse("t0: startup 2.2\n", filename="a")
    b = parse("\n\nt0: startup 2.2\n", filename="b")
    assert a != b and same_program(a, b)
    assert not same_program(a, parse("t0: startup 2.1\n"))
    assert not same_program(a, parse("t0: startup 2.2 -> 0\n"))
    assert not same_program(a, parse("@profile documented\nt0: startup 2.2\n"))


def test_printer_writes_non_default_headers_even_if_not_given() -> None:
    p = Program(steps=(Step(Op.NET_DOWN),), profile=WINDOWS, limits=Limits(sockets=2))
    text = format_program(p)
    assert text == (
        "@profile windows\n@limits sockets=2 sndbuf=8192 window=65536 descriptors=64\nnet_down\n"
    )
    assert parse(text).profile == WINDOWS


_EMPTY_SNAPSHOT = [0, 1] + [0, 0, 0, 0] * 2 + [0, 0, 0] * 4 + [0, 0, 0]


def _trace(
    records: list[tuple[int, tuple[int, int, int, int], list[tuple[int, ...]]]],
) -> trace.Trace:
    flat: list[int] = [len(records)]
    for bound, result, events in records:
        flat += [bound, *result, len(events)]
        for e in events:
            flat += e
    return trace.decode(flat + _EMPTY_SNAPSHOT)


def test_with_expectations_names_operations_and_peers() -> None:
    program = parse(
        "t0: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\n"
        "t0: o1 = wsasend s1 10 routine\nt0: closesocket s1 -> 999\n"
    )
    t = _trace(
        [
            (0, (trace.R_VALUE, 0, 0, 0), []),
            (4, (trace.R_VALUE, 4, 0, 0), []),
            (1, (trace.R_VALUE, 0, 0, 0), [(trace.E_POSTED, 0, 0x02, 4, 0)]),
            (2, (trace.R_SOCKET_ERROR, 997, 0, 0), []),
            (
                0,
                (trace.R_BLOCKED, 0, 0, 0),
                [
                    (trace.E_OVL, 2, 3, 995, 1),
                    (trace.E_FIN, 1, 0, 0, 0),
                    (trace.E_DESTROYED, 1, 0, 0, 0),
                    (trace.E_COMPLETE, 0, 5, 0, 0),
                ],
            ),
        ]
    )
    filled = with_expectations(program, t)
    assert format_program(filled) == (
        "t0: startup 2.2                  -> 0\n"
        "t0: s1 = socket stream           -> 4\n"
        "t0: c1 = connect s1              -> 0\n"
        "  ! posted p0 FD_WRITE #4 0\n"
        "t0: o1 = wsasend s1 10 routine   -> SOCKET_ERROR WSA_IO_PENDING\n"
        "t0: closesocket s1               -> blocked\n"
        "  ! o1 -> failed WSA_OPERATION_ABORTED unsignaled\n"
        "  ! c1 fin\n"
        "  ! socket 1 destroyed\n"
        "  ! t0 closesocket -> 0\n"
    )
    assert same_program(parse(format_program(filled)), filled)
    with pytest.raises(ValueError, match="2 steps"):
        with_expectations(program, _trace([(0, (trace.R_OK, 0, 0, 0), [])] * 2))


def test_format_step_forms() -> None:
    p = parse(
        "t0: s1 = socket stream\nt0: c1 = connect s1 window=0\nt0: shutdown s1 0\n"
        "t2: s2 = duplicate s1 1 -> 4  # in p1\n"
    )
    assert [format_step(s) for s in p.steps] == [
        "t0: s1 = socket stream",
        "t0: c1 = connect s1 window=0",
        "t0: shutdown s1 SD_RECEIVE",
        "t2: s2 = duplicate s1 1",
    ]
    # The lowered "default window" (-1) prints as no window at all.
    assert format_step(Step(Op.CONNECT, 0, "c1", p.steps[1].target, (-1,))) == "t0: c1 = connect s1"
