"""Step results, events, snapshots, and the one canonical comparison form.

Both engines reduce a run to a flat sequence of 64-bit integers, laid out as
below.  Comparing two runs is one equality check on that sequence; the
readable form is rendered only when they differ.

Layout of a canonical trace::

    nsteps
    per step:   bound, rkind, r1, r2, r3, nevents, nevents x (ekind, e1, e2, e3, e4)
    snapshot:   see SNAPSHOT LAYOUT below

``bound`` is the value the step's variable was bound to: a descriptor value
(``INVALID_SOCKET`` is -1) for ``sN``, a peer id for ``cN``, an operation id
for ``oN`` (0 means "no peer" / "no operation"), and 0 for steps that bind
nothing.

Result kinds (``rkind``; fields r1, r2, r3, unused ones are 0):

======================  ===========================  =============================
kind                    fields                       printed as
======================  ===========================  =============================
R_VALUE                 value                        ``300``
R_SOCKET_ERROR          err                          ``SOCKET_ERROR WSAENOTSOCK``
R_INVALID_SOCKET        err                          ``INVALID_SOCKET WSAEMFILE``
R_DIRECT                err                          ``WSAVERNOTSUPPORTED``
R_LINGER                onoff, secs                  ``0 {onoff=1, linger=5}``
R_DONTLINGER            v                            ``0 1``
R_LASTERROR             err                          ``WSAEWOULDBLOCK`` or ``0``
R_MESSAGE               fd, value, err               ``FD_READ #4 0``
R_NONE                                               ``none``
R_BLOCKED                                            ``blocked``
R_REJECTED                                           ``rejected``
R_OK                                                 ``ok``
R_OVL_PENDING                                        ``pending``
R_OVL_DONE              n, note                      ``done 100 signaled``
R_OVL_FAILED            err, note                    ``failed WSAECONNRESET unsignaled``
======================  ===========================  =============================

Event kinds (``ekind``; fields e1..e4):

==============  ===============================  ===============================================
kind            fields                           printed as
==============  ===============================  ===============================================
E_COMPLETE      thread, opkind, ret, err         ``t1 recv -> 100``
E_OVL           op id, status, n or err, note    ``o2 -> failed WSA_OPERATION_ABORTED unsignaled``
E_ROUTINE_RAN   op id, thread                    ``o3 routine-ran t0``
E_POSTED        process, fd, value, err          ``posted p0 FD_CLOSE #4 0``
E_FIN           socket id                        ``c1 fin``
E_RESET         socket id                        ``c1 reset``
E_DESTROYED     socket id                        ``socket 3 destroyed``
==============  ===============================  ===============================================

For E_COMPLETE, ``ret`` is the return value, or -1 (SOCKET_ERROR) with ``err``.

SNAPSHOT LAYOUT::

    clock, network_up
    per process p0, p1:
        startup_count, version,
        nentries, nentries x (value, socket id)          ascending value
        nmessages, nmessages x (fd, value, err)          oldest first
    per thread t0..t3:
        last_error, blocked_in (op id or 0),
        nroutines, nroutines x op id                     queue order
    nsockets, nsockets x SOCKET_FIELDS                   ascending id, destroyed included
    npeers,   npeers x PEER_FIELDS                       ascending id
    nops,     nops x OP_FIELDS                           ascending id, all operations

Absent values: port 0, registration process -1 (value and mask 0),
linger_deadline -1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.vocab.constants import (
    BLOCKING_CALL_NAMES,
    ERROR_NAMES,
    FD_NAMES,
    NOTE_NAMES,
    OpKind,
)

# --- result kinds ------------------------------------------------------------
R_VALUE = 1
R_SOCKET_ERROR = 2
R_INVALID_SOCKET = 3
R_DIRECT = 4
R_LINGER = 5
R_DONTLINGER = 6
R_LASTERROR = 7
R_MESSAGE = 8
R_NONE = 9
R_BLOCKED = 10
R_REJECTED = 11
R_OK = 12
R_OVL_PENDING = 13
R_OVL_DONE = 14
R_OVL_FAILED = 15

# --- event kinds -----------------------------------------------------------------
E_COMPLETE = 1
E_OVL = 2
E_ROUTINE_RAN = 3
E_POSTED = 4
E_FIN = 5
E_RESET = 6
E_DESTROYED = 7

RESULT_WIDTH = 4  # rkind, r1, r2, r3
EVENT_WIDTH = 5  # ekind, e1, e2, e3, e4
#: a step record: the bound value, the result, the number of events; then the events
STEP_HEADER = 1 + RESULT_WIDTH + 1

SOCKET_FIELDS = (
    "id", "type", "refs", "port", "linger_onoff", "linger_secs", "nonblocking",
    "connected", "sd_send", "sd_recv", "fin_sent", "peer_fin", "reset",
    "send_queue", "recv_queue", "write_blocked",
    "reg_process", "reg_value", "reg_mask",
    "close_seen", "close_error", "close_posted",
    "linger_deadline", "lifecycle", "accepted", "delivered", "discarded",
    "reset_reported", "fin_held",
)  # fmt: skip
PEER_FIELDS = (
    "id", "window", "buffered", "fin", "reset", "closed", "reset_code", "read", "dropped",
    "reset_reported",
)  # fmt: skip
OP_FIELDS = (
    "id", "kind", "thread", "entry_process", "entry_value", "socket", "n",
    "done_bytes", "mode", "status", "error", "note", "holds",
)  # fmt: skip

Result = tuple[int, int, int, int]
Event = tuple[int, int, int, int, int]


@dataclass(frozen=True)
class StepOutcome:
    """One step's observable outcome, decoded from the canonical form."""

    bound: int
    result: Result
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Snapshot:
    """The final state, decoded into named parts for rendering and tests."""

    clock: int
    network_up: bool
    processes: tuple[dict[str, object], ...]
    threads: tuple[dict[str, object], ...]
    sockets: tuple[dict[str, int], ...]
    peers: tuple[dict[str, int], ...]
    ops: tuple[dict[str, int], ...]


