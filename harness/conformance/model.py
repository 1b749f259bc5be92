"""The model's side of a conformance comparison.

:func:`model_run` runs a program on the reference model, step by step, and
gives (1) each step's outcome reduced to what an external engine can observe
(:func:`project`), and (2) the *cut*: the first step from which the model's
outcome depends on buffer sizes that the real stack does not share.

**Buffering and the cut.**  The model's ``sndbuf`` and ``window`` are bytes
to kilobytes; a real loopback connection buffers megabytes.  Per connection:
- *model-full*: open or closing, connected, not reset, and data is unsent
  (``send_queue > 0``) or a send / wsasend / linger close is waiting;
- *real-full* (an estimate made from the program, never from the real run):
  the program has made a single ``send``/``wsasend`` of at least the engine's
  ``saturation`` bytes on it, and it was not reset or destroyed since.
The comparison stops before a step when a real connection is full and the
model's is not, when a send of fewer than ``saturation`` bytes is held back by
the model's buffers, and when the model's ``sockets``/``descriptors`` limit
refuses a socket.  Where the model is full and the real stack is not, it stops
only at a step whose outcome can tell where the held-back bytes wait
(:func:`_held_step`, decision D85), or at once past the engine's ``delivery``.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.conformance.conditions import FactTracker, holds, parse_condition
from harness.conformance.engine import Capabilities, Observation
from harness.lang.program import Program, Step, Var
from harness.lang.render import format_step
from harness.oracle.run import stepwise
from harness.vocab import trace
from harness.vocab.constants import (
    BLOCKING_CALL_NAMES,
    FD_NAMES,
    PEER_OPS,
    WSA_IO_PENDING,
    WSAEMFILE,
    WSAENOBUFS,
    WSAEWOULDBLOCK,
    Lifecycle,
    Mode,
    Note,
    Op,
    OpKind,
    Status,
)
from harness.vocab.profiles import Profile

#: Steps whose results are byte counts, compared by class.
COUNT_OPS = frozenset({Op.SEND, Op.RECV, Op.PEER_RECV, Op.PEER_SEND})
#: Note classes of an ovl observation.
EVENT_NOTES = {Note.SIGNALED: "signaled", Note.UNSIGNALED: "unsignaled"}
ROUTINE_RAN, ROUTINE_NOT_RAN = "routine-ran", "routine-not-ran"
_SEND_LIKE = frozenset({OpKind.SEND, OpKind.WSASEND, OpKind.LINGER_CLOSE})


def count_text(k: int, n: int) -> str:
    """A byte count by class: ``0``, the full ``N``, or ``partial``."""
    return str(k) if k in (0, n) else "partial"


def ovl_text(status: str, value: str = "", note: str = "") -> str:
    """An ovl observation: ``pending``, ``done CLASS NOTE`` or ``failed ERR NOTE``."""
    return "pending" if status == "pending" else f"{status} {value} {note}"


@dataclass(frozen=True)
class ModelRun:
    trace: trace.Trace
    observations: tuple[Observation, ...]
    #: (step index, reason): compare only the steps before the index.
    cut: tuple[int, str] | None
    #: Per step, the facts of harness.conformance.conditions that hold just before it.
    facts: tuple[frozenset[str], ...] = ()
    #: (step index, reason): the first step that would bring the engine down in
    #: this model's state (Capabilities.crashes): the engine must not run it.
    crash: tuple[int, str] | None = None


def model_run(program: Program, profile: Profile, caps: Capabilities) -> ModelRun:
    """Run ``program`` on the reference model under ``profile``."""
    from harness.engines import load_engine

    engine = load_engine("reference").Engine(profile, program.limits)
    records: list[tuple[int, ...]] = []
    slots: dict[str, int] = {}
    saturated: set[int] = set()
    cut: tuple[int, str] | None = None
    crash: tuple[int, str] | None = None
    before = _snapshot(engine.snapshot())
    tracker = FactTracker()
    facts: list[frozenset[str]] = (
        [tracker.facts(program.steps[0], before, slots)] if program.steps else []
    )
    for i, (step, record) in enumerate(stepwise(program, engine)):
        records.append(record)
        after = _snapshot(engine.snapshot())
        fatal = _crash(step, facts[i], caps) if crash is None else None
        if fatal:
            crash = (i, f"before line {step.line} (`{format_step(step)}`): {fatal}")
        if cut is None:
            reason = (
                fatal
                or _gate(step, record, before, slots, saturated, caps)
                or _swallowed(step, record, after, slots, caps)
            )
            if reason:
                cut = (i, f"before line {step.line} (`{format_step(step)}`): {reason}")
        if step.bind is not None:
            slots[step.bind] = record[0]
        before = after
        if i + 1 < len(program.steps):
            facts.append(tracker.facts(program.steps[i + 1], before, slots))
    flat = [len(records)] + [v for r in records for v in r] + list(engine.snapshot())
    tr = trace.decode(flat)
    return ModelRun(tr, tuple(project(program, tr)), cut, tuple(facts), crash)


def _crash(step: Step, facts: frozenset[str], caps: Capabilities) -> str | None:
    """Why the engine cannot survive ``step`` in this state (None: it can)."""
    for op, condition, why in caps.crashes:
        if step.op == op and holds(parse_condition(condition), facts):
            return why
    return None


def _swallowed(
    step: Step,
    record: tuple[int, ...],
    after: trace.Snapshot,
    slots: dict[str, int],
    caps: Capabilities,
) -> str | None:
    """Why a saturating send cannot be compared: the model's window took all of it
    within the step, where a real stack's buffers fill and the send blocks (D81)."""
    if step.op != Op.SEND or not step.args or step.args[0] < caps.saturation:
        return None
    kind, r1 = record[1], record[2]
    if not (kind == trace.R_BLOCKED or (kind == trace.R_VALUE and r1 == step.args[0])):
        return None
    sid = _socket_of(step, after, slots)
    sock = next((s for s in after.sockets if s["id"] == sid), None)
    if sock is None or not sock["connected"] or sock["reset"] or sock["send_queue"] > 0:
        return None
    if any(
        o["socket"] == sid and o["status"] == Status.PENDING and o["kind"] in _SEND_LIKE
        for o in after.ops
    ):
        return None
    return (
        f"the model's window takes this send of {step.args[0]} bytes at once; "
        "a real stack's buffers fill"
    )


