"""Lockstep: the reference model and the compiled core, driven together.

A Hypothesis state machine makes every kind of step in harness.vocab.constants.Op
(calls by threads t0..t3, environment steps, ``ovl``) and hands each one to
both engines through the stepwise API (docs/engines.md), with its target
resolved to a number.  Invariant: after every step both engines return the
same step record (bound value, result, events); their snapshots are equal;
and SEMANTICS.md section 11 holds on both (``check_invariants() == []``).

Descriptor, peer and operation values flow through Bundles, so later steps
use what earlier steps bound: stale descriptor values after a close, failed
connects and overlapped calls ("no peer", "no operation"); raw descriptor
values and INVALID_SOCKET are drawn too.  Most steps name a descriptor from a
thread of the process that holds it and many act on connected sockets, so
they get past the common checks.  A failure reports the steps so far as a
program (PROGRAMS.md) that ``wsa-harness diff`` replays on both engines.

One machine serves two users, configured by :func:`lockstep_machine`:

* the test suite (``tests/engines/test_lockstep.py``): a profile drawn from
  all of PROFILES for each test case, run under the test's settings;
* the bug-finding benchmark's ``hypothesis`` tool
  (:func:`harness.bugbench.worker.run_hypothesis`): the trial's profile, a
  deadline, and callbacks that count test cases and keep the first report.

    from hypothesis.stateful import run_state_machine_as_test
    from harness.engines import load_engine
    from harness.library.lockstep import lockstep_machine

    machine = lockstep_machine(load_engine("reference"), load_engine("core"))
    run_state_machine_as_test(machine)

A disagreement raises :class:`Divergence` (an ``AssertionError``) whose
message is the report: one line saying what differs and where, the two
sides, then ``program:`` and the program so far.

Needs ``hypothesis`` (in the ``test`` extra).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from harness.engines import EngineObject
from harness.lang.encoding import LIMIT_PRESETS
from harness.lang.program import Invalid, Program, Raw, Step, Target, Var
from harness.lang.render import format_program, format_step
from harness.vocab import trace
from harness.vocab.constants import (
    DESCRIPTOR_OPS,
    FD_CLOSE,
    FD_READ,
    FD_WRITE,
    MAX_U31,
    Mode,
    Op,
    SockType,
)
from harness.vocab.profiles import PROFILES, Limits, Profile

__all__ = ["BudgetOver", "Divergence", "lockstep_machine"]


class Divergence(AssertionError):
    """The two engines disagreed; the message is the report."""


class BudgetOver(Exception):
    """The deadline has passed: raised when a new test case starts."""


#: (how a program names it, the value an engine gets, the process that bound it or -1)
Arg = tuple[Target, int, int]
RAW_DESCRIPTORS: list[Arg] = [
    (Raw(4), 4, -1),
    (Raw(8), 8, -1),
    (Raw(1), 1, -1),
    (Invalid(), -1, -1),
]

threads = st.integers(0, 3)
#: a caller for a descriptor step: 0..3 is that thread, 4..11 a thread of the
#: process the descriptor was bound in (so most calls reach the call's own rules)
callers = st.integers(0, 11)
counts = st.one_of(st.integers(0, 300), st.sampled_from([4095, 4096, 8191, 8192, 65536, MAX_U31]))
times = st.one_of(st.integers(0, 1001), st.sampled_from([4999, 5000, 5001, 65535000, MAX_U31]))
windows = st.one_of(st.just(-1), st.integers(0, 300), st.sampled_from([8192, MAX_U31]))
modes = st.sampled_from([Mode.EVENT, Mode.ROUTINE])
masks = st.sets(st.sampled_from([FD_READ, FD_WRITE, FD_CLOSE])).map(sum)
small_limits = st.builds(
    Limits,
    sockets=st.integers(0, 4),
    descriptors=st.integers(1, 4),
    sndbuf=st.sampled_from([0, 1, 100, 1000, 8192]),
    window=st.sampled_from([0, 1, 100, 300, 65536]),
)
limits = st.one_of(st.just(Limits()), st.sampled_from(LIMIT_PRESETS), small_limits)
#: the start: nothing, both processes started, or that and a connected socket
preludes = st.sampled_from([0, 1, 2, 2])
versions = st.sampled_from([(2, 2), (2, 2), (2, 2), (1, 1), (0, 0), (2, 0), (1, 0), (3, 1)])
kinds = st.sampled_from([SockType.STREAM, SockType.STREAM, SockType.STREAM, SockType.DGRAM])
#: the arguments a descriptor call gets on a raw value (ARG_LAYOUT order)
RAW_ARGS: dict[Op, tuple[int, ...]] = {
    Op.BIND: (80,), Op.SETSOCKOPT_LINGER: (1, 0), Op.SETSOCKOPT_DONTLINGER: (1,),
    Op.IOCTLSOCKET_FIONBIO: (1,), Op.SEND: (100,), Op.RECV: (100,),
    Op.WSASEND: (100, Mode.EVENT), Op.WSARECV: (100, Mode.ROUTINE), Op.SHUTDOWN: (1,),
    Op.ASYNCSELECT: (FD_READ | FD_WRITE | FD_CLOSE,), Op.DUPLICATE: (1,),
}  # fmt: skip
RAW_OPS = sorted(DESCRIPTOR_OPS)


def lockstep_machine(
    reference: ModuleType,
    core: ModuleType,
    *,
    profile: Profile | None = None,
    deadline: float | None = None,
    on_case: Callable[[], None] | None = None,
    on_divergence: Callable[[str], None] | None = None,
) -> type[RuleBasedStateMachine]:
    """A machine class that drives ``reference`` and ``core`` (engine modules,
    docs/engines.md) in lockstep; see the module docstring.

    ``profile`` is the profile of every test case; None draws one from all of
    PROFILES for each.  At ``deadline`` (a ``time.monotonic()`` value) a new
    test case raises :class:`BudgetOver`.  ``on_case()`` is called once per
    test case; ``on_divergence(report)`` at a test case's first disagreement
    (step records, snapshots or invariants), just before :class:`Divergence`
    is raised with the same report.  Hypothesis may replay and shrink a
    failing case, so under its default phases that can happen more than once.
    """
    profiles = st.sampled_from(list(PROFILES.values())) if profile is None else st.just(profile)

    class Lockstep(RuleBasedStateMachine):
        """Both engines, one step at a time; see harness.library.lockstep."""

        descriptors = Bundle("descriptors")
        peers = Bundle("peers")  # (cN, peer id, -1, the descriptor it was connected through)
        ops = Bundle("ops")
        #: a descriptor argument: one bound earlier, often one that was connected
        sockets = st.one_of(descriptors, peers.map(lambda peer: peer[3]))

        def __init__(self) -> None:
            if deadline is not None and time.monotonic() >= deadline:
                raise BudgetOver()
            super().__init__()
            if on_case is not None:
                on_case()
            self.profile: Profile = PROFILES["documented"]
            self.limits = Limits()
            self.engines: tuple[EngineObject, EngineObject] | None = None
            self.steps: list[Step] = []
            self.names: Counter[str] = Counter()

        # --- driving both engines -----------------------------------------------------

        @initialize(target=peers, profile=profiles, limits=limits, prelude=preludes)
        def start(self, profile: Profile, limits: Limits, prelude: int) -> Any:
            """Both engines; then, as the fuzzer's header often asks, both processes
            started (prelude >= 1) and a socket connected in p0 (prelude 2)."""
            self.profile, self.limits = profile, limits
            self.engines = (reference.Engine(profile, limits), core.Engine(profile, limits))
            if prelude:
                self.run(Op.STARTUP, 0, args=(2, 2))
                self.run(Op.STARTUP, 2, args=(2, 2))
            return self.connection(0, -1) if prelude == 2 else multiple()

        def connection(self, thread: int, window: int) -> Any:
            """``sN = socket stream`` and ``cN = connect sN``; the peer, for its bundle."""
            record = self.run(Op.SOCKET, thread, args=(int(SockType.STREAM),), bind="s")
            d = (Var(f"s{self.names['s']}"), record[0], thread // 2)
            args = () if window == -1 else (window,)
            return (*self.bound("c", self.run(Op.CONNECT, thread, d, args, bind="c")), d)

        def run(
            self, op: Op, thread: int | None = None, target: Arg | None = None,
            args: tuple[int, ...] = (), bind: str | None = None,
        ) -> tuple[int, ...]:  # fmt: skip
            """One step on both engines; their records must be equal."""
            assert self.engines is not None
            syntax, value = target[:2] if target is not None else (None, 0)
            name = None
            if bind:
                self.names[bind] += 1
                name = f"{bind}{self.names[bind]}"
            self.steps.append(Step(op, thread, name, syntax, args, line=len(self.steps) + 1))
            x = list(args) if (op != Op.CONNECT or args) else [-1]
            x1, x2, x3 = (x + [0, 0, 0])[:3]
            t = -1 if thread is None else thread
            a, b = (tuple(engine.step(int(op), t, value, x1, x2, x3)) for engine in self.engines)
            if a != b:
                line = len(self.steps)
                self.diverge(
                    f"step records differ at line {line} ({format_step(self.steps[-1])})",
                    _show(a), _show(b),
                )  # fmt: skip
            return a

        def bound(self, bundle_letter: str, record: tuple[int, ...], process: int = -1) -> Any:
            """The value a step bound, for its bundle.  A failed socket or duplicate
            (INVALID_SOCKET) is left out: the raw-descriptor rule covers that value.
            A failed connect or overlapped call ("no peer", "no operation") is kept."""
            if bundle_letter == "s" and record[0] == -1:
                return multiple()
            return Var(f"{bundle_letter}{self.names[bundle_letter]}"), record[0], process

        def program(self) -> str:
            program = Program(
                tuple(self.steps), self.profile, self.limits, has_profile=True, has_limits=True
            )
            return format_program(program)

        def diverge(self, what: str, on_reference: str, on_core: str) -> NoReturn:
            """Report a disagreement: ``on_divergence``, then :class:`Divergence`."""
            text = (
                f"{what}:\n  reference: {on_reference}\n  core:      {on_core}\n"
                f"program:\n{self.program()}"
            )
            if on_divergence is not None:
                on_divergence(text)
            raise Divergence(text)

        # --- lifecycle and options ------------------------------------------------------

        @rule(thread=threads, version=versions, cleanup=st.sampled_from([False, False, True]))
        def startup_or_cleanup(self, thread: int, version: tuple[int, int], cleanup: bool) -> None:
            if cleanup:
                self.run(Op.CLEANUP, thread)
            else:
                self.run(Op.STARTUP, thread, args=version)

        @rule(target=descriptors, thread=threads, kind=kinds)
        def socket(self, thread: int, kind: SockType) -> Arg:
            record = self.run(Op.SOCKET, thread, args=(int(kind),), bind="s")
            return self.bound("s", record, thread // 2)  # type: ignore[no-any-return]

        @rule(target=peers, thread=threads, window=windows)
        def new_connection(self, thread: int, window: int) -> Any:
            return self.connection(thread, window)

        @rule(thread=callers, d=sockets, port=st.sampled_from([1, 2, 80, 65535]))
        def bind_port(self, thread: int, d: Arg, port: int) -> None:
            self.run(Op.BIND, _caller(thread, d), d, (port,))

        @rule(target=peers, thread=callers, d=sockets, window=windows)
        def connect(self, thread: int, d: Arg, window: int) -> Any:
            args = () if window == -1 else (window,)
            record = self.run(Op.CONNECT, _caller(thread, d), d, args, bind="c")
            return (*self.bound("c", record), d)

        @rule(
            thread=callers, d=sockets,
            onoff=st.sampled_from([0, 1, 256, 65535]), secs=st.sampled_from([0, 1, 5, 65535]),
        )  # fmt: skip
        def setsockopt_linger(self, thread: int, d: Arg, onoff: int, secs: int) -> None:
            self.run(Op.SETSOCKOPT_LINGER, _caller(thread, d), d, (onoff, secs))

        @rule(thread=callers, d=sockets, value=st.sampled_from([0, 1, 7]))
        def setsockopt_dontlinger(self, thread: int, d: Arg, value: int) -> None:
            self.run(Op.SETSOCKOPT_DONTLINGER, _caller(thread, d), d, (value,))

        @rule(
            thread=callers, d=sockets,
            op=st.sampled_from([Op.GETSOCKOPT_LINGER, Op.GETSOCKOPT_DONTLINGER]),
        )  # fmt: skip
        def getsockopt(self, thread: int, d: Arg, op: Op) -> None:
            self.run(op, _caller(thread, d), d)

        @rule(thread=callers, d=sockets, value=st.sampled_from([0, 1, 2]))
        def ioctlsocket_fionbio(self, thread: int, d: Arg, value: int) -> None:
            self.run(Op.IOCTLSOCKET_FIONBIO, _caller(thread, d), d, (value,))

        @rule(thread=callers, d=sockets, how=st.sampled_from([0, 1, 2, 3, 5]))
        def shutdown(self, thread: int, d: Arg, how: int) -> None:
            self.run(Op.SHUTDOWN, _caller(thread, d), d, (how,))

        @rule(thread=callers, d=sockets, mask=masks)
        def asyncselect(self, thread: int, d: Arg, mask: int) -> None:
            self.run(Op.ASYNCSELECT, _caller(thread, d), d, (mask,))

        @rule(target=descriptors, thread=callers, d=sockets, pid=st.sampled_from([0, 1, 2]))
        def duplicate(self, thread: int, d: Arg, pid: int) -> Arg:
            record = self.run(Op.DUPLICATE, _caller(thread, d), d, (pid,), bind="s")
            return self.bound("s", record, pid if pid in (0, 1) else -1)  # type: ignore[no-any-return]

        @rule(thread=callers, d=consumes(descriptors))
        def closesocket(self, thread: int, d: Arg) -> None:
            self.run(Op.CLOSESOCKET, _caller(thread, d), d)

        @rule(thread=callers, d=sockets)
        def closesocket_keeping_the_value(self, thread: int, d: Arg) -> None:
            """Close, and let later steps use the (now stale, maybe reused) value."""
            self.run(Op.CLOSESOCKET, _caller(thread, d), d)

        @rule(thread=threads, d=st.sampled_from(RAW_DESCRIPTORS), op=st.sampled_from(RAW_OPS))
        def raw_descriptor(self, thread: int, d: Arg, op: Op) -> None:
            """A descriptor call on a raw value or INVALID_SOCKET."""
            bind = {Op.CONNECT: "c", Op.DUPLICATE: "s", Op.WSASEND: "o", Op.WSARECV: "o"}.get(op)
            self.run(op, thread, d, RAW_ARGS.get(op, ()), bind=bind)

        # --- data transfer --------------------------------------------------------------

        @rule(thread=callers, d=sockets, n=counts, op=st.sampled_from([Op.SEND, Op.RECV]))
        def send_recv(self, thread: int, d: Arg, n: int, op: Op) -> None:
            self.run(op, _caller(thread, d), d, (n,))

        @rule(
            target=ops, thread=callers, d=sockets, n=counts, mode=modes,
            op=st.sampled_from([Op.WSASEND, Op.WSARECV]),
        )  # fmt: skip
        def overlapped(self, thread: int, d: Arg, n: int, mode: Mode, op: Op) -> Arg:
            record = self.run(op, _caller(thread, d), d, (n, int(mode)), bind="o")
            return self.bound("o", record)  # type: ignore[no-any-return]

        # --- calls without a descriptor -------------------------------------------------

        @rule(
            thread=threads,
            op=st.sampled_from([Op.CANCELBLOCKING, Op.GETLASTERROR, Op.GETMESSAGE, Op.SLEEPEX]),
        )
        def plain_call(self, thread: int, op: Op) -> None:
            self.run(op, thread)

        # --- environment steps and ovl --------------------------------------------------

        @rule(ms=times)
        def advance(self, ms: int) -> None:
            self.run(Op.ADVANCE, args=(ms,))

        @rule(up=st.sampled_from([True, True, False]))
        def network(self, up: bool) -> None:
            self.run(Op.NET_UP if up else Op.NET_DOWN)

        @rule(peer=peers, n=counts, op=st.sampled_from([Op.PEER_RECV, Op.PEER_SEND]))
        def peer_transfer(self, peer: Arg, n: int, op: Op) -> None:
            self.run(op, target=peer, args=(n,))

        @rule(peer=peers, op=st.sampled_from([Op.PEER_CLOSE, Op.PEER_RESET]))
        def peer_end(self, peer: Arg, op: Op) -> None:
            self.run(op, target=peer)

        @rule(op=ops)
        def ovl(self, op: Arg) -> None:
            self.run(Op.OVL, target=op)

        # --- after every step -----------------------------------------------------------

        @invariant()
        def same_state_and_invariants_hold(self) -> None:
            if self.engines is None:
                return
            after = f"after line {len(self.steps)}"
            if self.steps:
                after += f" ({format_step(self.steps[-1])})"
            a, b = (tuple(engine.snapshot()) for engine in self.engines)
            if a != b:
                i = _first_difference(a, b)
                self.diverge(
                    f"snapshots differ {after}, first at index {i}",
                    str(a[i : i + 8]), str(b[i : i + 8]),
                )  # fmt: skip
            bad = [list(engine.check_invariants()) for engine in self.engines]
            if bad != [[], []]:
                self.diverge(f"invariants fail {after}", *("; ".join(x) or "all hold" for x in bad))

    return Lockstep


def _caller(choice: int, d: Arg) -> int:
    """The calling thread: ``choice`` itself, or a thread of ``d``'s process."""
    if choice < 4 or d[2] < 0:
        return choice % 4
    return 2 * d[2] + choice % 2


def _show(record: tuple[int, ...]) -> str:
    """A step record as ``bound=B -> RESULT; EVENT; ...`` (PROGRAMS.md words)."""
    h, w = trace.STEP_HEADER, trace.EVENT_WIDTH
    if len(record) < h:
        return repr(record)
    events = [
        trace.render_event(tuple(record[h + w * i : h + w * (i + 1)]))  # type: ignore[arg-type]
        for i in range(record[h - 1])
    ]
    head = f"bound={record[0]} -> {trace.render_result(tuple(record[1:5]))}"  # type: ignore[arg-type]
    return "; ".join([head, *events])


def _first_difference(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
