"""The program text parser and printer (PROGRAMS.md): errors, round trips, numbers, comments."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from examples import MALFORMED, SPEC_EXAMPLE, S

from harness.lang.parser import parse, parse_file
from harness.lang.program import Expect, Invalid, Program, Raw, Step, Var
from harness.lang.render import format_program, format_step, same_program
from harness.vocab.constants import Mode, Op, SockType
from harness.vocab.errors import HarnessError, ProgramError
from harness.vocab.profiles import DEFAULT_LIMITS, WINDOWS, Limits


@pytest.mark.parametrize(("text", "message"), [pytest.param(t, m, id=i) for i, t, m in MALFORMED])
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(ProgramError) as info:
        parse(text)
    assert str(info.value) == f"<program>:{message}"


def test_malformed_table_is_large_and_distinct() -> None:
    assert len(MALFORMED) >= 30
    assert len({i for i, _, _ in MALFORMED}) == len(MALFORMED)


def test_program_error() -> None:
    with pytest.raises(ProgramError) as info:
        parse("t0: startup 2.2\nt0: frob", filename="corpus/x.wsa")
    err = info.value
    assert isinstance(err, HarnessError)
    assert (err.filename, err.line, err.message) == ("corpus/x.wsa", 2, "unknown step 'frob'")
    assert str(err) == "corpus/x.wsa:2: unknown step 'frob'"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)


# --- valid programs ---------------------------------------------------------------------

ROUND_TRIP = {
    "spec-example": SPEC_EXAMPLE,
    "every-step": """\
# every step, once
@profile windows
@limits sockets=4 sndbuf=100 window=65536 descriptors=8
t0: startup 1.1
t2: startup 2.0
t0: s1 = socket stream
t0: s2 = socket dgram
t0: bind s1 80
t0: c1 = connect s1
t0: setsockopt s1 SO_LINGER 1 5
t0: setsockopt s1 SO_DONTLINGER 0
t0: getsockopt s1 SO_LINGER
t0: getsockopt s1 SO_DONTLINGER
t0: ioctlsocket s1 FIONBIO 1
t0: send s1 300
t1: recv s1 10
t0: o1 = wsasend s1 10 event
t0: o2 = wsarecv s1 10 routine
t0: shutdown s1 SD_SEND
t0: shutdown s1 7
t0: asyncselect s1 FD_READ|FD_WRITE|FD_CLOSE
t0: asyncselect s1 0
t0: s3 = duplicate s1 1
t3: closesocket s3
t0: closesocket #12
t0: closesocket INVALID_SOCKET
t1: cancelblocking
t1: getlasterror
t1: getmessage
t1: sleepex
t0: cleanup
advance 10
net_down
net_up
peer_recv c1 5
peer_send c1 5
peer_close c1
peer_reset c1
ovl o1
ovl o2
""",
    "results-and-events": """\
t0: startup 0.0                  -> WSAVERNOTSUPPORTED
t0: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: s2 = socket stream           -> INVALID_SOCKET WSAEMFILE
t0: c1 = connect s1              -> 0
  ! posted p0 FD_WRITE #4 0
t0: getsockopt s1 SO_LINGER      -> 0 {onoff=1, linger=5}
t0: getsockopt s1 SO_DONTLINGER  -> 0 1
t0: getlasterror                 -> 0
t1: getlasterror                 -> WSAEWOULDBLOCK
t0: getmessage                   -> FD_CLOSE #4 WSAECONNABORTED
t0: getmessage                   -> none
t1: recv s1 100                  -> blocked
t1: send s1 1                    -> rejected
t0: o1 = wsasend s1 10 event     -> 0
  ! o1 -> done 10 signaled
t0: o2 = wsarecv s1 10 routine   -> SOCKET_ERROR WSA_IO_PENDING
ovl o2                           -> pending
peer_send c1 100                 -> 100
  ! t1 recv -> 100
  ! o2 -> failed WSA_OPERATION_ABORTED routine-queued
t0: sleepex                      -> 1
  ! o2 routine-ran t0
peer_close c1                    -> 0
  ! c1 fin
  ! c1 reset
  ! socket 1 destroyed
  ! t1 recv -> SOCKET_ERROR WSAEINTR
