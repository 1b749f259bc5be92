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
they get past the common checks.  A failure prints the steps so far as a
program (PROGRAMS.md) that ``wsa-harness diff`` replays on both engines.

Needs both engines.  ``WSA_HARNESS_NO_CORE=1`` (an explicit request for the
reference alone) skips it with that reason; otherwise a core that is missing
or stale fails the test.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from conftest import CORE, REFERENCE
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from harness.engines import NO_CORE_ENV, no_core
from harness.lang.encoding import LIMIT_PRESETS
from harness.lang.program import Invalid, Program, Raw, Step, Target, Var
from harness.lang.render import format_program
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
from harness.vocab.profiles import DOCUMENTED, PROFILES, Limits, Profile

SETTINGS = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

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
#: the arguments a descriptor call gets on a raw value (ARG_LAYOUT order)
RAW_ARGS: dict[Op, tuple[int, ...]] = {
    Op.BIND: (80,), Op.SETSOCKOPT_LINGER: (1, 0), Op.SETSOCKOPT_DONTLINGER: (1,),
    Op.IOCTLSOCKET_FIONBIO: (1,), Op.SEND: (100,), Op.RECV: (100,),
    Op.WSASEND: (100, Mode.EVENT), Op.WSARECV: (100, Mode.ROUTINE), Op.SHUTDOWN: (1,),
    Op.ASYNCSELECT: (FD_READ | FD_WRITE | FD_CLOSE,), Op.DUPLICATE: (1,),
}  # fmt: skip
RAW_OPS = sorted(DESCRIPTOR_OPS)


