"""Smoke tests for the compiled core (harness._core), derived from SEMANTICS.md.

These import the core directly and fail loudly when it is not built.  The
expectations were worked out by hand from SEMANTICS.md and docs/decisions.md.
"""

from __future__ import annotations

import random
import time
from array import array

import pytest
from examples import SPEC_EXAMPLE

from harness.lang.encoding import decode
from harness.lang.parser import parse
from harness.lang.program import TARGET_NONE, TARGET_RAW, TARGET_SLOT, Program, lower
from harness.oracle.run import check, run, stepwise
from harness.vocab import trace
from harness.vocab.constants import Op
from harness.vocab.profiles import DOCUMENTED, PROFILES, WINDOWS, Limits

try:
    import harness._core as core
except ImportError as exc:  # pragma: no cover - the point is to fail loudly
    raise ImportError(
        f"harness._core is not built ({exc}): run `make` or `python setup.py build_ext --inplace`"
    ) from exc

pytestmark = pytest.mark.core

PROGRAMS = {
    # PROGRAMS.md's example, verbatim.
    "linger_timeout": SPEC_EXAMPLE,
    # Section 4 checks, options, lowest-free descriptor values.
    "common_checks": """
t0: s1 = socket stream           -> INVALID_SOCKET WSANOTINITIALISED
t0: startup 0.0                  -> WSAVERNOTSUPPORTED
t0: getlasterror                 -> WSANOTINITIALISED
t0: startup 2.2                  -> 0
t0: s2 = socket stream           -> 4
t0: s3 = socket dgram            -> 8
t0: bind s2 80                   -> 0
t0: bind s3 80                   -> SOCKET_ERROR WSAEADDRINUSE
t0: setsockopt s3 SO_LINGER 1 1  -> SOCKET_ERROR WSAENOPROTOOPT
t0: c1 = connect s3              -> SOCKET_ERROR WSAEOPNOTSUPP
t0: closesocket s3               -> 0
  ! socket 2 destroyed
t0: closesocket s3               -> SOCKET_ERROR WSAENOTSOCK
t0: s4 = socket dgram            -> 8
t0: setsockopt s2 SO_LINGER 256 7 -> 0
t0: setsockopt s2 SO_DONTLINGER 1 -> 0
t0: getsockopt s2 SO_LINGER      -> 0 {onoff=0, linger=7}
t0: getsockopt s2 SO_DONTLINGER  -> 0 1
t0: shutdown s2 5                -> SOCKET_ERROR WSAEINVAL
t0: shutdown s2 SD_SEND          -> SOCKET_ERROR WSAENOTCONN
t0: s5 = duplicate s2 1          -> INVALID_SOCKET WSANOTINITIALISED
t2: startup 1.1                  -> 0
t0: s6 = duplicate s2 1          -> 4
t2: closesocket INVALID_SOCKET   -> SOCKET_ERROR WSAENOTSOCK
net_down                         -> ok
t0: cleanup                      -> SOCKET_ERROR WSAENETDOWN
""",
    # Send queue, window, blocking send completing in settling, FD_WRITE after
    # a would-block, FIN after SD_SEND drains.
    "flow": """
@limits sndbuf=10 window=5
t0: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t1: send s1 17                   -> blocked
peer_recv c1 5                   -> 5
  ! t1 send -> 17
t0: asyncselect s1 FD_WRITE      -> 0
  ! posted p0 FD_WRITE #4 0
t0: send s1 20                   -> 3
t0: send s1 1                    -> SOCKET_ERROR WSAEWOULDBLOCK
peer_recv c1 1                   -> 1
  ! posted p0 FD_WRITE #4 0
t0: shutdown s1 SD_SEND          -> 0
peer_recv c1 100                 -> 5
peer_recv c1 100                 -> 5
  ! c1 fin
peer_recv c1 100                 -> 4
peer_recv c1 100                 -> 0
""",
    # Documented cancellation: by descriptor entry, unsignaled; graceful close.
    "documented_cancel": """
@limits sndbuf=100 window=50
t0: startup 2.2                  -> 0
t2: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t0: s2 = duplicate s1 1          -> 4
t1: o1 = wsarecv s1 10 event     -> SOCKET_ERROR WSA_IO_PENDING
t2: o2 = wsarecv s2 10 routine   -> SOCKET_ERROR WSA_IO_PENDING
t0: closesocket s1               -> 0
  ! o1 -> failed WSA_OPERATION_ABORTED unsignaled
ovl o2                           -> pending
peer_send c1 7                   -> 7
  ! o2 -> done 7 routine-queued
t2: sleepex                      -> 1
  ! o2 routine-ran t2
t2: o3 = wsasend s2 30 event     -> 0
  ! o3 -> done 30 signaled
t2: closesocket s2               -> 0
  ! c1 fin
  ! socket 1 destroyed
peer_recv c1 100                 -> 30
""",
    # Windows: cancellation only at the last reference, notified; FD_CLOSE at
    # once; data after close resets.
    "windows_cancel": """
@profile windows
t0: startup 2.2                  -> 0
t2: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t0: s2 = duplicate s1 1          -> 4
t1: o1 = wsarecv s1 10 event     -> SOCKET_ERROR WSA_IO_PENDING
t3: recv s2 10                   -> blocked
t0: closesocket s1               -> 0
t2: closesocket s2               -> 0
  ! o1 -> failed ERROR_CONNECTION_ABORTED signaled
  ! t3 recv -> SOCKET_ERROR WSAEINTR
  ! c1 fin
  ! socket 1 destroyed
peer_send c1 5                   -> 5
  ! c1 reset
peer_recv c1 1                   -> SOCKET_ERROR WSAECONNABORTED
t0: s3 = socket stream           -> 4
t0: c3 = connect s3              -> 0
t0: asyncselect s3 FD_READ|FD_CLOSE -> 0
peer_send c3 10                  -> 10
  ! posted p0 FD_READ #4 0
peer_close c3                    -> 0
  ! posted p0 FD_CLOSE #4 0
peer_reset c3                    -> SOCKET_ERROR WSAENOTSOCK
""",
    # after_data: a FIN's FD_CLOSE waits for the recv that empties the queue.
    "fd_close_after_data": """
t0: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t0: asyncselect s1 FD_READ|FD_CLOSE -> 0
peer_send c1 10                  -> 10
  ! posted p0 FD_READ #4 0
peer_close c1                    -> 0
t0: recv s1 4                    -> 4
  ! posted p0 FD_READ #4 0
t0: o1 = wsarecv s1 6 event      -> 0
  ! o1 -> done 6 signaled
  ! posted p0 FD_CLOSE #4 0
t0: recv s1 6                    -> 0
t0: s2 = socket stream           -> 8
t0: c2 = connect s2              -> 0
t0: asyncselect s2 FD_CLOSE      -> 0
peer_reset c2                    -> 0
  ! c2 reset
  ! posted p0 FD_CLOSE #8 WSAECONNRESET
t0: recv s2 1                    -> SOCKET_ERROR WSAECONNRESET
""",
    # Version 1: calls from the blocking hook, cancelblocking, linger cancel;
    # cleanup closes abortively.
    "version1_and_cleanup": """
@limits sndbuf=100 window=50
t0: startup 1.1                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t1: recv s1 10                   -> blocked
t1: s9 = socket stream           -> INVALID_SOCKET WSAEINPROGRESS
t1: startup 2.2                  -> WSAEINPROGRESS
t1: cancelblocking               -> 0
  ! t1 recv -> SOCKET_ERROR WSAEINTR
t1: cancelblocking               -> SOCKET_ERROR WSAEINVAL
t0: send s1 120                  -> blocked
  ! t0 send -> 120
t0: setsockopt s1 SO_LINGER 1 9  -> 0
t1: closesocket s1               -> blocked
t1: cancelblocking               -> 0
  ! c1 reset
  ! socket 1 destroyed
  ! t1 closesocket -> SOCKET_ERROR WSAEINTR
t1: getlasterror                 -> WSAEINTR
t0: s2 = socket stream           -> 4
t0: c2 = connect s2              -> 0
t0: s3 = socket dgram            -> 8
t0: s4 = duplicate s2 0          -> 12
t1: o1 = wsarecv s2 5 event      -> SOCKET_ERROR WSA_IO_PENDING
t0: cleanup                      -> 0
  ! o1 -> failed WSA_OPERATION_ABORTED unsignaled
  ! socket 3 destroyed
  ! c2 reset
  ! socket 2 destroyed
t0: s5 = socket stream           -> INVALID_SOCKET WSANOTINITIALISED
""",
    # Version 2: a blocked thread's lines are rejected and bind as failures.
    "rejected": """
t0: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t0: recv s1 5                    -> blocked
t0: s2 = socket stream           -> rejected
t0: getlasterror                 -> rejected
t1: closesocket s2               -> SOCKET_ERROR WSAENOTSOCK
t1: closesocket s1               -> 0
  ! t0 recv -> SOCKET_ERROR WSAEINTR
  ! c1 fin
  ! socket 1 destroyed
""",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_expectations(name: str) -> None:
    program = parse(PROGRAMS[name], f"<{name}>")
    result = run(program, core)
    mismatches = check(program, result)
    assert not mismatches, "\n".join(
        f"line {m.step.line}: expected {m.expected}, got {m.actual}" for m in mismatches
    )


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_invariants_and_apis_agree(name: str) -> None:
    program = parse(PROGRAMS[name], f"<{name}>")
    engine = core.Engine(program.profile, program.limits)
    records: list[int] = []
    for step, record in stepwise(program, engine):
        records.extend(record)
        assert engine.check_invariants() == [], f"after line {step.line}"
    low = lower(program)
    batch = core.run_lowered(low, program.profile, program.limits)
    assert isinstance(batch, array) and batch.typecode == "q"
    assert list(batch) == [len(program.steps), *records, *engine.snapshot()]
    assert core.run_lowered(low.tobytes(), program.profile, program.limits) == batch
    trace.decode(batch)


def test_snapshot_layout_of_example() -> None:
    program = parse(PROGRAMS["linger_timeout"])
    snap = run(program, core).snapshot
    assert snap.clock == 5000 and snap.network_up
    assert snap.processes[0]["startup_count"] == 1 and snap.processes[0]["version"] == 2
    assert snap.processes[0]["entries"] == []
    assert snap.threads[0] == {"last_error": 0, "blocked_in": 0, "routines": []}
    (sock,) = snap.sockets
    assert sock["lifecycle"] == 3 and sock["refs"] == 0 and sock["linger_deadline"] == -1
    assert sock["accepted"] == 300 and sock["delivered"] == 100 and sock["discarded"] == 200
    (peer,) = snap.peers
    assert peer["window"] == 100 and peer["reset"] == 1 and peer["dropped"] == 100
    (op,) = snap.ops
    assert op["kind"] == 5 and op["status"] == 2 and op["entry_value"] == 4


def _churn(live: int, rounds: int) -> array:
    out = array("q", [2])

    def add(op: Op, bind: int = -1, tk: int = TARGET_NONE, tv: int = 0, x1: int = 0) -> None:
        out.extend((int(op), 0, bind, tk, tv, x1, 2 if op == Op.STARTUP else 0, 0))

    add(Op.STARTUP, x1=2)
    for _ in range(live):
        add(Op.SOCKET, x1=1)
    add(Op.CLOSESOCKET, tk=TARGET_RAW, tv=8)  # free #8: the lowest free value again
    for _ in range(rounds):
        add(Op.SOCKET, bind=0, x1=1)
        add(Op.DUPLICATE, bind=1, tk=TARGET_SLOT, tv=0, x1=0)
        add(Op.CLOSESOCKET, tk=TARGET_SLOT, tv=0)
        add(Op.CLOSESOCKET, tk=TARGET_SLOT, tv=1)
    return out


def test_large_descriptor_tables_reuse_lowest_value() -> None:
    live = 20000
    lim = Limits(sockets=1048576, descriptors=1048576)
    t = trace.decode(core.run_lowered(_churn(live, 50), DOCUMENTED, lim))
    values = [s.result[1] for s in t.steps[1 : live + 1]]
    assert values == [4 * (i + 1) for i in range(live)]
    for k in range(50):
        sock, dup = t.steps[live + 2 + 4 * k], t.steps[live + 3 + 4 * k]
        assert sock.result[1] == 8  # the freed #8
        assert dup.result[1] == 4 * (live + 1)  # the next never-used value
    assert len(t.snapshot.processes[0]["entries"]) == live - 1


def test_descriptor_limit() -> None:
    program = parse(
        "@limits descriptors=2 sockets=3\n"
        "t0: startup 2.2\nt0: s1 = socket stream\nt0: s2 = socket dgram\n"
        "t0: s3 = socket stream -> INVALID_SOCKET WSAEMFILE\n"
        "t2: startup 2.2\nt2: s4 = socket stream\n"
        "t2: s5 = socket stream -> INVALID_SOCKET WSAENOBUFS\n"
    )
    assert not check(program, run(program, core))


def test_random_programs_keep_invariants() -> None:
    rng = random.Random(1234)
    for _ in range(150):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        program = decode(data, PROFILES[rng.choice(sorted(PROFILES))])
        engine = core.Engine(program.profile, program.limits)
        for step, _ in stepwise(program, engine):
            assert engine.check_invariants() == [], f"after line {step.line}"
        low = lower(program)
        fast = core.run_lowered(low, program.profile, program.limits)
        naive = core.run_lowered(low, program.profile, program.limits, _full_settle=True)
        assert fast == naive


def _wsasend_program(n: int) -> Program:
    return parse(
        "@limits sndbuf=1 window=2147483647\n"
        "t0: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\n"
        f"t0: o1 = wsasend s1 {n} event -> SOCKET_ERROR WSA_IO_PENDING\n"
        f"  ! o1 -> done {n} signaled\n"
    )


def _best_time(program: Program, repeat: int = 15) -> float:
    low = lower(program)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        core.run_lowered(low, program.profile, program.limits)
        best = min(best, time.perf_counter() - started)
    return best


def test_tiny_sndbuf_huge_send_is_fast() -> None:
    """Settling moves a send's bytes through a 1-byte buffer in one go (section 6's
    fixpoint), not a byte at a time: 2**31 - 1 bytes cost about what 10 bytes
    cost, measured in the same run (best of several rounds; no absolute time).
    A byte-at-a-time core takes seconds here, over 10**5 times the small send."""
    huge, small = _wsasend_program(2147483647), _wsasend_program(10)
    assert not check(huge, run(huge, core)) and not check(small, run(small, core))
    ratio = _best_time(huge) / _best_time(small)
    assert ratio < 50, f"2**31-1 bytes took {ratio:.0f}x the time of 10 bytes"


def test_bad_input_is_rejected() -> None:
    engine = core.Engine(WINDOWS, Limits())
    with pytest.raises(ValueError):
        engine.step(int(Op.SOCKET), -1, 0, 1, 0, 0)
    with pytest.raises(ValueError):
        engine.step(99, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError):
        core.run_lowered(array("q", [0, 1, 2]), DOCUMENTED, Limits())
