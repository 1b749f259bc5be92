"""Running a program against a real implementation, step by step.

:class:`Session` is engine-neutral: it keeps the program's variables (real
handles, peers, operations), which threads are blocked, the port mapping and
the time policy, and turns each step into calls on a :class:`Backend` (the
Linux kernel through ctypes, or the Wine driver).  Each step's outcome comes
back as an :class:`~harness.conformance.Observation` in the model's vocabulary.

Mapping decisions (declared in each engine's ``Capabilities.notes``):
- ``bind S P``: the first bind of model port P takes an ephemeral real port;
  later binds of P use that same real port.
- ``connect S [window=N]`` connects to the engine's listener on 127.0.0.1;
  the accepted socket is the peer.  The window is not applied.
- A call by a blocked thread is ``rejected`` under version 2 without being
  made (nothing to compare); under version 1 the run stops (blocking hooks
  are not reproduced).
- Peer steps on a peer that is closed or never existed are not made either.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.conformance.engine import (
    COMPLETIONS,
    MESSAGES,
    OVERLAPPED,
    PEER,
    RESULTS,
    Capabilities,
    Observation,
    RealRun,
)
from harness.conformance.errnomap import error_text
from harness.conformance.model import (
    ROUTINE_NOT_RAN,
    ROUTINE_RAN,
    completion_text,
    count_text,
    message_text,
)
from harness.lang.program import Invalid, Program, Step, Var
from harness.lang.render import format_step
from harness.lang.syntax import OP_NAMES
from harness.vocab.constants import WSA_IO_PENDING, WSAEWOULDBLOCK, Mode, Op

#: The handle an INVALID_SOCKET argument passes (the backend encodes it).
INVALID_HANDLE = -1
#: (ret, err, extra1, extra2): what a call returned; ``err`` is a Winsock code.
Raw = tuple[int, int, int, int]
#: ("pending",) | ("done", bytes, event_set, routine_ran) | ("failed", err, event_set, ran)
OvlRaw = tuple[str, int, int, int]

#: Op -> the call name of the driver protocol and of Backend.call.
CALL_NAMES: dict[Op, str] = {
    Op.STARTUP: "startup",
    Op.CLEANUP: "cleanup",
    Op.SOCKET: "socket",
    Op.BIND: "bind",
    Op.CONNECT: "connect",
    Op.SETSOCKOPT_LINGER: "setlinger",
    Op.SETSOCKOPT_DONTLINGER: "setdontlinger",
    Op.GETSOCKOPT_LINGER: "getlinger",
    Op.GETSOCKOPT_DONTLINGER: "getdontlinger",
    Op.IOCTLSOCKET_FIONBIO: "fionbio",
    Op.SEND: "send",
    Op.RECV: "recv",
    Op.WSASEND: "wsasend",
    Op.WSARECV: "wsarecv",
    Op.SHUTDOWN: "shutdown",
    Op.ASYNCSELECT: "asyncselect",
    Op.DUPLICATE: "duplicate",
    Op.CLOSESOCKET: "closesocket",
    Op.CANCELBLOCKING: "cancelblocking",
    Op.GETLASTERROR: "getlasterror",
    Op.SLEEPEX: "sleepex",
}


class Stop(Exception):
    """The engine cannot go on with this program (the comparison ends here)."""


class EngineFailure(Exception):
    """The engine itself failed (a crashed or silent driver, a program past its time)."""


#: Messages: (handle, event, error) as WSAAsyncSelect posted them.
Message = tuple[int, int, int]


class Backend(Protocol):
    """The calls a real implementation offers the session."""

    def reset(self) -> None: ...
    def close(self) -> None: ...
    def call(
        self, thread: int, name: str, handle: int, x: tuple[int, int, int], wait: float
    ) -> Raw | None: ...
    def poll(self, wait: float, want: int = -1) -> list[tuple[int, Raw]]:
        """Blocked calls that completed: waits up to ``wait`` seconds until
        ``want`` of them did (-1: all blocked calls), then takes any others done."""
        ...

    def ovl(self, op_id: int, wait: float) -> OvlRaw:
        """An operation's state, allowing ``wait`` seconds for a pending one."""
        ...

    def messages(self, wait: float, want: int) -> list[Message]:
        """The WSAAsyncSelect messages posted since the last call, oldest first:
        waits up to ``wait`` seconds until ``want`` arrived (-1: the whole wait)."""
        ...

    def peer_port(self) -> int: ...
    def peer_accept(self, wait: float) -> int: ...
    def peer_recv(self, peer: int, n: int, wait: float) -> Raw: ...
    def peer_send(self, peer: int, n: int) -> Raw: ...
    def peer_close(self, peer: int, reset: bool) -> Raw: ...
    def foreign(self, handle: int) -> bool:
        """Whether ``handle`` is open but not the program's (reused by the harness)."""
        ...

    def leaked(self) -> int:
        """Threads of earlier programs that never returned (left behind)."""
        ...

    def quiet(self) -> bool:
        """Whether every blocked call surely stays blocked after the step just
        made (False: not known; the session then waits WAKE_GRACE)."""
        ...