class Lockstep(RuleBasedStateMachine):
    """Both engines, one step at a time; see the module docstring."""

    reference: ModuleType
    core: ModuleType

    descriptors = Bundle("descriptors")
    peers = Bundle("peers")  # (cN, peer id, -1, the descriptor it was connected through)
    ops = Bundle("ops")
    #: a descriptor argument: one bound earlier, often one that was connected
    sockets = st.one_of(descriptors, peers.map(lambda peer: peer[3]))

    def __init__(self) -> None:
        super().__init__()
        self.profile: Profile = DOCUMENTED
        self.limits = Limits()
        self.engines: tuple[Any, Any] | None = None
        self.steps: list[Step] = []
        self.names: Counter[str] = Counter()

    # --- driving both engines ---------------------------------------------------------

    @initialize(
        target=peers,
        profile=st.sampled_from(list(PROFILES.values())),
        limits=limits,
        prelude=st.sampled_from([0, 1, 2, 2]),
    )
    def start(self, profile: Profile, limits: Limits, prelude: int) -> Any:
        """Both engines; then, as the fuzzer's header often asks, both processes
        started (prelude >= 1) and a socket connected in p0 (prelude 2)."""
        self.profile, self.limits = profile, limits
        self.engines = (self.reference.Engine(profile, limits), self.core.Engine(profile, limits))
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
        records = [engine.step(int(op), t, value, x1, x2, x3) for engine in self.engines]
        assert records[0] == records[1], self.report("step records differ", *records)
        return tuple(records[0])

    def bound(self, bundle_letter: str, record: tuple[int, ...], process: int = -1) -> Any:
        """The value a step bound, for its bundle.  A failed socket or duplicate
        (INVALID_SOCKET) is left out: the raw-descriptor rule covers that value.
        A failed connect or overlapped call ("no peer", "no operation") is kept."""
        if bundle_letter == "s" and record[0] == -1:
            return multiple()
        return Var(f"{bundle_letter}{self.names[bundle_letter]}"), record[0], process

    @staticmethod
    def caller(choice: int, d: Arg) -> int:
        """The calling thread: ``choice`` itself, or a thread of ``d``'s process."""
        if choice < 4 or d[2] < 0:
            return choice % 4
        return 2 * d[2] + choice % 2

    def program(self) -> str:
        program = Program(
            tuple(self.steps), self.profile, self.limits, has_profile=True, has_limits=True
        )
        return format_program(program)

    def report(self, what: str, reference: Any, core: Any) -> str:
        def show(record: Any) -> str:
            if not isinstance(record, tuple) or len(record) < 6:
                return repr(record)
            events = [
                trace.render_event(tuple(record[6 + 5 * i : 11 + 5 * i]))  # type: ignore[arg-type]
                for i in range(record[5])
            ]
            head = f"bound={record[0]} -> {trace.render_result(tuple(record[1:5]))}"  # type: ignore[arg-type]
            return "; ".join([head, *events])

        return (
            f"{what} after line {len(self.steps)}:\n  reference: {show(reference)}\n"
            f"  core:      {show(core)}\nprogram:\n{self.program()}"
        )

    # --- lifecycle and options ----------------------------------------------------------

    @rule(
        thread=threads,
        version=st.sampled_from([(2, 2), (2, 2), (2, 2), (1, 1), (0, 0), (2, 0), (1, 0), (3, 1)]),
        cleanup=st.sampled_from([False, False, True]),
    )
    def startup_or_cleanup(self, thread: int, version: tuple[int, int], cleanup: bool) -> None:
        if cleanup:
            self.run(Op.CLEANUP, thread)
        else:
            self.run(Op.STARTUP, thread, args=version)

    @rule(
        target=descriptors,
        thread=threads,
        kind=st.sampled_from([SockType.STREAM, SockType.STREAM, SockType.STREAM, SockType.DGRAM]),
    )
    def socket(self, thread: int, kind: SockType) -> Arg:
        record = self.run(Op.SOCKET, thread, args=(int(kind),), bind="s")
        return self.bound("s", record, thread // 2)

    @rule(target=peers, thread=threads, window=windows)
    def new_connection(self, thread: int, window: int) -> Any:
        return self.connection(thread, window)

    @rule(thread=callers, d=sockets, port=st.sampled_from([1, 2, 80, 65535]))
    def bind_port(self, thread: int, d: Arg, port: int) -> None:
        self.run(Op.BIND, self.caller(thread, d), d, (port,))

    @rule(target=peers, thread=callers, d=sockets, window=windows)
    def connect(self, thread: int, d: Arg, window: int) -> Any:
        args = () if window == -1 else (window,)
        record = self.run(Op.CONNECT, self.caller(thread, d), d, args, bind="c")
        return (*self.bound("c", record), d)

    @rule(
        thread=callers, d=sockets,
        onoff=st.sampled_from([0, 1, 256, 65535]), secs=st.sampled_from([0, 1, 5, 65535]),
    )  # fmt: skip
    def setsockopt_linger(self, thread: int, d: Arg, onoff: int, secs: int) -> None:
        self.run(Op.SETSOCKOPT_LINGER, self.caller(thread, d), d, (onoff, secs))

    @rule(thread=callers, d=sockets, value=st.sampled_from([0, 1, 7]))
    def setsockopt_dontlinger(self, thread: int, d: Arg, value: int) -> None:
        self.run(Op.SETSOCKOPT_DONTLINGER, self.caller(thread, d), d, (value,))

    @rule(
        thread=callers, d=sockets,
        op=st.sampled_from([Op.GETSOCKOPT_LINGER, Op.GETSOCKOPT_DONTLINGER]),
    )  # fmt: skip
    def getsockopt(self, thread: int, d: Arg, op: Op) -> None:
        self.run(op, self.caller(thread, d), d)

    @rule(thread=callers, d=sockets, value=st.sampled_from([0, 1, 2]))
    def ioctlsocket_fionbio(self, thread: int, d: Arg, value: int) -> None:
        self.run(Op.IOCTLSOCKET_FIONBIO, self.caller(thread, d), d, (value,))

    @rule(thread=callers, d=sockets, how=st.sampled_from([0, 1, 2, 3, 5]))
    def shutdown(self, thread: int, d: Arg, how: int) -> None:
        self.run(Op.SHUTDOWN, self.caller(thread, d), d, (how,))

    @rule(thread=callers, d=sockets, mask=masks)
    def asyncselect(self, thread: int, d: Arg, mask: int) -> None:
        self.run(Op.ASYNCSELECT, self.caller(thread, d), d, (mask,))

    @rule(target=descriptors, thread=callers, d=sockets, pid=st.sampled_from([0, 1, 2]))
    def duplicate(self, thread: int, d: Arg, pid: int) -> Arg:
        record = self.run(Op.DUPLICATE, self.caller(thread, d), d, (pid,), bind="s")
        return self.bound("s", record, pid if pid in (0, 1) else -1)

    @rule(thread=callers, d=consumes(descriptors))
    def closesocket(self, thread: int, d: Arg) -> None:
        self.run(Op.CLOSESOCKET, self.caller(thread, d), d)

    @rule(thread=callers, d=sockets)
    def closesocket_keeping_the_value(self, thread: int, d: Arg) -> None:
        """Close, and let later steps use the (now stale, maybe reused) value."""
        self.run(Op.CLOSESOCKET, self.caller(thread, d), d)

    @rule(thread=threads, d=st.sampled_from(RAW_DESCRIPTORS), op=st.sampled_from(RAW_OPS))
    def raw_descriptor(self, thread: int, d: Arg, op: Op) -> None:
        """A descriptor call on a raw value or INVALID_SOCKET."""
        bind = {Op.CONNECT: "c", Op.DUPLICATE: "s", Op.WSASEND: "o", Op.WSARECV: "o"}.get(op)
        self.run(op, thread, d, RAW_ARGS.get(op, ()), bind=bind)

    # --- data transfer ------------------------------------------------------------------

    @rule(thread=callers, d=sockets, n=counts, op=st.sampled_from([Op.SEND, Op.RECV]))
    def send_recv(self, thread: int, d: Arg, n: int, op: Op) -> None:
        self.run(op, self.caller(thread, d), d, (n,))

    @rule(
        target=ops, thread=callers, d=sockets, n=counts, mode=modes,
        op=st.sampled_from([Op.WSASEND, Op.WSARECV]),
    )  # fmt: skip
    def overlapped(self, thread: int, d: Arg, n: int, mode: Mode, op: Op) -> Arg:
        return self.bound("o", self.run(op, self.caller(thread, d), d, (n, int(mode)), bind="o"))

    # --- calls without a descriptor -------------------------------------------------------

    @rule(
        thread=threads,
        op=st.sampled_from([Op.CANCELBLOCKING, Op.GETLASTERROR, Op.GETMESSAGE, Op.SLEEPEX]),
    )
    def plain_call(self, thread: int, op: Op) -> None:
        self.run(op, thread)

    # --- environment steps and ovl --------------------------------------------------------

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

    # --- after every step -----------------------------------------------------------------

    @invariant()
    def same_state_and_invariants_hold(self) -> None:
        if self.engines is None:
            return
        ref, core = self.engines
        snapshots = ref.snapshot(), core.snapshot()
        assert snapshots[0] == snapshots[1], self.report(
            "snapshots differ", _first_difference(*snapshots), ""
        )
        bad = ref.check_invariants(), core.check_invariants()
        assert bad == ([], []), self.report("invariants fail", bad[0], bad[1])


def _first_difference(a: tuple[int, ...], b: tuple[int, ...]) -> str:
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"first difference at snapshot index {i}: {a[i : i + 8]} vs core {b[i : i + 8]}"


@pytest.mark.core
@pytest.mark.skipif(
    no_core(), reason=f"{NO_CORE_ENV} is set: lockstep compares the core with the model"
)
def test_engines_agree_in_lockstep() -> None:
    # Each engine is imported by its own name: a missing or stale core fails here.
    machine = type(
        "LockstepMachine", (Lockstep,), {"reference": REFERENCE.load(), "core": CORE.load()}
    )
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_a_divergence_is_caught() -> None:
    """The machine can fail: an engine that answers one step differently is
    reported with the program so far."""

    class Skewed:
        def __init__(self, profile: Profile, limits: Limits) -> None:
            self.inner = REFERENCE.load().Engine(profile, limits)

        def step(self, op: int, *rest: int) -> tuple[int, ...]:
            record = tuple(self.inner.step(op, *rest))
            return (record[0] + 1, *record[1:]) if op == Op.SOCKET else record

        def snapshot(self) -> tuple[int, ...]:
            return tuple(self.inner.snapshot())

        def check_invariants(self) -> list[str]:
            return list(self.inner.check_invariants())

    skewed = type("Skewed", (), {"Engine": Skewed})
    machine = type("SkewedMachine", (Lockstep,), {"reference": REFERENCE.load(), "core": skewed})
    quiet = settings(SETTINGS, max_examples=100, database=None, print_blob=False)
    with pytest.raises(AssertionError, match="step records differ") as caught:
        run_state_machine_as_test(machine, settings=quiet)
    assert "socket" in str(caught.value) and "@profile" in str(caught.value)
