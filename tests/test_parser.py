"""The program text parser and printer (PROGRAMS.md): errors, round trips, numbers, comments."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from examples import SPEC_EXAMPLE

from harness.lang.parser import parse, parse_file
from harness.lang.program import Expect, Invalid, Program, Raw, Step, Var
from harness.lang.render import format_program, format_step, same_program
from harness.vocab.constants import Mode, Op, SockType
from harness.vocab.errors import HarnessError, ProgramError
from harness.vocab.profiles import DEFAULT_LIMITS, WINDOWS, Limits

S = "t0: s1 = socket stream\n"
C = S + "t0: c1 = connect s1\n"
OV = C + "t0: o1 = wsasend s1 10 event\n"

# (id, program text, the exact error)
MALFORMED = [
    ("unknown-step", "t0: clozesocket s1", "1: unknown step 'clozesocket'"),
    ("rebound", S + "t0: s1 = socket dgram", "2: variable s1 is already bound (line 1)"),
    ("unbound", "t0: closesocket s9", "1: variable s9 is not bound"),
    ("missing-var", "t0: socket stream", "1: 'socket' needs a variable: sN = socket ..."),
    ("missing-cvar", S + "t0: connect s1", "2: 'connect' needs a variable: cN = connect ..."),
    (
        "missing-ovar",
        S + "t0: wsarecv s1 1 event",
        "2: 'wsarecv' needs a variable: oN = wsarecv ...",
    ),
    (
        "forbidden-var",
        S + "t0: s2 = send s1 1",
        "2: 'send' does not bind a variable (found 's2 =')",
    ),
    (
        "env-var",
        C + "c2 = peer_recv c1 1",
        "3: 'peer_recv' does not bind a variable (found 'c2 =')",
    ),
    ("wrong-letter-s", "t0: c1 = socket stream", "1: 'socket' binds an sN variable, not 'c1'"),
    ("wrong-letter-c", S + "t0: s2 = connect s1", "2: 'connect' binds a cN variable, not 's2'"),
    (
        "wrong-letter-o",
        S + "t0: c1 = wsasend s1 1 event",
        "2: 'wsasend' binds an oN variable, not 'c1'",
    ),
    ("port-range", S + "t0: bind s1 70000", "2: number 70000 out of range for PORT (1..65535)"),
    ("port-zero", S + "t0: bind s1 0", "2: number 0 out of range for PORT (1..65535)"),
    (
        "env-prefix",
        "t0: advance 5",
        "1: 'advance' is an environment step and takes no thread prefix",
    ),
    ("ovl-prefix", OV + "t1: ovl o1", "4: 'ovl' is an observation and takes no thread prefix"),
    ("missing-prefix", "send #4 1", "1: 'send' is a call and needs a thread prefix: tN: send ..."),
    ("unknown-thread", "t4: startup 2.2", "1: unknown thread 't4'"),
    ("missing-colon", "t1 startup 2.2", "1: missing ':' after thread 't1'"),
    ("dup-limits", "@limits sockets=4\n@limits sndbuf=1", "2: duplicate @limits header"),
    ("dup-profile", "@profile windows\n@profile windows", "2: duplicate @profile header"),
    ("header-late", "t0: startup 2.2\n@profile windows", "2: header after the first step"),
    (
        "unknown-limit",
        "@limits foo=1",
        "1: unknown limit 'foo' (known: sockets, descriptors, sndbuf, window)",
    ),
    (
        "limit-range",
        "@limits descriptors=0",
        "1: number 0 out of range for descriptors (1..1048576)",
    ),
    ("limit-form", "@limits sockets", "1: expected NAME=N in @limits, got 'sockets'"),
    ("limit-dup", "@limits sockets=1 sockets=2", "1: duplicate limit 'sockets'"),
    (
        "unknown-profile",
        "@profile solaris",
        "1: unknown profile 'solaris' (known: documented, windows, linux, wine)",
    ),
    ("profile-arity", "@profile", "1: '@profile' takes one name, got 0"),
    ("unknown-header", "@frob", "1: unknown header '@frob' (known: @profile, @limits)"),
    (
        "event-no-arrow",
        "t0: startup 2.2\n  ! c1 reset",
        "2: '!' event line under a step without '->'",
    ),
    ("event-first", "# hi\n  ! c1 reset", "2: '!' event line before the first step"),
    ("arity", S + "t0: send s1", "2: 'send' takes 2 arguments (send S N), got 1"),
    ("arity-none", "t0: getlasterror 1", "1: 'getlasterror' takes no arguments, got 1"),
    ("arity-one", "advance", "1: 'advance' takes 1 argument (advance MS), got 0"),
    (
        "arity-optional",
        S + "t0: c1 = connect s1 window=1 2",
        "2: 'connect' takes 1 or 2 arguments (connect S [window=N]), got 3",
    ),
    (
        "arity-variant",
        S + "t0: setsockopt s1 SO_LINGER 1",
        "2: 'setsockopt' takes 4 arguments (setsockopt S SO_LINGER ONOFF SECS), got 3",
    ),
    (
        "arity-variants",
        S + "t0: setsockopt s1",
        "2: 'setsockopt' takes 3 or 4 arguments "
        "(setsockopt S SO_LINGER ONOFF SECS | setsockopt S SO_DONTLINGER V), got 1",
    ),
    (
        "option",
        S + "t0: getsockopt s1 SO_RCVBUF",
        "2: expected SO_LINGER or SO_DONTLINGER, got 'SO_RCVBUF'",
    ),
    ("ioctl", S + "t0: ioctlsocket s1 FIONREAD 1", "2: expected FIONBIO, got 'FIONREAD'"),
    (
        "secs-range",
        S + "t0: setsockopt s1 SO_LINGER 1 65536",
        "2: number 65536 out of range for SECS (0..65535)",
    ),
    (
        "count-range",
        S + "t0: send s1 2147483648",
        "2: number 2147483648 out of range for N (0..2147483647)",
    ),
    (
        "hex-range",
        S + "t0: s2 = duplicate s1 0x100000000",
        "2: number 0x100000000 out of range for PID (0..4294967295)",
    ),
    (
        "raw-range",
        "t0: closesocket #4294967296",
        "1: number #4294967296 out of range for #N (0..4294967295)",
    ),
    ("negative", S + "t0: recv s1 -1", "2: expected a number for N, got '-1'"),
    ("upper-hex", "advance 0X10", "1: expected a number for MS, got '0X10'"),
    ("version", "t0: startup 2", "1: expected a version M.m, got '2'"),
    ("version-range", "t0: startup 2.256", "1: number 256 out of range for m (0..255)"),
    ("sock-type", "t0: s1 = socket raw", "1: expected stream or dgram, got 'raw'"),
    ("mode", S + "t0: o1 = wsasend s1 10 blocking", "2: expected event or routine, got 'blocking'"),
    ("window", S + "t0: c1 = connect s1 win=5", "2: expected window=N, got 'win=5'"),
    (
        "how",
        S + "t0: shutdown s1 SD_NONE",
        "2: expected SD_RECEIVE, SD_SEND, SD_BOTH or a number for HOW, got 'SD_NONE'",
    ),
    (
        "mask-name",
        S + "t0: asyncselect s1 FD_ACCEPT",
        "2: unknown mask name 'FD_ACCEPT' (known: FD_READ, FD_WRITE, FD_CLOSE)",
    ),
    (
        "mask-dup",
        S + "t0: asyncselect s1 FD_READ|FD_READ",
        "2: duplicate FD_READ in mask 'FD_READ|FD_READ'",
    ),
    (
        "mask-number",
        S + "t0: asyncselect s1 3",
        "2: bad mask '3' (FD_READ, FD_WRITE, FD_CLOSE joined by '|', or 0)",
    ),
    (
        "desc-peer",
        C + "t0: closesocket c1",
        "3: expected a descriptor (sN, #N or INVALID_SOCKET), got 'c1'",
    ),
    ("peer-desc", C + "peer_recv s1 1", "3: expected a peer variable cN, got 's1'"),
    ("peer-unbound", C + "peer_close c2", "3: variable c2 is not bound"),
    ("ovl-peer", OV + "ovl c1", "4: expected an operation variable oN, got 'c1'"),
    ("same-line", "t0: s1 = duplicate s1 1", "1: variable s1 is not bound"),
    ("raw-not-comment", "#1 starts no comment", "1: unknown step '#1'"),
    ("raw-junk", S + "t0: send s1 #12x", "2: expected a number for N, got '#12x'"),
    ("no-name", "t0: -> 0", "1: missing step name before '->'"),
    ("no-result", "t0: startup 2.2 ->", "1: missing result after '->'"),
    ("bad-result", "t0: startup 2.2 -> zero", "1: malformed result 'zero'"),
    ("two-arrows", "t0: startup 2.2 -> 4 -> 5", "1: malformed result '4 -> 5'"),
    ("error-name", "t0: getlasterror -> WSAEFOO", "1: unknown error name 'WSAEFOO'"),
    ("error-number", S + "t0: send s1 1 -> SOCKET_ERROR 10054", "2: unknown error name '10054'"),
    ("error-missing", S + "t0: send s1 1 -> SOCKET_ERROR", "2: malformed result 'SOCKET_ERROR'"),
    (
        "linger-result",
        S + "t0: getsockopt s1 SO_LINGER -> 0 {onoff=1 linger=5}",
        "2: malformed result '0 {onoff=1 linger=5}' (expected 0 {onoff=N, linger=N})",
    ),
    (
        "message-fd",
        "t0: getmessage -> FD_ACCEPT #4 0",
        "1: unknown message 'FD_ACCEPT' (known: FD_READ, FD_WRITE, FD_CLOSE)",
    ),
    ("message-raw", "t0: getmessage -> FD_READ 4 0", "1: expected a descriptor value #N, got '4'"),
    (
        "note",
        OV + "ovl o1 -> done 10 sig",
        "4: unknown note 'sig' "
        "(known: unsignaled, signaled, routine-none, routine-queued, routine-ran)",
    ),
    (
        "event-unbound-o",
        C + "advance 1 -> ok\n  ! o1 -> done 1 signaled",
        "4: variable o1 is not bound",
    ),
    ("event-unbound-c", S + "advance 1 -> ok\n  ! c1 fin", "3: variable c1 is not bound"),
    ("event-later-var", "advance 1 -> ok\n  ! c1 fin\n" + C, "2: variable c1 is not bound"),
    (
        "event-pending",
        OV + "advance 1 -> ok\n  ! o1 -> pending",
        "5: malformed event 'o1 -> pending' (expected oN -> done|failed ...)",
    ),
    ("event-thread", "advance 1 -> ok\n  ! t5 recv -> 1", "2: unknown thread 't5'"),
    (
        "event-call",
        "advance 1 -> ok\n  ! t1 wsarecv -> 1",
        "2: unknown blocking call 'wsarecv' (known: closesocket, recv, send)",
    ),
    ("event-process", "advance 1 -> ok\n  ! posted p2 FD_READ #4 0", "2: unknown process 'p2'"),
    (
        "event-socket",
        "advance 1 -> ok\n  ! socket x destroyed",
        "2: expected a number for the socket id, got 'x'",
    ),
    ("event-junk", "advance 1 -> ok\n  ! frob", "2: malformed event 'frob'"),
    ("event-empty", "advance 1 -> ok\n  !", "2: empty event after '!'"),
    (
        "event-c-form",
        C + "advance 1 -> ok\n  ! c1 closed",
        "4: malformed event 'c1 closed' (expected cN fin|reset)",
    ),
    (
        "huge-number",
        "t0: startup 2.2 -> 99999999999999999999",
        "1: number 99999999999999999999 out of range for the result (0..9223372036854775807)",
    ),
    ("line-number-after-blanks", "\n\n# c\n\nt0: frob", "5: unknown step 'frob'"),
]


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