def render_call(op: Op, raw: Raw, n: int) -> str:
    """A call's result in the model's vocabulary (counts by class)."""
    ret, err, e1, e2 = raw
    if op in (Op.SOCKET, Op.DUPLICATE):
        return "ok" if ret != -1 else f"INVALID_SOCKET {error_text(err)}"
    if op == Op.STARTUP:
        return error_text(ret) if ret else "0"
    if op == Op.GETLASTERROR:
        return error_text(ret) if ret else "0"
    if op == Op.SLEEPEX:
        return str(ret)
    if ret == -1:
        return f"SOCKET_ERROR {error_text(err)}"
    if op == Op.GETSOCKOPT_LINGER:
        return f"0 {{onoff={e1}, linger={e2}}}"
    if op == Op.GETSOCKOPT_DONTLINGER:
        return f"0 {e1}"
    if op in (Op.SEND, Op.RECV):
        return count_text(ret, n)
    return str(ret)


@dataclass
class _State:
    #: variable -> (real handle, the generation of that handle it was bound in)
    handles: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: real handle -> its current generation (bumped when a socket/duplicate returns it)
    generation: dict[int, int] = field(default_factory=dict)
    peers: dict[str, int] = field(default_factory=dict)
    closed_peers: set[int] = field(default_factory=set)
    ops: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # id, mode, N
    blocked: dict[int, tuple[str, int]] = field(default_factory=dict)  # thread -> call, N
    version: int = 0
    ports: dict[int, int] = field(default_factory=dict)
    #: an asyncselect was made: messages are drained after every step
    registered: bool = False
    #: messages drained and not yet taken by a getmessage step
    queue: deque[Message] = field(default_factory=deque)
    #: real handle -> the variable last bound to it (how messages name descriptors)
    names: dict[int, str] = field(default_factory=dict)
    dgram: set[str] = field(default_factory=set)
    #: threads whose last error the real side does not know: their last call was
    #: not made (rejected, or on a descriptor that is not the program's)
    unknown_error: set[int] = field(default_factory=set)
    #: the current step's variable names a reused descriptor (Observation.reused)
    reused: bool = False
    #: real handles whose connection has its peer accepted
    connected: set[int] = field(default_factory=set)


_NO_EXPECT = Observation(None)
#: Steps that can wake a blocked call: after one, a call the model does not
#: expect to complete still gets WAKE_GRACE seconds to show that it did, so a
#: completion is reported at the step that caused it, not at the next one.
WAKERS = frozenset(
    {
        Op.SHUTDOWN, Op.CLOSESOCKET, Op.CLEANUP, Op.CANCELBLOCKING, Op.PEER_SEND,
        Op.PEER_RECV, Op.PEER_CLOSE, Op.PEER_RESET,
    }
)  # fmt: skip
WAKE_GRACE = 0.02
#: Wakers whose effect reaches the program's socket over the network, maybe
#: after the step returns: after one, the grace is always waited.  After the
#: others (made on the program's sockets, or reading the peer's side) a backend
#: that can tell (Backend.quiet) lets the session skip it.
NETWORK_WAKERS = frozenset({Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET})


