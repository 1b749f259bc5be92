"""The Hypothesis anchor: a lockstep ``RuleBasedStateMachine`` over the calls.

This is how a Python user would test the core without the harness: one rule
per call, Bundles for descriptors, peers and overlapped operations, both
engines driven through their stepwise API (docs/engines.md) in lockstep, each
step's result and events compared, and the final snapshots compared at
teardown (the same observables as the differential oracle).  Strategies are
the plain ones such a user would write; the limits come from the binary
form's presets, so both tools see the same worlds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule

from harness.lang.encoding import LIMIT_PRESETS
from harness.vocab.constants import FD_CLOSE, FD_READ, FD_WRITE, MAX_U31, Mode, Op, SockType
from harness.vocab.profiles import Profile


class Divergence(AssertionError):
    """The two engines disagreed."""


class BudgetOver(Exception):
    """The trial's time is up: raised at the start of a new test case."""


threads = st.integers(0, 3)
counts = st.integers(0, MAX_U31)
masks = st.sets(st.sampled_from([FD_READ, FD_WRITE, FD_CLOSE])).map(sum)
modes = st.sampled_from([int(Mode.EVENT), int(Mode.ROUTINE)])


def lockstep_machine(
    core: ModuleType,
    reference: ModuleType,
    profile: Profile,
    deadline: float,
    on_case: Callable[[], None],
    on_divergence: Callable[[str], None],
) -> type[RuleBasedStateMachine]:
    """A machine class comparing ``core`` with ``reference`` under ``profile``.

    ``on_case`` is called once per test case (program), ``on_divergence``
    with a description at the first disagreement; at ``deadline``
    (``time.monotonic``) a new test case raises :class:`BudgetOver`."""

    class Lockstep(RuleBasedStateMachine):
        descriptors = Bundle("descriptors")
        peers = Bundle("peers")
        ops = Bundle("ops")

        def __init__(self) -> None:
            if time.monotonic() >= deadline:
                raise BudgetOver()
            super().__init__()
            on_case()
            self.engines: tuple[Any, Any] | None = None
            self.log: list[str] = []

        def _step(self, op: Op, thread: int, target: int = 0, *args: int) -> int:
            x = (*args, 0, 0, 0)[:3]
            assert self.engines is not None
            a = self.engines[0].step(int(op), thread, target, *x)
            b = self.engines[1].step(int(op), thread, target, *x)
            self.log.append(f"{op.name.lower()} t{thread} target={target} args={x}")
            if a != b:
                text = f"step {len(self.log)} {self.log[-1]}: reference {a} != core {b}"
                on_divergence(text)
                raise Divergence(text)
            return int(a[0])

        @initialize(limits=st.sampled_from(LIMIT_PRESETS))
        def start(self, limits: Any) -> None:
            self.engines = (reference.Engine(profile, limits), core.Engine(profile, limits))
            self._step(Op.STARTUP, 0, 0, 2, 2)
            self._step(Op.STARTUP, 2, 0, 2, 2)

        def teardown(self) -> None:
            if self.engines is None:
                return
            a, b = self.engines[0].snapshot(), self.engines[1].snapshot()
            if a != b:
                text = "final snapshots differ"
                on_divergence(text)
                raise Divergence(text)

        # --- lifecycle and options
        @rule(t=threads, major=st.integers(0, 3), minor=st.integers(0, 3))
        def startup(self, t: int, major: int, minor: int) -> None:
            self._step(Op.STARTUP, t, 0, major, minor)

        @rule(t=threads)
        def cleanup(self, t: int) -> None:
            self._step(Op.CLEANUP, t)

        @rule(target=descriptors, t=threads, kind=st.sampled_from(list(SockType)))
        def socket(self, t: int, kind: SockType) -> int:
            return self._step(Op.SOCKET, t, 0, int(kind))

        @rule(t=threads, s=descriptors, port=st.integers(1, 8))
        def bind(self, t: int, s: int, port: int) -> None:
            self._step(Op.BIND, t, s, port)

        @rule(target=peers, t=threads, s=descriptors, window=st.none() | counts)
        def connect(self, t: int, s: int, window: int | None) -> int:
            return self._step(Op.CONNECT, t, s, -1 if window is None else window)

        @rule(t=threads, s=descriptors, onoff=st.integers(0, 65535), secs=st.integers(0, 65535))
        def setsockopt_linger(self, t: int, s: int, onoff: int, secs: int) -> None:
            self._step(Op.SETSOCKOPT_LINGER, t, s, onoff, secs)

        @rule(t=threads, s=descriptors, value=st.integers(0, 255))
        def setsockopt_dontlinger(self, t: int, s: int, value: int) -> None:
            self._step(Op.SETSOCKOPT_DONTLINGER, t, s, value)

        @rule(t=threads, s=descriptors, dont=st.booleans())
        def getsockopt(self, t: int, s: int, dont: bool) -> None:
            self._step(Op.GETSOCKOPT_DONTLINGER if dont else Op.GETSOCKOPT_LINGER, t, s)

        @rule(t=threads, s=descriptors, value=st.integers(0, 1))
        def fionbio(self, t: int, s: int, value: int) -> None:
            self._step(Op.IOCTLSOCKET_FIONBIO, t, s, value)

        @rule(t=threads, s=descriptors, how=st.integers(0, 3))
        def shutdown(self, t: int, s: int, how: int) -> None:
            self._step(Op.SHUTDOWN, t, s, how)

        @rule(t=threads, s=descriptors, mask=masks)
        def asyncselect(self, t: int, s: int, mask: int) -> None:
            self._step(Op.ASYNCSELECT, t, s, mask)

        @rule(target=descriptors, t=threads, s=descriptors, pid=st.integers(0, 2))
        def duplicate(self, t: int, s: int, pid: int) -> int:
            return self._step(Op.DUPLICATE, t, s, pid)

        @rule(t=threads, s=descriptors | st.sampled_from([-1, 4, 8]))
        def closesocket(self, t: int, s: int) -> None:
            self._step(Op.CLOSESOCKET, t, s)

        # --- data transfer
        @rule(t=threads, s=descriptors, n=counts, receive=st.booleans())
        def send_or_recv(self, t: int, s: int, n: int, receive: bool) -> None:
            self._step(Op.RECV if receive else Op.SEND, t, s, n)

        @rule(target=ops, t=threads, s=descriptors, n=counts, mode=modes, receive=st.booleans())
        def overlapped(self, t: int, s: int, n: int, mode: int, receive: bool) -> int:
            return self._step(Op.WSARECV if receive else Op.WSASEND, t, s, n, mode)

        @rule(o=ops)
        def ovl(self, o: int) -> None:
            self._step(Op.OVL, -1, o)

        # --- thread-only calls
        @rule(t=threads, op=st.sampled_from([Op.CANCELBLOCKING, Op.GETLASTERROR, Op.GETMESSAGE,
                                             Op.SLEEPEX]))  # fmt: skip
        def thread_call(self, t: int, op: Op) -> None:
            self._step(op, t)

        # --- environment and peer
        @rule(ms=counts)
        def advance(self, ms: int) -> None:
            self._step(Op.ADVANCE, -1, 0, ms)

        @rule(up=st.booleans())
        def network(self, up: bool) -> None:
            self._step(Op.NET_UP if up else Op.NET_DOWN, -1)

        @rule(c=peers, n=counts, send=st.booleans())
        def peer_data(self, c: int, n: int, send: bool) -> None:
            self._step(Op.PEER_SEND if send else Op.PEER_RECV, -1, c, n)

        @rule(c=peers, reset=st.booleans())
        def peer_end(self, c: int, reset: bool) -> None:
            self._step(Op.PEER_RESET if reset else Op.PEER_CLOSE, -1, c)

    return Lockstep