def _snapshot(values: tuple[int, ...]) -> trace.Snapshot:
    return trace.decode((0, *values)).snapshot


def _socket_of(step: Step, snap: trace.Snapshot, slots: dict[str, int]) -> int | None:
    if not isinstance(step.target, Var) or step.thread is None:
        return None
    value = slots.get(step.target.name)
    entries = snap.processes[step.thread // 2]["entries"]
    for v, sid in entries:  # type: ignore[attr-defined]
        if v == value:
            return int(sid)
    return None


def _gate(
    step: Step,
    record: tuple[int, ...],
    before: trace.Snapshot,
    slots: dict[str, int],
    saturated: set[int],
    caps: Capabilities,
) -> str | None:
    """Why the comparison must stop at ``step`` (None: it may go on)."""
    waiting = {
        o["socket"] for o in before.ops if o["status"] == Status.PENDING and o["kind"] in _SEND_LIKE
    }
    full: set[int] = set()
    held: dict[int, dict[str, int]] = {}
    for s in before.sockets:
        sid = s["id"]
        live = s["lifecycle"] != Lifecycle.DESTROYED and s["connected"] and not s["reset"]
        if not live:
            saturated.discard(sid)
            continue
        if s["send_queue"] > 0 or sid in waiting:
            full.add(sid)
            if sid not in saturated:
                if sid in waiting:
                    return _HOLD.format(sid)
                held[sid] = s
        elif sid in saturated:
            return f"a real stack's buffers are full on socket {sid}; the model's are not"
    op = step.op
    kind, r1 = record[1], record[2]
    if held:
        reason = _held_step(step, record, before, slots, held, caps)
        if reason:
            return reason
    if op == Op.PEER_SEND and step.args and step.args[0] > 0:
        queued = sum(s["recv_queue"] for s in before.sockets)
        if queued + step.args[0] > caps.receive_capacity:
            return (
                f"{queued + step.args[0]} bytes to receive: more than a real stack is sure "
                f"to buffer ({caps.receive_capacity}); the model's receive queue has no bound"
            )
    if (
        op == Op.PEER_RECV
        and isinstance(step.target, Var)
        and slots.get(step.target.name) in full
        and slots.get(step.target.name) not in held
    ):
        return _PEER_READS
    if op in (Op.SEND, Op.WSASEND):
        target = _socket_of(step, before, slots)
        n = step.args[0]
        if target is not None and n >= caps.saturation:
            saturated.add(target)
        limited = (
            kind == trace.R_BLOCKED
            or (kind == trace.R_VALUE and op == Op.SEND and r1 < n)
            or (kind == trace.R_SOCKET_ERROR and r1 in (WSAEWOULDBLOCK, WSA_IO_PENDING))
        )
        if limited and target not in saturated:
            return f"the model's buffers limit this send of {n} bytes; a real stack's would not"
    if op in (Op.SOCKET, Op.DUPLICATE) and kind == trace.R_INVALID_SOCKET:
        if r1 in (WSAENOBUFS, WSAEMFILE):
            return "the model's sockets/descriptors limit refuses a socket"
    return None


_HOLD = "the model's buffers hold back data on socket {}; a real stack's would not"
_PEER_READS = "peer_recv reads a connection whose data the model's buffers hold back"
#: Steps on a held socket whose outcome depends on what its peer has received:
#: a peer's send, close or reset meets data the real peer holds unread (a close
#: with unread data is a reset on Linux), a WSAAsyncSelect registration posts
#: FD_WRITE by the space left, and WSACleanup discards what the model still holds.
_HELD_CUT = frozenset({Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET, Op.ASYNCSELECT})


def _held_step(
    step: Step,
    record: tuple[int, ...],
    before: trace.Snapshot,
    slots: dict[str, int],
    held: dict[int, dict[str, int]],
    caps: Capabilities,
) -> str | None:
    """Why ``step`` cannot be compared while the model holds back data that a
    real stack has delivered (None: its outcome does not depend on it).

    ``held`` maps each such socket to its snapshot: every send on it was
    accepted whole (a limited one ends the comparison at the send) and part of
    the data waits for the peer's window.  The real stack has delivered it all
    to the peer as long as the peer's unread bytes stay within
    ``caps.delivery`` (decision D85); the two sides then part only on what the
    peer can read at once and on when the FIN arrives, never on the bytes in
    the stream.
    """
    op = step.op
    peer_buffered = {p["id"]: p["buffered"] for p in before.peers}
    for sid, s in held.items():
        unread = s["send_queue"] + peer_buffered.get(sid, 0)
        if unread > caps.delivery:
            return _HOLD.format(sid)
    if op == Op.CLEANUP:
        return _HOLD.format(next(iter(held)))
    if op in PEER_OPS:
        peer = slots.get(step.target.name) if isinstance(step.target, Var) else None
        if peer not in held:
            return None
        if op == Op.PEER_RECV:
            n = step.args[0] if step.args else 0
            # the peer reads n bytes whenever the model's peer does: the real
            # peer has at least as many unread bytes as the model's
            full = record[1] == trace.R_VALUE and record[2] == n and n > 0
            return None if full else _PEER_READS
        return _HOLD.format(peer)
    target = _socket_of(step, before, slots)
    if target not in held:
        return None
    if op in _HELD_CUT:
        return _HOLD.format(target)
    if op == Op.CLOSESOCKET and held[target]["refs"] <= 1 and held[target]["linger_onoff"]:
        # a linger close waits for the model's queue (or discards it, and
        # resets); the real stack's is empty
        return _HOLD.format(target)
    return None


def project(program: Program, tr: trace.Trace) -> list[Observation]:
    """Each step's model outcome as an external engine would report it."""
    out: list[Observation] = []
    bound: dict[str, int] = {}  # variable -> the value its step bound
    ops: dict[int, tuple[int, int]] = {}  # operation id -> (mode, N)
    blocked_n: dict[int, int] = {}  # thread -> N of the call it blocked in
    names: dict[int, str] = {}  # descriptor value -> the variable last bound to it
    for step, outcome in zip(program.steps, tr.steps, strict=True):
        # a variable whose descriptor value a later socket took now names that
        # socket (Observation.reused)
        reused = False
        if isinstance(step.target, Var) and step.thread is not None:
            value = bound.get(step.target.name, -1)
            reused = value != -1 and names.get(value, step.target.name) != step.target.name
        if step.bind is not None:
            bound[step.bind] = outcome.bound
            if step.op in (Op.SOCKET, Op.DUPLICATE) and outcome.bound != -1:
                names[outcome.bound] = step.bind
        if step.op in (Op.WSASEND, Op.WSARECV) and outcome.bound:
            ops[outcome.bound] = (step.args[1], step.args[0])
        if outcome.result[0] == trace.R_BLOCKED and step.thread is not None:
            blocked_n[step.thread] = step.args[0] if step.op in (Op.SEND, Op.RECV) else 0
        op_id = bound.get(step.target.name, 0) if isinstance(step.target, Var) else 0
        result = _result(step, outcome.result, ops.get(op_id), names)
        comps = tuple(
            sorted(
                completion_text(e[1], BLOCKING_CALL_NAMES[OpKind(e[2])], e[3], e[4], blocked_n)
                for e in outcome.events
                if e[0] == trace.E_COMPLETE
            )
        )
        messages = tuple(
            message_text(e[2], names.get(e[3], f"#{e[3]}"), e[4])
            for e in outcome.events
            if e[0] == trace.E_POSTED and e[1] == 0
        )
        out.append(Observation(result, comps, messages, reused))
    return out


def completion_text(thread: int, call: str, ret: int, err: int, blocked_n: dict[int, int]) -> str:
    """``tN call -> result`` for a blocked call that completed."""
    if ret == -1:
        text = f"SOCKET_ERROR {trace.error_name(err)}"
    elif call in ("send", "recv"):
        text = count_text(ret, blocked_n.get(thread, ret))
    else:
        text = str(ret)
    return f"t{thread} {call} -> {text}"


def note_text(mode: int, note: int) -> str:
    """The note of an ovl observation, as an external engine can see it."""
    if mode == Mode.ROUTINE:
        return ROUTINE_RAN if note == Note.ROUTINE_RAN else ROUTINE_NOT_RAN
    return EVENT_NOTES.get(Note(note), str(note))


def message_text(event: int, name: str, err: int) -> str:
    """A getmessage result with the descriptor shown as its variable: ``FD_READ s1 0``."""
    return f"{FD_NAMES.get(event, str(event))} {name} {trace.error_name(err) if err else 0}"


def _result(
    step: Step, r: trace.Result, op: tuple[int, int] | None, names: dict[int, str]
) -> str | None:
    kind, a, b, c = r
    if kind == trace.R_REJECTED:
        return None
    if kind == trace.R_VALUE and step.op in (Op.SOCKET, Op.DUPLICATE):
        return "ok"
    if kind == trace.R_MESSAGE:
        return message_text(a, names.get(b, f"#{b}"), c)
    if kind == trace.R_VALUE and step.op in COUNT_OPS:
        return count_text(a, step.args[0])
    if kind in (trace.R_OVL_DONE, trace.R_OVL_FAILED):
        mode, n = op if op is not None else (Mode.EVENT, a)
        if kind == trace.R_OVL_DONE:
            return ovl_text("done", count_text(a, n), note_text(mode, b))
        return ovl_text("failed", trace.error_name(a), note_text(mode, b))
    return trace.render_result(r)
