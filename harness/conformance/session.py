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
from dataclasses import dataclass, field
from typing import Protocol

from harness.conformance.engine import Capabilities, Observation, RealRun
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
from harness.vocab.constants import WSA_IO_PENDING, Mode, Op

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
    """The engine cannot go on with this program (a skip, not a failure)."""


class EngineFailure(Exception):
    """The engine itself failed (a crashed or silent driver)."""


class Backend(Protocol):
    """The calls a real implementation offers the session."""

    def reset(self) -> None: ...
    def close(self) -> None: ...
    def call(
        self, thread: int, name: str, handle: int, x: tuple[int, int, int], wait: float
    ) -> Raw | None: ...
    def poll(self, wait: float) -> list[tuple[int, Raw]]: ...
    def ovl(self, op_id: int, wait: float) -> OvlRaw:
        """An operation's state, allowing ``wait`` seconds for a pending one."""
        ...

    def getmessage(self, wait: float) -> tuple[int, int, int] | None:
        """The oldest WSAAsyncSelect message (handle, event, error), or None."""
        ...

    def peer_port(self) -> int: ...
    def peer_accept(self, wait: float) -> int: ...
    def peer_recv(self, peer: int, n: int, wait: float) -> Raw: ...
    def peer_send(self, peer: int, n: int) -> Raw: ...
    def peer_close(self, peer: int, reset: bool) -> Raw: ...
    def foreign(self, handle: int) -> bool:
        """Whether ``handle`` is open but not the program's (reused by the harness)."""
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
    handles: dict[str, int] = field(default_factory=dict)
    peers: dict[str, int] = field(default_factory=dict)
    closed_peers: set[int] = field(default_factory=set)
    ops: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # id, mode, N
    blocked: dict[int, tuple[str, int]] = field(default_factory=dict)  # thread -> call, N
    version: int = 0
    ports: dict[int, int] = field(default_factory=dict)


