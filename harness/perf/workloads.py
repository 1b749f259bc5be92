"""Deterministic workloads for the benchmarks.

Everything here is a pure function of its seed: the same arguments give the
same programs on every machine, so core and reference always run the same
work.  The generators read only their own bookkeeping of the names they bound
(like harness.lang.encoding's decoder), never an engine.

* :func:`mixed_program` - a long program that keeps opening, connecting,
  transferring over, duplicating and closing sockets, with overlapped
  operations, peer steps and time.  The mix is steered so that most steps do
  real work rather than fail a common check (``outcome_mix`` reports it).
* :func:`fuzzer_inputs`, :func:`fuzzer_programs` - seeded random bytes of
  the size the fuzzer runs, and the programs harness.lang.encoding.decode
  makes of them.
* :func:`churn_setup`, :func:`run_churn` - descriptor churn (socket /
  duplicate / closesocket) beside N live descriptors, through the stepwise
  API; :func:`run_idle` - the same loop doing no table work.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.lang.encoding import decode
from harness.lang.program import Program, Step, Var, variable_slots
from harness.vocab import trace
from harness.vocab.constants import (
    FD_ALL,
    FD_CLOSE,
    FD_READ,
    FD_WRITE,
    SD_SEND,
    WSAENETDOWN,
    WSAENOTSOCK,
    WSANOTINITIALISED,
    Mode,
    Op,
    SockType,
)
from harness.vocab.profiles import DOCUMENTED, Limits, Profile

#: the two processes' threads: p0 has t0 and t1, p1 has t2 and t3
PROCESS_THREADS = ((0, 1), (2, 3))
MASKS = (FD_READ, FD_WRITE, FD_CLOSE, FD_READ | FD_WRITE, FD_ALL)


@dataclass
class _Desc:
    name: str
    process: int
    group: int  # which socket it names (descriptors of one socket share a group)


@dataclass
class _Sock:
    """What the generator knows of one socket (from the steps it wrote)."""

    peer: str | None = None
    nonblocking: bool = False
    linger_secs: int = 0  # > 0 once a timed linger was set


@dataclass
class _Gen:
    """A program under construction and the names it has bound.

    Blocking calls are written on purpose (they are the close path's heart),
    and each thread that may be blocked is remembered with the step that frees
    it for sure: a peer step that feeds or resets its connection, or time past
    its linger deadline.  Calls are written only for threads not blocked, so
    few lines end ``rejected``.
    """

    rng: random.Random
    steps: list[Step] = field(default_factory=list)
    live: list[_Desc] = field(default_factory=list)
    socks: dict[int, _Sock] = field(default_factory=dict)
    closed_peers: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    blocked: dict[int, tuple[Op, str | None, int]] = field(default_factory=dict)

    def fresh(self, letter: str) -> str:
        self.counts[letter] += 1
        return f"{letter}{self.counts[letter]}"

    def add(self, op: Op, thread: int | None = None, bind: str | None = None,
            target: str | None = None, args: tuple[int, ...] = ()) -> None:  # fmt: skip
        self.steps.append(Step(op, thread, bind, Var(target) if target else None, args))

    def thread_of(self, process: int) -> int | None:
        free = [t for t in PROCESS_THREADS[process] if t not in self.blocked]
        return self.rng.choice(free) if free else None

    def count(self) -> int:
        return self.rng.choice((1, 10, 100, 700, 1500, 4096, 9000, 30000))

    def pick(self) -> tuple[_Desc, int] | None:
        """A live descriptor and a free thread of its process."""
        d = self.rng.choice(self.live)
        t = self.thread_of(d.process)
        return None if t is None else (d, t)

    # --- actions ------------------------------------------------------------------

    def open_socket(self) -> None:
        r = self.rng
        process = 0 if r.random() < 0.8 else 1
        t = self.thread_of(process)
        if t is None:
            return self.unblock()
        name = self.fresh("s")
        group = len(self.socks) + 1
        self.socks[group] = sock = _Sock()
        self.live.append(_Desc(name, process, group))
        if r.random() < 0.1:
            self.add(Op.SOCKET, t, name, args=(SockType.DGRAM,))
            self.add(Op.BIND, t, target=name, args=(r.randint(1, 4),))
            return None
        self.add(Op.SOCKET, t, name, args=(SockType.STREAM,))
        if r.random() < 0.75:
            self.add(Op.IOCTLSOCKET_FIONBIO, t, target=name, args=(1,))
            sock.nonblocking = True
        if r.random() < 0.3:
            self.add(Op.ASYNCSELECT, t, target=name, args=(r.choice(MASKS),))
        sock.peer = self.fresh("c")
        window = (r.choice((100, 1000, 5000, 20000)),) if r.random() < 0.5 else ()
        self.add(Op.CONNECT, t, sock.peer, name, window)
        return None

    def transfer(self) -> None:
        if (picked := self.pick()) is None:
            return self.unblock()
        d, t = picked
        op = self.rng.choice((Op.SEND, Op.SEND, Op.RECV))
        self.add(op, t, target=d.name, args=(self.count(),))
        sock = self.socks[d.group]
        if not sock.nonblocking and sock.peer:
            self.blocked[t] = (op, sock.peer, 0)
        return None

    def overlapped(self) -> None:
        if (picked := self.pick()) is None:
            return self.unblock()
        d, t = picked
        op = self.rng.choice((Op.WSASEND, Op.WSARECV))
        name = self.fresh("o")
        mode = self.rng.choice((Mode.EVENT, Mode.ROUTINE))
        self.add(op, t, name, d.name, (self.count(), mode))
        self.ops.append(name)
        return None

    def peer_step(self) -> None:
        r = self.rng
        if self.closed_peers and r.random() < 0.5:  # closing sockets count against the limit
            peer = self.closed_peers.pop(r.randrange(len(self.closed_peers)))
            if r.random() < 0.5:
                self.add(Op.PEER_RECV, target=peer, args=(65536,))
            self.add(r.choice((Op.PEER_CLOSE, Op.PEER_RESET)), target=peer)  # ends it for sure
            return
        live_peer = self.socks[r.choice(self.live).group].peer if self.live else None
        if live_peer is None:
            return
        peer = live_peer
        roll = r.random()
        if roll < 0.45:
            self.add(Op.PEER_RECV, target=peer, args=(self.count(),))
        elif roll < 0.9:
            self.add(Op.PEER_SEND, target=peer, args=(self.count(),))
        elif roll < 0.96:
            self.add(Op.PEER_CLOSE, target=peer)
        else:
            self.add(Op.PEER_RESET, target=peer)

    def notice(self) -> None:
        r = self.rng
        roll = r.random()
        free = [t for t in range(4) if t not in self.blocked]
        if (roll < 0.4 and self.ops) or not free:
            if self.ops:
                self.add(Op.OVL, target=r.choice(self.ops[-8:]))
        elif roll < 0.6:
            self.add(Op.SLEEPEX, r.choice(free))
        elif roll < 0.8:
            self.add(Op.GETMESSAGE, r.choice(free))
        else:
            self.add(Op.GETLASTERROR, r.choice(free))

    def option(self) -> None:
        if (picked := self.pick()) is None:
            return self.unblock()
        d, t = picked
        r = self.rng
        sock = self.socks[d.group]
        roll = r.random()
        if roll < 0.5:
            onoff, secs = r.choice((0, 1, 1, 1)), r.choice((0, 0, 1, 5))
            self.add(Op.SETSOCKOPT_LINGER, t, target=d.name, args=(onoff, secs))
            sock.linger_secs = secs if onoff else 0
        elif roll < 0.65:
            value = r.randrange(2)
            self.add(Op.SETSOCKOPT_DONTLINGER, t, target=d.name, args=(value,))
            if value:
                sock.linger_secs = 0
        elif roll < 0.75:
            self.add(Op.GETSOCKOPT_LINGER, t, target=d.name)
        elif roll < 0.85:
            self.add(Op.SHUTDOWN, t, target=d.name, args=(r.choice((SD_SEND, 0, 2)),))
        else:
            self.add(Op.ASYNCSELECT, t, target=d.name, args=(r.choice(MASKS),))
        return None

    def duplicate(self) -> None:
        if (picked := self.pick()) is None:
            return self.unblock()
        d, t = picked
        name = self.fresh("s")
        target = self.rng.randrange(2)
        self.add(Op.DUPLICATE, t, name, d.name, (target,))
        self.live.append(_Desc(name, target, d.group))
        return None

    def close(self) -> None:
        d = self.rng.choice(self.live)
        t = self.thread_of(d.process)
        if t is None:
            return self.unblock()
        self.live.remove(d)
        self.add(Op.CLOSESOCKET, t, target=d.name)
        sock = self.socks[d.group]
        if not sock.nonblocking and sock.linger_secs:
            self.blocked[t] = (Op.CLOSESOCKET, sock.peer, sock.linger_secs)
        if sock.peer and not any(x.group == d.group for x in self.live):
            self.closed_peers.append(sock.peer)
        return None

    def unblock(self) -> None:
        """Free one blocked thread, by the step that frees it for sure."""
        if not self.blocked:
            return
        t = self.rng.choice(sorted(self.blocked))
        op, peer, secs = self.blocked.pop(t)
        if op == Op.CLOSESOCKET and (peer is None or self.rng.random() < 0.6):
            self.add(Op.ADVANCE, args=(1000 * secs + 1,))  # past the linger deadline
        elif op == Op.RECV and self.rng.random() < 0.7:
            self.add(Op.PEER_SEND, target=peer, args=(self.count(),))
        else:
            self.add(Op.PEER_RESET, target=peer)

    def environment(self) -> None:
        r = self.rng
        if self.blocked and r.random() < 0.5:
            self.unblock()
        elif r.random() < 0.97:
            self.add(Op.ADVANCE, args=(r.choice((1, 10, 500, 1000, 5000)),))
        else:  # a short network outage
            self.add(Op.NET_DOWN)
            self.add(Op.NET_UP)

    def restart(self) -> None:
        """Both processes clean up (destroying everything) and start again."""
        t0, t2 = self.thread_of(0), self.thread_of(1)
        if t0 is None or t2 is None:
            return self.unblock()
        self.add(Op.CLEANUP, t0)
        self.add(Op.CLEANUP, t2)
        self.live.clear()  # sockets closing in the background live on: keep closed_peers
        self.blocked.clear()  # cleanup cancels every blocked call
        _startup(self)
        return None


def _startup(g: _Gen) -> None:
    g.add(Op.STARTUP, 0, args=(2, 2))
    g.add(Op.STARTUP, 2, args=(2, 2))


def mixed_program(nsteps: int, seed: int, profile: Profile = DOCUMENTED) -> Program:
    """A ``nsteps``-step program of socket work in one world (default limits)."""
    g = _Gen(random.Random(seed))
    _startup(g)
    r = g.rng
    actions = (
        (g.transfer, 22), (g.peer_step, 22), (g.overlapped, 10), (g.notice, 10),
        (g.option, 8), (g.duplicate, 5), (g.environment, 8),
    )  # fmt: skip
    funcs = [f for f, _ in actions]
    weights = [w for _, w in actions]
    while len(g.steps) < nsteps:
        live = len(g.live)
        if live < 2 or (live < 6 and r.random() < 0.12):
            g.open_socket()
        elif live > 5 or r.random() < 0.08:
            g.close()
        elif r.random() < 0.002:  # all the way down and up again
            g.restart()
        else:
            r.choices(funcs, weights)[0]()
    steps = tuple(g.steps[:nsteps])
    return Program(steps, profile, Limits(), slots=variable_slots(steps))


def fuzzer_inputs(count: int, max_steps: int, seed: int) -> list[bytes]:
    """``count`` seeded random inputs of the size the fuzzer runs: a header
    byte (prelude bits 0-2 all set, i.e. no prelude, half of the time) and
    ``max_steps`` 4-byte steps."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        header = rng.randrange(256) | (0b111 if rng.random() < 0.5 else 0)
        out.append(bytes([header]) + rng.randbytes(4 * max_steps))
    return out


def fuzzer_programs(count: int, max_steps: int, seed: int) -> list[Program]:
    """The programs :func:`fuzzer_inputs` decode to (harness.lang.encoding.decode)."""
    return [decode(data, DOCUMENTED, max_steps) for data in fuzzer_inputs(count, max_steps, seed)]


def churn_setup(live: int) -> list[tuple[int, int, int, int, int, int]]:
    """Stepwise steps ``(op, thread, target, x1, x2, x3)`` that start p0 and p1
    and open ``live`` sockets in p0 (they stay open: values 4 .. 4*live)."""
    out = [(Op.STARTUP, 0, 0, 2, 2, 0), (Op.STARTUP, 2, 0, 2, 2, 0)]
    out += [(Op.SOCKET, 0, 0, int(SockType.STREAM), 0, 0)] * live
    return [(int(a), b, c, d, e, f) for a, b, c, d, e, f in out]


#: one churn cycle's steps: p0 opens a socket, duplicates it into p0 and p1,
#: and closes the three descriptors again (the last close destroys the socket)
CHURN_CYCLE = 6


StepFn = Callable[[int, int, int, int, int, int], tuple[int, ...]]


def run_churn(step: StepFn, cycles: int) -> int:
    """Run ``cycles`` churn cycles through a stepwise ``step`` callable;
    returns how many cycles opened everything and closed it again with 0."""
    ok = 0
    sock, dup, close = int(Op.SOCKET), int(Op.DUPLICATE), int(Op.CLOSESOCKET)
    stream = int(SockType.STREAM)
    closed = (trace.R_VALUE, 0)
    for _ in range(cycles):
        s = step(sock, 0, 0, stream, 0, 0)[0]
        d0 = step(dup, 0, s, 0, 0, 0)[0]
        d1 = step(dup, 1, s, 1, 0, 0)[0]
        r0 = step(close, 1, d0, 0, 0, 0)[1:3]
        r1 = step(close, 2, d1, 0, 0, 0)[1:3]
        r2 = step(close, 0, s, 0, 0, 0)[1:3]
        ok += r0 == r1 == r2 == closed and min(s, d0, d1) > 0
    return ok


def run_idle(step: StepFn, cycles: int) -> int:
    """:func:`run_churn`'s loop with every step a ``getlasterror`` (no table
    work): the stepwise call overhead the churn pays whatever the table size."""
    ok = 0
    ask = int(Op.GETLASTERROR)
    for _ in range(cycles):
        s = step(ask, 0, 0, 0, 0, 0)[0]
        d0 = step(ask, 0, s, 0, 0, 0)[0]
        d1 = step(ask, 1, s, 0, 0, 0)[0]
        r0 = step(ask, 1, d0, 0, 0, 0)[1:3]
        r1 = step(ask, 2, d1, 0, 0, 0)[1:3]
        r2 = step(ask, 0, s, 0, 0, 0)[1:3]
        ok += r0[0] == r1[0] == r2[0] == trace.R_LASTERROR
    return ok


# --- reporting on a workload --------------------------------------------------------


TRIVIAL_ERRORS = frozenset({WSANOTINITIALISED, WSAENOTSOCK, WSAENETDOWN})  # common checks


def outcome_mix(programs: Sequence[Program], traces: Sequence[trace.Trace]) -> dict[str, int]:
    """Count the steps by outcome class: ``work`` (a step that succeeded, did
    I/O, blocked or completed something), ``error`` (a call that failed past the
    common checks), ``trivial`` (failed a common check: WSANOTINITIALISED,
    WSAENOTSOCK, WSAENETDOWN; or ``rejected``), plus op counts and events."""
    mix: Counter[str] = Counter()
    for program, tr in zip(programs, traces, strict=True):
        for step, outcome in zip(program.steps, tr.steps, strict=True):
            kind, a = outcome.result[0], outcome.result[1]
            mix[f"op:{step.op.name.lower()}"] += 1
            mix["events"] += len(outcome.events)
            if kind == trace.R_REJECTED or (
                kind in (trace.R_SOCKET_ERROR, trace.R_INVALID_SOCKET, trace.R_DIRECT)
                and a in TRIVIAL_ERRORS
            ):
                mix["trivial"] += 1
            elif kind in (trace.R_SOCKET_ERROR, trace.R_INVALID_SOCKET, trace.R_DIRECT):
                mix["error"] += 1
            else:
                mix["work"] += 1
            mix["steps"] += 1
    return dict(mix)
