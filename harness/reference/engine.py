"""The reference engine: common checks, dispatch, snapshot and invariants.

This is the engine interface of docs/engines.md.  ``Engine.step`` applies the
section 4 common rules, hands the call to its handler, then settles (section
3); environment steps settle too, and ``ovl`` and ``rejected`` lines do not.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

from harness.lang.program import RECORD_WIDTH, TARGET_SLOT
from harness.reference import calls, close, environment
from harness.reference.results import fail
from harness.reference.settle import settle
from harness.reference.world import Entry, Socket, Thread, World
from harness.vocab import trace
from harness.vocab.constants import (
    DESCRIPTOR_OPS,
    WSAEINPROGRESS,
    WSAENETDOWN,
    WSAENOTSOCK,
    WSANOTINITIALISED,
    Op,
)
from harness.vocab.profiles import CancelBlocking, CheckOrder, Limits, Profile
from harness.vocab.ranges import check_limits, check_step

Result = trace.Result
#: Calls that fail with INVALID_SOCKET rather than SOCKET_ERROR.
_INVALID_SOCKET_CALLS = frozenset({Op.SOCKET, Op.DUPLICATE})
#: Which common checks each call makes (section 4).
_CHECKS: dict[Op, str] = {op: "E1 E2 E3 E4" for op in DESCRIPTOR_OPS}
_CHECKS.update(
    {
        Op.SOCKET: "E1 E2 E4",
        Op.CLEANUP: "E1 E2 E4",
        Op.STARTUP: "E4",
        Op.CANCELBLOCKING: "E1 E2",
        Op.GETLASTERROR: "",
        Op.GETMESSAGE: "",
        Op.SLEEPEX: "",
    }
)
#: What a failed call binds (descriptor variables bind INVALID_SOCKET).
_FAILED_BINDING = {Op.SOCKET: -1, Op.DUPLICATE: -1}


_work_per_step = 0


def set_work_limit(per_step: int) -> None:
    """Raise WorkLimitExceeded when a run settles more than ``per_step`` times
    the steps run so far sockets (0: no limit, the default)."""
    global _work_per_step
    if not isinstance(per_step, int) or per_step < 0:
        raise ValueError(f"bad work limit {per_step!r}")
    _work_per_step = per_step


class Engine:
    """The reference model behind the engine interface."""

    def __init__(self, profile: Profile, limits: Limits) -> None:
        check_limits(limits.sockets, limits.descriptors, limits.sndbuf, limits.window)
        self.world = World(profile, limits)

    # --- the interface ---------------------------------------------------------

    def step(self, op: int, thread: int, target: int, x1: int, x2: int, x3: int) -> tuple[int, ...]:
        bound, result = self.step_explained(op, thread, target, x1, x2, x3)  # type: ignore[arg-type]
        events = [e for e, _ in self.world.events]
        return (bound, *result, len(events), *(v for e in events for v in e))

    @property
    def work(self) -> int:
        """Sockets settled so far (the cost check counts them)."""
        return self.world.work

    def snapshot(self) -> tuple[int, ...]:
        from harness.reference.snapshot import snapshot

        return snapshot(self.world)

    def check_invariants(self) -> list[str]:
        """The section 11 invariants, and that the indexes agree with the state."""
        from harness.reference.snapshot import index_errors, invariants

        return invariants(self.world) + index_errors(self.world)

    # --- the step, with its rules -------------------------------------------------

    def step_explained(
        self, op: Op, thread: int, target: int, x1: int, x2: int, x3: int
    ) -> tuple[int, Result]:
        """Run one step; the rules stay in ``world.applied`` / ``world.events``."""
        check_step(op, thread, target, x1, x2, x3)  # the engines' shared ranges
        w = self.world
        w.begin_step(_work_per_step)
        if op == Op.OVL:
            return 0, environment.ovl(w, target)
        if thread < 0:
            result = self._environment(op, target, x1)
            settle(w)
            return 0, result
        t = w.threads[thread]
        proc = w.processes[t.process]
        if t.blocked_in and proc.version != 1:
            w.apply("REJ-1")
            return _FAILED_BINDING.get(op, 0), (trace.R_REJECTED, 0, 0, 0)
        bound, result = self._call(op, t, target, x1, x2, x3)
        settle(w)
        return bound, result

    def _environment(self, op: Op, target: int, x1: int) -> Result:
        w = self.world
        if op == Op.ADVANCE:
            return environment.advance(w, x1)
        if op in (Op.NET_DOWN, Op.NET_UP):
            return environment.set_network(w, op == Op.NET_UP)
        if op == Op.PEER_RECV:
            return environment.peer_recv(w, target, x1)
        if op == Op.PEER_SEND:
            return environment.peer_send(w, target, x1)
        if op == Op.PEER_CLOSE:
            return environment.peer_close(w, target)
        if op == Op.PEER_RESET:
            return environment.peer_reset(w, target)
        raise ValueError(f"not an environment step: {op!r}")

    def _common(self, op: Op, t: Thread, target: int) -> Result | None:
        """CS-E1..CS-E4 in the order of the source document's error table."""
        w = self.world
        checks = _CHECKS[op]
        proc = w.processes[t.process]
        kind = trace.R_INVALID_SOCKET if op in _INVALID_SOCKET_CALLS else trace.R_SOCKET_ERROR
        if op == Op.STARTUP:
            kind = trace.R_DIRECT
        err, rule = 0, ""
        profile = w.profile
        if not profile.startup_required and "E1" in checks:
            checks = checks.replace("E1", "")
            if proc.startup_count == 0:
                w.apply("PF-1")  # CS-E1 is never checked
        if (
            profile.check_order == CheckOrder.DESCRIPTOR_FIRST
            and op != Op.CLOSESOCKET  # closesocket keeps section 4's order
            and "E3" in checks
            and target not in proc.table
        ):
            if ("E1" in checks and proc.startup_count == 0) or not w.network_up:
                w.apply("PF-2")  # E3 before E1 and E2
            return fail(w, t, WSAENOTSOCK, "CS-E3", kind)
        if "E1" in checks and proc.startup_count == 0:
            err, rule = WSANOTINITIALISED, "CS-E1"
            if op == Op.CLEANUP:
                w.apply("CS-E1")
                rule = "CU-1"  # [ev A4]: the same outcome, cleanup's own rule
        elif "E2" in checks and not w.network_up:
            err, rule = WSAENETDOWN, "CS-E2"
        elif "E3" in checks and target not in proc.table:
            err, rule = WSAENOTSOCK, "CS-E3"
        elif "E4" in checks and proc.version == 1 and t.blocked_in:
            err, rule = WSAEINPROGRESS, "CS-E4"
        if not err:
            return None
        if kind == trace.R_DIRECT:
            w.apply(rule)  # startup's direct return leaves last_error alone [ev A6]
            return (kind, err, 0, 0)
        return fail(w, t, err, rule, kind)

    def _call(
        self, op: Op, t: Thread, target: int, x1: int, x2: int, x3: int
    ) -> tuple[int, Result]:
        w = self.world
        if op == Op.CANCELBLOCKING and w.profile.cancelblocking == CancelBlocking.STUB:
            return 0, calls.cancelblocking(w, t)  # PF-15: no check at all
        if (failure := self._common(op, t, target)) is not None:
            return _FAILED_BINDING.get(op, 0), failure
        if op in DESCRIPTOR_OPS:
            entry = w.processes[t.process].table[target]
            w.unsettle(entry.socket)  # index: the call may give settling work on its socket
            result, bound = _DESCRIPTOR_CALLS[op](w, t, entry, w.sockets[entry.socket], x1, x2)
        else:
            result, bound = _PLAIN_CALLS[op](w, t, x1, x2)
        return bound, result