class Session:
    """Runs programs on one backend under one set of capabilities."""

    def __init__(self, backend: Backend, caps: Capabilities) -> None:
        self.backend = backend
        self.caps = caps

    def run(
        self,
        program: Program,
        limit: int,
        expect: Sequence[Observation] | None = None,
        timeout: float | None = None,
        exact: bool = False,
    ) -> RealRun:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.backend.reset()
        except EngineFailure as exc:
            return RealRun((), (0, f"engine failed before line 1: {exc}"), failed=True)
        state = _State()
        observations: list[Observation] = []
        stopped: tuple[int, str] | None = None
        failed = False
        for i, step in enumerate(program.steps[:limit]):
            if deadline is not None and time.monotonic() > deadline:
                stopped = (
                    i,
                    f"timed out: the program took more than {timeout:g} s "
                    f"(before line {step.line}, `{format_step(step)}`)",
                )
                failed = True
                break
            hint = expect[i] if expect is not None and i < len(expect) else None
            try:
                observations.append(self._step(step, state, hint))
                if (
                    exact
                    and hint is not None
                    and differs(step.op, hint, observations[-1], self.caps)
                ):
                    stopped = (
                        i + 1,
                        f"the run stopped after the first difference (line {step.line})",
                    )
                    break
            except Stop as exc:
                stopped = (i, f"{exc} (line {step.line})")
                break
            except EngineFailure as exc:
                stopped = (i, f"engine failed at line {step.line} (`{format_step(step)}`): {exc}")
                failed = True
                break
        return RealRun(tuple(observations), stopped, failed, len(state.blocked))

    # --- one step ----------------------------------------------------------------

    def _step(self, step: Step, st: _State, hint: Observation | None) -> Observation:
        why = self.caps.why_not(step, st.dgram)
        if why is not None:
            raise Stop(f"unsupported step `{format_step(step)}`: {why}")
        track_datagrams(step, st.dgram)
        st.reused = False
        want = hint or _NO_EXPECT
        if step.thread is not None:
            result = self._call(step, st, hint)
        elif step.op in (Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET):
            result = self._peer(step, st, hint)
        elif step.op == Op.OVL:
            result = self._ovl(step, st, hint)
        elif step.op == Op.ADVANCE:
            result = self._advance(step, st)
        else:
            raise Stop(f"unsupported step `{format_step(step)}`")
        comps: list[str] = []
        if st.blocked:
            n = -1 if hint is None else len(want.completions)
            wait = self.caps.settle if n != 0 else WAKE_GRACE if self._may_wake(step) else 0.0
            if n == 0 and wait:
                # the grace is for completions nobody expects: wait for any (a
                # want of 0 would return at once, and a late wake would show at a
                # later, unrelated step: "does not reproduce", docs/conformance.md)
                n = -1
            for thread, raw in self.backend.poll(wait, n):
                call, count = st.blocked.pop(thread)
                comps.append(completion_text(thread, call, raw[0], raw[1], {thread: count}))
        messages: tuple[str, ...] = ()
        if st.registered:
            got = self._drain(st, -1 if hint is None else len(want.messages))
            messages = tuple(self._message_name(m, st) for m in got)
        return Observation(result, tuple(sorted(comps)), messages, st.reused)

    def _may_wake(self, step: Step) -> bool:
        """Whether ``step`` may have woken a blocked call the model keeps blocked."""
        if step.op not in WAKERS:
            return False
        return step.op in NETWORK_WAKERS or not self.backend.quiet()

    def _drain(self, st: _State, want: int) -> list[Message]:
        got = self.backend.messages(self.caps.settle if want != 0 else 0.0, want)
        st.queue.extend(got)
        return got

    def _call(self, step: Step, st: _State, hint: Observation | None) -> str | None:
        op, thread = step.op, step.thread
        assert thread is not None
        if thread in st.blocked:
            if st.version == 1:
                raise Stop(f"t{thread} calls while blocked under version 1 (blocking hooks)")
            self._bind(step, st, -1 if op in (Op.SOCKET, Op.DUPLICATE) else 0)
            st.unknown_error.add(thread)
            return None
        if op == Op.GETMESSAGE:
            return self._message(st, hint)
        if op == Op.GETLASTERROR and thread in st.unknown_error:
            return None
        handle = self._handle(step, st)
        if handle is not None and handle != INVALID_HANDLE and self.backend.foreign(handle):
            self._bind(step, st, -1 if op == Op.DUPLICATE else 0)
            st.unknown_error.add(thread)
            st.reused = True
            return None  # a released descriptor the harness process reused: not the program's
        if op not in self.caps.synthesized:
            st.unknown_error.discard(thread)
        args = (*step.args, 0, 0, 0)
        x = (args[0], args[1], args[2])
        if op == Op.BIND:
            x = (st.ports.get(args[0], 0), 0, 0)
        elif op == Op.CONNECT:
            x = (self.backend.peer_port(), 0, 0)
        elif op == Op.SLEEPEX:
            # grace for routines still in flight, when the model says some ran
            expects_run = hint is None or hint.result != "0"
            x = (int(self.caps.settle * 1000) if expects_run else 0, 0, 0)
        elif op == Op.STARTUP and args[0] > 0:
            st.version = 1 if args[0] == 1 else 2
        elif op == Op.ASYNCSELECT:
            st.registered = True
        expects_block = hint is not None and hint.result == "blocked"
        wait = self.caps.block_confirm if expects_block else self.caps.block_wait
        raw = self.backend.call(thread, CALL_NAMES[op], handle or 0, x, wait)
        n = args[0] if op in (Op.SEND, Op.RECV) else 0
        if raw is None:
            st.blocked[thread] = (OP_NAMES[op], n)
            self._bind(step, st, -1 if op in (Op.SOCKET, Op.DUPLICATE) else 0)
            return "blocked"
        self._after_call(step, st, raw)
        return None if op in self.caps.synthesized else render_call(op, raw, n)

    def _after_call(self, step: Step, st: _State, raw: Raw) -> None:
        op, (ret, err, e1, _) = step.op, raw
        if op in (Op.SOCKET, Op.DUPLICATE):
            if ret != -1:
                st.generation[ret] = st.generation.get(ret, 0) + 1
                st.connected.discard(ret)
                if step.bind is not None:
                    st.names[ret] = step.bind
            self._bind(step, st, ret)
        elif op == Op.BIND and ret == 0 and step.args[0] not in st.ports:
            st.ports[step.args[0]] = e1
        elif op == Op.CONNECT:
            # a new connection: accept its peer (a nonblocking connect's handshake
            # completes on loopback at once); a connect that fails, or one on a
            # socket that already has its peer, makes none
            handle = self._handle(step, st)
            new = ret == 0 or (ret == -1 and err == WSAEWOULDBLOCK)
            peer = 0
            if new and handle is not None and handle not in st.connected:
                peer = self.backend.peer_accept(self.caps.block_wait)
                if peer:
                    st.connected.add(handle)
            self._bind(step, st, peer)
        elif op in (Op.WSASEND, Op.WSARECV):
            ok = ret == 0 or (ret == -1 and err == WSA_IO_PENDING)
            assert step.bind is not None
            st.ops[step.bind] = (e1 if ok else 0, step.args[1], step.args[0])

    def _message(self, st: _State, hint: Observation | None) -> str:
        if not st.queue:
            expects = hint is None or hint.result != "none"
            self._drain(st, 1 if expects else 0)
        if not st.queue:
            return "none"
        return self._message_name(st.queue.popleft(), st)

    @staticmethod
    def _message_name(msg: Message, st: _State) -> str:
        handle, event, err = msg
        return message_text(event, st.names.get(handle, f"#{handle}"), err)

    def _handle(self, step: Step, st: _State) -> int | None:
        """The real handle of the step's target (None: no target).  A variable
        whose descriptor was closed and whose number a later socket took names
        that socket now, as in a real program; the step is marked reused."""
        t = step.target
        if isinstance(t, Var):
            bound = st.handles.get(t.name)
            if bound is None:
                return INVALID_HANDLE
            handle, gen = bound
            if handle != INVALID_HANDLE and st.generation.get(handle, 0) != gen:
                st.reused = True  # a later socket took the number: the call reaches it
            return handle
        if isinstance(t, Invalid):
            return INVALID_HANDLE
        if t is None:
            return None
        raise Stop(f"unsupported raw descriptor in `{format_step(step)}`")

    @staticmethod
    def _bind(step: Step, st: _State, value: int) -> None:
        if step.bind is None:
            return
        if step.op in (Op.SOCKET, Op.DUPLICATE):
            st.handles[step.bind] = (value, st.generation.get(value, 0))
        elif step.op == Op.CONNECT:
            st.peers[step.bind] = value
        else:
            st.ops[step.bind] = (0, 0, 0)

    def _peer(self, step: Step, st: _State, hint: Observation | None) -> str | None:
        assert isinstance(step.target, Var)
        peer = st.peers.get(step.target.name, 0)
        if peer == 0 or peer in st.closed_peers:
            return None  # the model's "no such peer / closed": nothing real to call
        n = step.args[0] if step.args else 0
        if step.op == Op.PEER_RECV:
            nothing = hint is not None and hint.result == "SOCKET_ERROR WSAEWOULDBLOCK"
            raw = self.backend.peer_recv(peer, n, 0.0 if nothing else self.caps.settle)
        elif step.op == Op.PEER_SEND:
            raw = self.backend.peer_send(peer, n)
        else:
            raw = self.backend.peer_close(peer, step.op == Op.PEER_RESET)
            st.closed_peers.add(peer)
        if raw[0] == -1:
            return f"SOCKET_ERROR {error_text(raw[1])}"
        return count_text(raw[0], n) if step.op in (Op.PEER_RECV, Op.PEER_SEND) else str(raw[0])

    def _ovl(self, step: Step, st: _State, hint: Observation | None) -> str | None:
        assert isinstance(step.target, Var)
        op_id, mode, n = st.ops.get(step.target.name, (0, 0, 0))
        if op_id == 0:
            return None
        pending = hint is not None and hint.result == "pending"
        status, value, event_set, ran = self.backend.ovl(
            op_id, 0.0 if pending else self.caps.settle
        )
        if status == "pending":
            return "pending"
        if mode == Mode.ROUTINE:
            note = ROUTINE_RAN if ran else ROUTINE_NOT_RAN
        else:
            note = "signaled" if event_set else "unsignaled"
        shown = count_text(value, n) if status == "done" else error_text(value)
        return f"{status} {shown} {note}"

    def _advance(self, step: Step, st: _State) -> str | None:
        ms = step.args[0]
        if any(call == "closesocket" for call, _ in st.blocked.values()):
            if ms > self.caps.max_sleep_ms:
                raise Stop(
                    f"advance {ms} while a closesocket is blocked: longer than the "
                    f"{self.caps.max_sleep_ms} ms this engine sleeps"
                )
            time.sleep(ms / 1000)
        return None