class Session:
    """Runs programs on one backend under one set of capabilities."""

    def __init__(self, backend: Backend, caps: Capabilities) -> None:
        self.backend = backend
        self.caps = caps

    def run(self, program: Program, limit: int) -> RealRun:
        try:
            self.backend.reset()
        except EngineFailure as exc:
            return RealRun((), (0, f"engine failed: {exc}"), failed=True)
        state = _State()
        observations: list[Observation] = []
        for i, step in enumerate(program.steps[:limit]):
            try:
                observations.append(self._step(step, state))
            except Stop as exc:
                return RealRun(tuple(observations), (i, f"{exc} (line {step.line})"))
            except EngineFailure as exc:
                return RealRun(tuple(observations), (i, f"engine failed: {exc}"), failed=True)
        return RealRun(tuple(observations))

    # --- one step ----------------------------------------------------------------

    def _step(self, step: Step, st: _State) -> Observation:
        if step.thread is not None:
            result = self._call(step, st)
        elif step.op in (Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET):
            result = self._peer(step, st)
        elif step.op == Op.OVL:
            result = self._ovl(step, st)
        elif step.op == Op.ADVANCE:
            result = self._advance(step, st)
        else:
            raise Stop(f"unsupported step `{format_step(step)}`")
        comps: list[str] = []
        if st.blocked:
            for thread, raw in self.backend.poll(self.caps.settle):
                call, n = st.blocked.pop(thread)
                comps.append(completion_text(thread, call, raw[0], raw[1], {thread: n}))
        return Observation(result, tuple(sorted(comps)))

    def _call(self, step: Step, st: _State) -> str | None:
        op, thread = step.op, step.thread
        assert thread is not None
        if thread in st.blocked:
            if st.version == 1:
                raise Stop(f"t{thread} calls while blocked under version 1 (blocking hooks)")
            self._bind(step, st, -1 if op in (Op.SOCKET, Op.DUPLICATE) else 0)
            return None
        if op == Op.GETMESSAGE:
            return self._message(st)
        handle = self._handle(step, st)
        if handle is not None and handle != INVALID_HANDLE and self.backend.foreign(handle):
            self._bind(step, st, -1 if op == Op.DUPLICATE else 0)
            return None  # a released descriptor the harness process reused: not the program's
        args = (*step.args, 0, 0, 0)
        x = (args[0], args[1], args[2])
        if op == Op.BIND:
            x = (st.ports.get(args[0], 0), 0, 0)
        elif op == Op.CONNECT:
            x = (self.backend.peer_port(), 0, 0)
        elif op == Op.SLEEPEX:
            x = (int(self.caps.settle * 1000), 0, 0)  # grace for routines still in flight
        elif op == Op.STARTUP and args[0] > 0:
            st.version = 1 if args[0] == 1 else 2
        raw = self.backend.call(thread, CALL_NAMES[op], handle or 0, x, self.caps.block_wait)
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
            self._bind(step, st, ret)
        elif op == Op.BIND and ret == 0 and step.args[0] not in st.ports:
            st.ports[step.args[0]] = e1
        elif op == Op.CONNECT:
            wait = self.caps.block_wait if ret == 0 else 0.0
            self._bind(step, st, self.backend.peer_accept(wait))
        elif op in (Op.WSASEND, Op.WSARECV):
            ok = ret == 0 or (ret == -1 and err == WSA_IO_PENDING)
            assert step.bind is not None
            st.ops[step.bind] = (e1 if ok else 0, step.args[1], step.args[0])

    def _message(self, st: _State) -> str:
        msg = self.backend.getmessage(self.caps.settle)
        if msg is None:
            return "none"
        handle, event, err = msg
        names = [v for v, h in st.handles.items() if h == handle]
        return message_text(event, names[-1] if names else f"#{handle}", err)

    def _handle(self, step: Step, st: _State) -> int | None:
        t = step.target
        if isinstance(t, Var):
            return st.handles.get(t.name, INVALID_HANDLE)
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
            st.handles[step.bind] = value
        elif step.op == Op.CONNECT:
            st.peers[step.bind] = value
        else:
            st.ops[step.bind] = (0, 0, 0)

    def _peer(self, step: Step, st: _State) -> str | None:
        assert isinstance(step.target, Var)
        peer = st.peers.get(step.target.name, 0)
        if peer == 0 or peer in st.closed_peers:
            return None  # the model's "no such peer / closed": nothing real to call
        n = step.args[0] if step.args else 0
        if step.op == Op.PEER_RECV:
            raw = self.backend.peer_recv(peer, n, self.caps.settle)
        elif step.op == Op.PEER_SEND:
            raw = self.backend.peer_send(peer, n)
        else:
            raw = self.backend.peer_close(peer, step.op == Op.PEER_RESET)
            st.closed_peers.add(peer)
        if raw[0] == -1:
            return f"SOCKET_ERROR {error_text(raw[1])}"
        return count_text(raw[0], n) if step.op in (Op.PEER_RECV, Op.PEER_SEND) else str(raw[0])

    def _ovl(self, step: Step, st: _State) -> str | None:
        assert isinstance(step.target, Var)
        op_id, mode, n = st.ops.get(step.target.name, (0, 0, 0))
        if op_id == 0:
            return None
        status, value, event_set, ran = self.backend.ovl(op_id, self.caps.settle)
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


def unsupported(program: Program, caps: Capabilities) -> tuple[Step, str] | None:
    """The first step the engine cannot run, with the reason (None if all can run)."""
    dgram: set[str] = set()
    for step in program.steps:
        text = f"unsupported step `{format_step(step)}` at line {step.line}"
        if step.op not in caps.ops:
            return step, text
        if step.thread is not None and step.thread not in caps.threads:
            return step, f"{text}: thread t{step.thread} (process p1) is out of scope"
        if step.op == Op.SOCKET and step.args[0] == 2 and step.bind:
            dgram.add(step.bind)
        target = step.target
        if step.op == Op.DUPLICATE and step.args[0] != 0:
            return step, f"{text}: only duplicates into the same process (pid 0)"
        if step.op == Op.DUPLICATE and isinstance(target, Var) and target.name in dgram:
            dgram.add(step.bind or "")
        if step.thread is not None and target is not None and not isinstance(target, Var | Invalid):
            return step, f"{text}: raw descriptor values have no real counterpart"
        transfer = (Op.CONNECT, Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV)
        if step.op in transfer and isinstance(target, Var) and target.name in dgram:
            return step, f"{text}: datagram transfer is a model restriction"
        if step.op in (Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV, Op.PEER_RECV, Op.PEER_SEND):
            if step.args[0] > caps.max_count:
                return step, f"{text}: counts above {caps.max_count} bytes"
    return None


class SessionEngine:
    """An external engine made of a backend driven by a :class:`Session`."""

    name: str
    capabilities: Capabilities

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._session = Session(backend, self.capabilities)

    def run(self, program: Program, limit: int) -> RealRun:
        return self._session.run(program, limit)

    def close(self) -> None:
        self._backend.close()