ovl o1                           -> done 10 signaled
t0: o3 = wsasend s1 1 event      -> SOCKET_ERROR WSAENOTSOCK
ovl o3                           -> none
net_down                         -> ok
""",
    "comments": """\
# header comment
#
# 12 is not a raw descriptor here
@profile windows
t0: startup 2.2                  -> 0  # trailing comment
# between steps
t0: s1 = socket stream  # unchecked, with a comment
t0: closesocket #4               -> 0
  ! socket 1 destroyed
# after the events
#   indented text
t0: getlasterror
# at the end
""",
    "no-headers": "t0: startup 2.2\n",
    "empty": "",
    "long-step": ("t0: s1 = socket stream\nt0: asyncselect s1 FD_READ|FD_WRITE|FD_CLOSE -> 0\n"),
}


@pytest.mark.parametrize("text", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_canonical_text_round_trips(text: str) -> None:
    program = parse(text)
    printed = format_program(program)
    assert printed == text
    assert same_program(parse(printed), program)


def test_spec_example_parses_to_the_model() -> None:
    p = parse(SPEC_EXAMPLE, filename="example.wsa")
    assert p.filename == "example.wsa"
    assert p.has_profile and p.has_limits
    assert p.limits == DEFAULT_LIMITS
    assert p.header_comments == ("abortive close after a linger timeout",)
    assert p.slots == {"s1": 0, "c1": 1}
    startup, sock, conn, send, opt, close, adv, peer = p.steps
    assert startup == Step(Op.STARTUP, 0, args=(2, 2), expect=Expect("0"), line=4)
    assert sock.bind == "s1" and sock.args == (SockType.STREAM,)
    assert conn == Step(Op.CONNECT, 0, "c1", Var("s1"), (100,), Expect("0"), line=6)
    assert send.args == (300,) and opt.op == Op.SETSOCKOPT_LINGER and opt.args == (1, 5)
    assert close.expect == Expect("blocked")
    assert adv.thread is None and adv.args == (5000,)
    assert adv.expect == Expect("ok", ("c1 reset", "socket 1 destroyed", "t0 closesocket -> 0"))
    assert peer.target == Var("c1") and peer.args == (100,) and peer.line == 14


def test_ops_and_arguments() -> None:
    p = parse(ROUND_TRIP["every-step"])
    by_line = {s.line: s for s in p.steps}
    assert p.profile == WINDOWS
    assert p.limits == Limits(sockets=4, descriptors=8, sndbuf=100, window=65536)
    assert by_line[4].args == (1, 1)
    assert by_line[7].args == (SockType.DGRAM,)
    assert by_line[9].args == ()  # connect without window=
    assert by_line[11].op == Op.SETSOCKOPT_DONTLINGER and by_line[11].args == (0,)
    assert by_line[12].op == Op.GETSOCKOPT_LINGER and by_line[13].op == Op.GETSOCKOPT_DONTLINGER
    assert by_line[14].op == Op.IOCTLSOCKET_FIONBIO and by_line[14].args == (1,)
    assert by_line[17].args == (10, Mode.EVENT) and by_line[18].args == (10, Mode.ROUTINE)
    assert by_line[19].args == (1,) and by_line[20].args == (7,)
    assert by_line[21].args == (0x23,) and by_line[22].args == (0,)
    assert by_line[23].args == (1,) and by_line[24].thread == 3
    assert by_line[25].target == Raw(12) and by_line[26].target == Invalid()
    assert by_line[31].op == Op.CLEANUP
    assert by_line[40].op == Op.OVL and by_line[40].target == Var("o2")
    assert all(s.expect is None for s in p.steps)


def test_numbers_hex_and_normalization() -> None:
    text = """\
t0: startup 0x2.0x02
t0: s1 = socket stream
t0: bind s1 0x1F90
t0: c1 = connect s1 window=0x7fffffff
t0: send s1 007 -> 0x10
t0: closesocket #0xC
t0: shutdown s1 2
t0: asyncselect s1 FD_CLOSE|FD_READ  ->   0x0
t0: asyncselect s1 0x0
t0: getsockopt s1 SO_LINGER -> 0x0 {  onoff = 0x1 ,linger=010 }
t0: getmessage -> FD_READ #0x4 0
advance 1 -> ok
  !   posted   p1 FD_CLOSE #0x8 WSAECONNRESET
  ! socket 0x3 destroyed
