"""A stepwise Winsock stack for library use: one method per call.

:class:`Stack` drives one engine through its stepwise API
(``Engine.step``, docs/engines.md), one program step per method call, so it
can stand in for a Winsock stack as a deterministic test double::

    stack = Stack(profile="windows", engine="reference")
    stack.startup(2, 2)
    s = stack.socket("stream")          # binds s1
    c = stack.connect(s, window=100)    # binds c1, the peer
    stack.send(s, 300)
    stack.setsockopt_linger(s, 1, 5)
    stack.closesocket(s).text           # 'blocked'
    stack.advance(5000).events          # ('c1 reset', 'socket 1 destroyed', 't0 closesocket -> 0')
    print(stack.program())              # the whole session as a .wsa file, with expectations

Every step is written as a program line and read by the program parser
(:class:`harness.lang.parser.StepParser`), so arguments are checked exactly as in a
``.wsa`` file: a bad one raises :class:`harness.vocab.errors.ProgramError`
(``<stack>:N: message``, N being the step's number) and changes nothing.
Winsock failures are results, never exceptions.

Variables are bound as in a program: ``socket`` and ``duplicate`` bind
``s1, s2, ...``, ``connect`` binds ``c1, ...`` (the peer), ``wsasend`` and
``wsarecv`` bind ``o1, ...``.  A descriptor argument is the
:class:`StepResult` of the step that bound it, a variable name (``"s1"``), a
raw descriptor value (an int, or ``"#12"``), or ``"INVALID_SOCKET"``.  Peers
and operations are passed as their StepResult or variable name.  Results and
events are rendered exactly as ``wsa-harness run`` prints them, with
operation and peer ids shown as the variables that bound them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.engines import EngineObject, default_engine, load_engine
from harness.lang.program import Expect, Program, Raw, Step, Var, lower
from harness.lang.render import format_program, format_step
from harness.vocab import trace
from harness.vocab.constants import FD_NAMES, INVALID_SOCKET, SOCKET_ERROR
from harness.vocab.profiles import DEFAULT_LIMITS, Limits, Profile

__all__ = ["Stack", "StepResult"]

_KINDS = {
    trace.R_VALUE: "value",
    trace.R_SOCKET_ERROR: "socket_error",
    trace.R_INVALID_SOCKET: "invalid_socket",
    trace.R_DIRECT: "direct",
    trace.R_LINGER: "linger",
    trace.R_DONTLINGER: "dontlinger",
    trace.R_LASTERROR: "lasterror",
    trace.R_MESSAGE: "message",
    trace.R_NONE: "none",
    trace.R_BLOCKED: "blocked",
    trace.R_REJECTED: "rejected",
    trace.R_OK: "ok",
    trace.R_OVL_PENDING: "pending",
    trace.R_OVL_DONE: "done",
    trace.R_OVL_FAILED: "failed",
}


@dataclass(frozen=True)
class StepResult:
    """What one step did.

    ``text`` is the result as a program prints it after ``->``; ``events`` are
    the step's ``!`` lines.  ``value`` is the call's return value where it has
    one: a count or descriptor value, ``-1`` (SOCKET_ERROR),
    ``harness.vocab.constants.INVALID_SOCKET``, ``startup``'s direct error return,
    ``0`` for getsockopt, the code for ``getlasterror``, the byte count of a
    ``done`` operation; None for ``blocked``, ``rejected``, ``ok``,
    ``none``, ``pending``, ``failed`` and a message.  ``error`` and ``code``
    name the error the result shows (None and 0 when it shows none).
    """

    #: the step's number in :meth:`Stack.program`
    number: int
    #: the step's text, ``t0: s1 = socket stream``
    step: str
    #: the result's kind: value, socket_error, invalid_socket, direct, linger,
    #: dontlinger, lasterror, message, none, blocked, rejected, ok, pending, done, failed
    kind: str
    text: str
    value: int | None
    error: str | None
    code: int
    events: tuple[str, ...]
    #: the variable the step bound (``s1``, ``c1``, ``o1``), or None
    var: str | None
    #: the value bound to ``var``: a descriptor value (-1: INVALID_SOCKET),
    #: a peer id or an operation id (0: none); 0 for steps that bind nothing
    bound: int
    #: the canonical result (kind number and three fields, harness.vocab.trace)
    result: tuple[int, int, int, int]

    @property
    def failed(self) -> bool:
        """Whether the call failed (SOCKET_ERROR, INVALID_SOCKET, a direct error,
        a failed operation)."""
        return self.kind in ("socket_error", "invalid_socket", "direct", "failed")

    def __str__(self) -> str:
        """The step as a program line with its expectation and events."""
        head = f"{self.step:<32} -> {self.text}"
        return "\n".join([head, *(f"  ! {e}" for e in self.events)])


#: A descriptor, peer or operation argument (see the module docstring).
Handle = StepResult | str | int


def _value_and_code(result: tuple[int, int, int, int]) -> tuple[int | None, int]:
    kind, a, _, c = result
    if kind == trace.R_VALUE:
        return a, 0
    if kind == trace.R_SOCKET_ERROR:
        return SOCKET_ERROR, a
    if kind == trace.R_INVALID_SOCKET:
        return INVALID_SOCKET, a
    if kind == trace.R_DIRECT:
        return a, a
    if kind in (trace.R_LINGER, trace.R_DONTLINGER):
        return 0, 0
    if kind == trace.R_LASTERROR:
        return a, a
    if kind == trace.R_MESSAGE:
        return None, c
    if kind == trace.R_OVL_DONE:
        return a, 0
    if kind == trace.R_OVL_FAILED:
        return None, a
    return None, 0


class Stack:
    """A Winsock stack under one profile, driven one call at a time.

    ``profile`` is a Profile or a profile name (default ``documented``),
    ``engine`` is ``reference`` or ``core`` (default: the core unless
    ``WSA_HARNESS_NO_CORE=1``), ``limits`` the system limits.
    """

    def __init__(
        self,
        profile: Profile | str | None = None,
        engine: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        from harness.api import resolve_profile
        from harness.lang.parser import StepParser

        self.profile = resolve_profile(profile)
        self.engine_name = engine or default_engine()
        self.limits = limits or DEFAULT_LIMITS
        module = load_engine(self.engine_name)
        self._engine: EngineObject = module.Engine(self.profile, self.limits)
        self._parser = StepParser("<stack>")
        self._values: dict[str, int] = {}
        self._op_vars: dict[int, str] = {}
        self._peer_vars: dict[int, str] = {}
        self._steps: list[Step] = []
        self.results: list[StepResult] = []

    # --- the generic step ---------------------------------------------------------

    def execute(self, line: str | Step) -> StepResult:
        """Run one program line (``t0: s1 = socket stream``, ``advance 10``,
        without ``->``) or one Step of a Program (its expectation is ignored);
        variables are the ones bound so far."""
        step = self._parser.step(line if isinstance(line, str) else format_step(line))
        target = step.target
        if isinstance(target, Var):
            target = Raw(self._values[target.name])
        code = lower(Program((dataclasses.replace(step, bind=None, target=target),)))
        op, thread, _, _, value, x1, x2, x3 = code[1:]
        record = self._engine.step(op, thread, value, x1, x2, x3)
        bound, result = record[0], (record[1], record[2], record[3], record[4])
        if step.bind is not None:
            self._values[step.bind] = bound
            names = {"o": self._op_vars, "c": self._peer_vars}.get(step.bind[0])
            if names is not None and bound != 0:
                names.setdefault(bound, step.bind)
        raw_events = [
            (record[i], record[i + 1], record[i + 2], record[i + 3], record[i + 4])
            for i in range(
                trace.STEP_HEADER,
                trace.STEP_HEADER + trace.EVENT_WIDTH * record[trace.STEP_HEADER - 1],
                trace.EVENT_WIDTH,
            )
        ]
        events = tuple(trace.render_event(e, self._op_name, self._peer_name) for e in raw_events)
        text = trace.render_result(result)
        self._steps.append(dataclasses.replace(step, expect=Expect(text, events)))
        value_, err = _value_and_code(result)
        out = StepResult(
            number=len(self._steps),
            step=format_step(step),
            kind=_KINDS[result[0]],
            text=text,
            value=value_,
            error=trace.error_name(err) if err else None,
            code=err,
            events=events,
            var=step.bind,
            bound=bound,
            result=result,
        )
        self.results.append(out)
        return out

    def _op_name(self, i: int) -> str:
        return self._op_vars.get(i, f"op{i}")

    def _peer_name(self, i: int) -> str:
        return self._peer_vars.get(i, f"peer{i}")

    def _fresh(self, letter: str) -> str:
        used = [int(v[1:]) for v in self._parser.bound if v[0] == letter]
        return f"{letter}{max(used, default=0) + 1}"

    def _call(self, thread: int, text: str, bind: str | None = None) -> StepResult:
        prefix = f"{self._fresh(bind)} = " if bind else ""
        return self.execute(f"t{thread}: {prefix}{text}")

    # --- the whole session -----------------------------------------------------------

    def program(self, comment: str | None = None) -> str:
        """Everything done so far as program text with every expectation filled
        in; ``comment`` becomes the header comment.  Save it as a ``.wsa`` file
        and it replays (``wsa-harness run --check``) as a regression test."""
        header = tuple(comment.splitlines()) if comment else ()
        return format_program(
            Program(
                tuple(self._steps),
                self.profile,
                self.limits,
                has_profile=True,
                header_comments=header,
                filename="<stack>",
            )
        )

    def snapshot(self) -> trace.Snapshot:
        """The current state (harness.vocab.trace.Snapshot)."""
        return trace.decode((0, *self._engine.snapshot())).snapshot

    def invariants(self) -> list[str]:
        """The SEMANTICS.md section 11 invariants that do not hold now ([] when all do)."""
        return list(self._engine.check_invariants())

    # --- calls (a thread makes them; ``thread`` is 0..3, t0/t1 in p0, t2/t3 in p1) ------

    def startup(self, major: int = 2, minor: int = 2, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"startup {major}.{minor}")

    def cleanup(self, *, thread: int = 0) -> StepResult:
        return self._call(thread, "cleanup")

    def socket(self, type: str = "stream", *, thread: int = 0) -> StepResult:
        """``type`` is ``stream`` or ``dgram``; binds the next ``sN``."""
        return self._call(thread, f"socket {type}", "s")

    def bind(self, s: Handle, port: int, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"bind {_descriptor(s)} {port}")

    def connect(self, s: Handle, window: int | None = None, *, thread: int = 0) -> StepResult:
        """Binds the next ``cN``, the peer; ``window`` defaults to the limit."""
        extra = "" if window is None else f" window={window}"
        return self._call(thread, f"connect {_descriptor(s)}{extra}", "c")

    def setsockopt_linger(self, s: Handle, onoff: int, secs: int, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"setsockopt {_descriptor(s)} SO_LINGER {onoff} {secs}")

    def setsockopt_dontlinger(self, s: Handle, value: int, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"setsockopt {_descriptor(s)} SO_DONTLINGER {value}")

    def getsockopt_linger(self, s: Handle, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"getsockopt {_descriptor(s)} SO_LINGER")

    def getsockopt_dontlinger(self, s: Handle, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"getsockopt {_descriptor(s)} SO_DONTLINGER")

    def ioctlsocket_fionbio(self, s: Handle, value: int, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"ioctlsocket {_descriptor(s)} FIONBIO {value}")

    def send(self, s: Handle, n: int, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"send {_descriptor(s)} {n}")

    def recv(self, s: Handle, n: int, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"recv {_descriptor(s)} {n}")

    def wsasend(self, s: Handle, n: int, mode: str = "event", *, thread: int = 0) -> StepResult:
        """``mode`` is ``event`` or ``routine``; binds the next ``oN``."""
        return self._call(thread, f"wsasend {_descriptor(s)} {n} {mode}", "o")

    def wsarecv(self, s: Handle, n: int, mode: str = "event", *, thread: int = 0) -> StepResult:
        """``mode`` is ``event`` or ``routine``; binds the next ``oN``."""
        return self._call(thread, f"wsarecv {_descriptor(s)} {n} {mode}", "o")

    def shutdown(self, s: Handle, how: str | int, *, thread: int = 0) -> StepResult:
        """``how`` is ``SD_RECEIVE``, ``SD_SEND``, ``SD_BOTH`` or a number."""
        return self._call(thread, f"shutdown {_descriptor(s)} {how}")

    def asyncselect(self, s: Handle, mask: str | int, *, thread: int = 0) -> StepResult:
        """``mask`` is ``FD_READ|FD_CLOSE``-style names, or their bits as an int."""
        return self._call(thread, f"asyncselect {_descriptor(s)} {_mask(mask)}")

    def duplicate(self, s: Handle, pid: int, *, thread: int = 0) -> StepResult:
        """Duplicate into process ``pid``; binds the next ``sN``."""
        return self._call(thread, f"duplicate {_descriptor(s)} {pid}", "s")

    def closesocket(self, s: Handle, *, thread: int = 0) -> StepResult:
        return self._call(thread, f"closesocket {_descriptor(s)}")

    def cancelblocking(self, *, thread: int = 0) -> StepResult:
        return self._call(thread, "cancelblocking")

    def getlasterror(self, *, thread: int = 0) -> StepResult:
        return self._call(thread, "getlasterror")

    def getmessage(self, *, thread: int = 0) -> StepResult:
        return self._call(thread, "getmessage")

    def sleepex(self, *, thread: int = 0) -> StepResult:
        return self._call(thread, "sleepex")

    # --- the environment and observations ----------------------------------------------

    def advance(self, ms: int) -> StepResult:
        return self.execute(f"advance {ms}")

    def net_down(self) -> StepResult:
        return self.execute("net_down")

    def net_up(self) -> StepResult:
        return self.execute("net_up")

    def peer_recv(self, c: Handle, n: int) -> StepResult:
        return self.execute(f"peer_recv {_variable(c)} {n}")

    def peer_send(self, c: Handle, n: int) -> StepResult:
        return self.execute(f"peer_send {_variable(c)} {n}")

    def peer_close(self, c: Handle) -> StepResult:
        return self.execute(f"peer_close {_variable(c)}")

    def peer_reset(self, c: Handle) -> StepResult:
        return self.execute(f"peer_reset {_variable(c)}")

    def ovl(self, o: Handle) -> StepResult:
        """Observe an overlapped operation: ``pending``, ``done N NOTE``, ..."""
        return self.execute(f"ovl {_variable(o)}")


def _variable(handle: Handle) -> str:
    if isinstance(handle, StepResult):
        if handle.var is None:
            raise TypeError(f"step {handle.number} ({handle.step}) binds no variable")
        return handle.var
    if isinstance(handle, str):
        return handle.strip()
    raise TypeError(f"expected a StepResult or a variable name, got {handle!r}")


def _descriptor(handle: Handle) -> str:
    if isinstance(handle, bool):
        raise TypeError(f"expected a descriptor, got {handle!r}")
    if isinstance(handle, int):
        return "INVALID_SOCKET" if handle in (-1, INVALID_SOCKET) else f"#{handle}"
    return _variable(handle)


def _mask(mask: str | int) -> str:
    if isinstance(mask, str):
        return mask.strip()
    names = [name for bit, name in sorted(FD_NAMES.items()) if mask & bit]
    if mask & ~sum(FD_NAMES):
        raise ValueError(f"mask {mask:#x} has bits beyond FD_READ|FD_WRITE|FD_CLOSE")
    return "|".join(names) or "0"