@dataclass(frozen=True)
class Trace:
    """A decoded canonical trace."""

    steps: tuple[StepOutcome, ...]
    snapshot: Snapshot
    canonical: tuple[int, ...]


class TraceFormatError(ValueError):
    """The integer sequence does not follow the canonical layout."""


RESULT_KINDS = frozenset(range(R_VALUE, R_OVL_FAILED + 1))
EVENT_KINDS = frozenset(range(E_COMPLETE, E_DESTROYED + 1))


def validate(values: Sequence[int], nsteps: int | None = None) -> None:
    """Raise :class:`TraceFormatError` naming the step unless ``values`` is a
    well-formed canonical trace (of ``nsteps`` steps when given): the layout,
    the result kinds and the event kinds.  An engine whose trace fails this is
    broken (a ``bad-trace`` finding), whatever the other side says."""
    if nsteps is not None and (not values or values[0] != nsteps):
        got = values[0] if values else "nothing"
        raise TraceFormatError(f"{got} step records for a program of {nsteps} steps")
    pos = 1
    for i in range(values[0] if values else 0):
        if pos + STEP_HEADER > len(values):
            raise TraceFormatError(f"step {i + 1}: record truncated")
        kind, nev = values[pos + 1], values[pos + STEP_HEADER - 1]
        if kind not in RESULT_KINDS:
            raise TraceFormatError(f"step {i + 1}: result kind {kind}")
        if nev < 0 or pos + STEP_HEADER + EVENT_WIDTH * nev > len(values):
            raise TraceFormatError(f"step {i + 1}: {nev} events do not fit")
        for k in range(nev):
            ekind = values[pos + STEP_HEADER + EVENT_WIDTH * k]
            if ekind not in EVENT_KINDS:
                raise TraceFormatError(f"step {i + 1}: event kind {ekind}")
        pos += STEP_HEADER + EVENT_WIDTH * nev
    decode(values)  # the snapshot's layout