"""
    p = parse(text)
    s = p.steps
    assert s[0].args == (2, 2) and s[2].args == (8080,) and s[3].args == (2**31 - 1,)
    assert s[4].args == (7,) and s[4].expect == Expect("16")
    assert s[5].target == Raw(12)
    assert s[7].args == (0x21,) and s[7].expect == Expect("0") and s[8].args == (0,)
    assert s[9].expect == Expect("0 {onoff=1, linger=10}")
    assert s[10].expect == Expect("FD_READ #4 0")
    assert s[11].expect == Expect(
        "ok", ("posted p1 FD_CLOSE #8 WSAECONNRESET", "socket 3 destroyed")
    )
    printed = format_program(p)
    assert "t0: startup 2.2\n" in printed
    assert "t0: bind s1 8080\n" in printed
    assert "t0: shutdown s1 SD_BOTH\n" in printed
    assert "t0: asyncselect s1 FD_READ|FD_CLOSE -> 0\n" in printed
    assert same_program(parse(printed), p)
    assert parse("t0: closesocket #4294967295").steps[0].target == Raw(2**32 - 1)


def test_comment_versus_raw_descriptor() -> None:
    step = parse("t0: closesocket #12 # closes #12\n").steps[0]
    assert step.target == Raw(12) and step.comment == "closes #12"
    step = parse("t0: closesocket #12#comment\n").steps[0]
    assert step.target == Raw(12) and step.comment == "comment"
    step = parse("t0: getmessage -> FD_READ #4 0 #x\n").steps[0]
    assert step.expect == Expect("FD_READ #4 0") and step.comment == "x"
    with pytest.raises(ProgramError, match="takes 1 argument"):
        parse("t0: closesocket #12 #13\n")
    p = parse("#\n#a\n#  two spaces\n")
    assert p.header_comments == ("", "a", " two spaces") and p.steps == ()
    assert format_program(p) == "#\n# a\n#  two spaces\n"
    # A comment that starts with a digit is printed after a space, so it stays a comment.
    p = Program(steps=(Step(Op.NET_UP, comment="12 up"),), header_comments=("3 steps",))
    assert format_program(p) == "# 3 steps\nnet_up  # 12 up\n"
    assert same_program(parse(format_program(p)), p)


def test_comments_keep_their_place() -> None:
    text = "# top\n@limits window=5 # on a header\n\nt0: startup 2.2\n\n# mid\nt0: cleanup\n# end\n"
    p = parse(text)
    assert p.header_comments == ("top", "on a header")
    assert p.steps[1].comments_before == ("mid",) and p.trailing_comments == ("end",)
    assert p.limits.window == 5
    printed = format_program(p)
    assert printed == (
        "# top\n# on a header\n@limits sockets=16 sndbuf=8192 window=5 descriptors=64\n"
        "t0: startup 2.2\n# mid\nt0: cleanup\n# end\n"
    )
    assert same_program(parse(printed), p)


def test_lenient_spacing_and_crlf() -> None:
    p = parse("t0:s1=socket stream\r\n  t1 :  send   s1 5->5\r\n")
    assert p.steps[0].bind == "s1" and p.steps[1].thread == 1
    assert p.steps[1].expect == Expect("5")
    assert format_step(p.steps[0]) == "t0: s1 = socket stream"


def test_event_may_name_the_variable_its_step_binds() -> None:
    p = parse(
        S + "t0: c1 = connect s1 -> 0\n  ! c1 fin\nt0: o1 = wsasend s1 10 event -> 0\n"
        "  ! o1 -> done 10 signaled\n"
    )
    assert p.steps[2].expect == Expect("0", ("o1 -> done 10 signaled",))


def test_parse_file(tmp_path: Path) -> None:
    f = tmp_path / "p.wsa"
    f.write_text(SPEC_EXAMPLE)
    assert parse_file(f).filename == str(f)
    assert same_program(parse_file(f), parse(SPEC_EXAMPLE))
    f.write_bytes(b"t0: startup 2.2\nt0: getmessage \xff\n")
    with pytest.raises(ProgramError) as info:
        parse_file(str(f))
    assert str(info.value) == f"{f}:2: invalid UTF-8"