# --- dispatch tables: op -> handler, returning (result, bound value) ----------------

Handled = tuple[Result, int]

_DESCRIPTOR_CALLS: dict[int, Callable[[World, Thread, Entry, Socket, int, int], Handled]] = {
    Op.BIND: lambda w, t, e, s, x1, x2: (calls.bind(w, t, s, x1), 0),
    Op.CONNECT: lambda w, t, e, s, x1, x2: calls.connect(w, t, s, x1),
    Op.SETSOCKOPT_LINGER: lambda w, t, e, s, x1, x2: (calls.setsockopt_linger(w, t, s, x1, x2), 0),
    Op.SETSOCKOPT_DONTLINGER: lambda w, t, e, s, x1, x2: (
        calls.setsockopt_dontlinger(w, t, s, x1),
        0,
    ),
    Op.GETSOCKOPT_LINGER: lambda w, t, e, s, x1, x2: (calls.getsockopt_linger(w, t, s), 0),
    Op.GETSOCKOPT_DONTLINGER: lambda w, t, e, s, x1, x2: (calls.getsockopt_dontlinger(w, t, s), 0),
    Op.IOCTLSOCKET_FIONBIO: lambda w, t, e, s, x1, x2: (calls.ioctlsocket_fionbio(w, t, s, x1), 0),
    Op.SEND: lambda w, t, e, s, x1, x2: (calls.send(w, t, e, s, x1), 0),
    Op.RECV: lambda w, t, e, s, x1, x2: (calls.recv(w, t, e, s, x1), 0),
    Op.WSASEND: lambda w, t, e, s, x1, x2: calls.wsasend(w, t, e, s, x1, x2),
    Op.WSARECV: lambda w, t, e, s, x1, x2: calls.wsarecv(w, t, e, s, x1, x2),
    Op.SHUTDOWN: lambda w, t, e, s, x1, x2: (calls.shutdown(w, t, s, x1), 0),
    Op.ASYNCSELECT: lambda w, t, e, s, x1, x2: (calls.asyncselect(w, t, e, s, x1), 0),
    Op.DUPLICATE: lambda w, t, e, s, x1, x2: calls.duplicate(w, t, s, x1),
    Op.CLOSESOCKET: lambda w, t, e, s, x1, x2: (close.closesocket(w, t, e, s), 0),
}
_PLAIN_CALLS: dict[int, Callable[[World, Thread, int, int], Handled]] = {
    Op.STARTUP: lambda w, t, x1, x2: (calls.startup(w, t, x1, x2), 0),
    Op.CLEANUP: lambda w, t, x1, x2: (close.cleanup(w, t), 0),
    Op.SOCKET: lambda w, t, x1, x2: calls.socket(w, t, x1),
    Op.CANCELBLOCKING: lambda w, t, x1, x2: (calls.cancelblocking(w, t), 0),
    Op.GETLASTERROR: lambda w, t, x1, x2: (calls.getlasterror(w, t), 0),
    Op.GETMESSAGE: lambda w, t, x1, x2: (calls.getmessage(w, t), 0),
    Op.SLEEPEX: lambda w, t, x1, x2: (calls.sleepex(w, t), 0),
}


def run_lowered(lowered: Sequence[int] | bytes, profile: Profile, limits: Limits) -> array[int]:
    """Run a lowered program (harness.lang.program.lower) and return its canonical trace."""
    return run_engine(lowered, Engine(profile, limits))


def run_engine(lowered: Sequence[int] | bytes, engine: Engine) -> array[int]:
    """Run a lowered program on ``engine``; the engine keeps its final state."""
    code = _frombytes(lowered) if isinstance(lowered, bytes) else lowered
    slots = [0] * code[0]
    nsteps = (len(code) - 1) // RECORD_WIDTH
    out = array("q", [nsteps])
    step = engine.step
    for i in range(1, 1 + nsteps * RECORD_WIDTH, RECORD_WIDTH):
        op, thread, bind, tk, tv, x1, x2, x3 = code[i : i + RECORD_WIDTH]
        record = step(op, thread, slots[tv] if tk == TARGET_SLOT else tv, x1, x2, x3)
        if bind >= 0:
            slots[bind] = record[0]
        out.extend(record)
    out.extend(engine.snapshot())
    return out


def _frombytes(data: bytes) -> array[int]:
    a = array("q")
    a.frombytes(data)
    return a


__all__ = ["Engine", "run_lowered"]