def decode(values: Sequence[int]) -> Trace:
    """Decode a canonical integer sequence into a :class:`Trace`."""
    pos = 0

    def take(n: int) -> list[int]:
        nonlocal pos
        if pos + n > len(values):
            raise TraceFormatError(f"canonical trace truncated at {pos}")
        out = list(values[pos : pos + n])
        pos += n
        return out

    (nsteps,) = take(1)
    steps = []
    for _ in range(nsteps):
        bound, rk, r1, r2, r3, nev = take(6)
        events = tuple(tuple(take(EVENT_WIDTH)) for _ in range(nev))
        steps.append(StepOutcome(bound, (rk, r1, r2, r3), events))  # type: ignore[arg-type]
    clock, up = take(2)
    processes = []
    for _ in range(2):
        count, version, nent = take(3)
        entries = [tuple(take(2)) for _ in range(nent)]
        (nmsg,) = take(1)
        msgs = [tuple(take(3)) for _ in range(nmsg)]
        processes.append(
            {"startup_count": count, "version": version, "entries": entries, "messages": msgs}
        )
    threads = []
    for _ in range(4):
        last_error, blocked_in, nr = take(3)
        threads.append({"last_error": last_error, "blocked_in": blocked_in, "routines": take(nr)})

    def records(fields: tuple[str, ...]) -> tuple[dict[str, int], ...]:
        (n,) = take(1)
        return tuple(dict(zip(fields, take(len(fields)), strict=True)) for _ in range(n))

    sockets = records(SOCKET_FIELDS)
    peers = records(PEER_FIELDS)
    ops = records(OP_FIELDS)
    if pos != len(values):
        raise TraceFormatError(f"{len(values) - pos} trailing values after the snapshot")
    snap = Snapshot(clock, bool(up), tuple(processes), tuple(threads), sockets, peers, ops)
    return Trace(tuple(steps), snap, tuple(values))


# --- rendering -----------------------------------------------------------------


def error_name(code: int) -> str:
    return ERROR_NAMES.get(code, str(code))


FD_ORDER = (0x01, 0x02, 0x20)


def render_result(r: Result) -> str:
    """Render a step result as PROGRAMS.md prints it."""
    kind, a, b, c = r
    if kind == R_VALUE:
        return str(a)
    if kind == R_SOCKET_ERROR:
        return f"SOCKET_ERROR {error_name(a)}"
    if kind == R_INVALID_SOCKET:
        return f"INVALID_SOCKET {error_name(a)}"
    if kind == R_DIRECT:
        return error_name(a)
    if kind == R_LINGER:
        return f"0 {{onoff={a}, linger={b}}}"
    if kind == R_DONTLINGER:
        return f"0 {a}"
    if kind == R_LASTERROR:
        return error_name(a) if a else "0"
    if kind == R_MESSAGE:
        return f"{FD_NAMES.get(a, str(a))} #{b} {error_name(c) if c else 0}"
    if kind == R_OVL_DONE:
        return f"done {a} {NOTE_NAMES.get(b, str(b))}"  # type: ignore[call-overload]
    if kind == R_OVL_FAILED:
        return f"failed {error_name(a)} {NOTE_NAMES.get(b, str(b))}"  # type: ignore[call-overload]
    simple = {
        R_NONE: "none",
        R_BLOCKED: "blocked",
        R_REJECTED: "rejected",
        R_OK: "ok",
        R_OVL_PENDING: "pending",
    }
    if kind in simple:
        return simple[kind]
    raise TraceFormatError(f"unknown result kind {kind}")


def _ret_text(ret: int, err: int) -> str:
    return f"SOCKET_ERROR {error_name(err)}" if ret == -1 else str(ret)


def render_event(
    e: Event,
    op_name: Callable[[int], str] = lambda i: f"op{i}",
    peer_name: Callable[[int], str] = lambda i: f"peer{i}",
) -> str:
    """Render one event; ``op_name`` and ``peer_name`` map ids to variable names."""
    kind, a, b, c, d = e
    if kind == E_COMPLETE:
        call = BLOCKING_CALL_NAMES.get(OpKind(b), str(b)) if b in OpKind._value2member_map_ else b
        return f"t{a} {call} -> {_ret_text(c, d)}"
    if kind == E_OVL:
        res = (R_OVL_DONE, c, d, 0) if b == 2 else (R_OVL_FAILED, c, d, 0)
        return f"{op_name(a)} -> {render_result(res)}"
    if kind == E_ROUTINE_RAN:
        return f"{op_name(a)} routine-ran t{b}"
    if kind == E_POSTED:
        return f"posted p{a} {FD_NAMES.get(b, str(b))} #{c} {error_name(d) if d else 0}"
    if kind == E_FIN:
        return f"{peer_name(a)} fin"
    if kind == E_RESET:
        return f"{peer_name(a)} reset"
    if kind == E_DESTROYED:
        return f"socket {a} destroyed"
    raise TraceFormatError(f"unknown event kind {kind}")