_PEER_OPS = frozenset({Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET})


def differs(op: Op, want: Observation, got: Observation, caps: Capabilities) -> bool:
    """Whether a step's observation differs from the model's on what the engine
    compares (the same test as harness.conformance.compare)."""
    category = PEER if op in _PEER_OPS else OVERLAPPED if op in (Op.OVL, Op.SLEEPEX) else RESULTS
    if category in caps.observables and None not in (want.result, got.result):
        if want.result != got.result:
            return True
    if COMPLETIONS in caps.observables and want.completions != got.completions:
        return True
    if MESSAGES in caps.observables and want.messages != got.messages:
        return True
    return want.reused != got.reused


def unsupported(program: Program, caps: Capabilities) -> tuple[Step, str] | None:
    """The first step the engine cannot run, with the reason (None if all can run)."""
    found = first_unsupported(program, caps)
    return None if found is None else (found[1], found[2])


def first_unsupported(program: Program, caps: Capabilities) -> tuple[int, Step, str] | None:
    """The first step the engine cannot run (its index, the step, the reason),
    or None if it can run them all.  The comparison ends before that step."""
    dgram: set[str] = set()
    for i, step in enumerate(program.steps):
        why = caps.why_not(step, dgram)
        if why is not None:
            text = f"unsupported step `{format_step(step)}` at line {step.line}"
            return i, step, f"{text}: {why}" if why != "not an operation of this engine" else text
        track_datagrams(step, dgram)
    return None


def track_datagrams(step: Step, dgram: set[str]) -> None:
    """Keep ``dgram`` (the variables bound to datagram sockets) up to date after ``step``."""
    if step.bind and step.op in (Op.SOCKET, Op.DUPLICATE):
        source = step.target.name if isinstance(step.target, Var) else ""
        if (step.op == Op.SOCKET and step.args[0] == 2) or source in dgram:
            dgram.add(step.bind)
        else:
            dgram.discard(step.bind)


class SessionEngine(Session):
    """An external engine: a :class:`Session` over its backend, under its capabilities."""

    name: str
    capabilities: Capabilities

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend, self.capabilities)

    def leaked_threads(self) -> int:
        """Threads of earlier programs still blocked in a call that never returned."""
        return self.backend.leaked()

    def close(self) -> None:
        self.backend.close()
