"""Conditions on the model's state at a step: the words a known difference
uses to say *where* it holds (conformance/known/ENGINE.txt).

:func:`step_facts` reads the reference model's snapshot just before a step
and names what holds about the step's *subject*: the socket its descriptor,
peer or operation refers to (for ``advance`` and steps with no target: no
socket facts).  A condition is a list of terms, each a fact that must hold,
or ``!fact`` that must not; every term must hold.  Alternatives are separated
by ``|``: the condition holds when one of them does.

Socket facts (of the subject socket):

==================  =========================================================
fact                holds when
==================  =========================================================
``stream``          it is a stream socket (``dgram``: a datagram socket)
``nonblocking``     it is nonblocking (FIONBIO 1, or a WSAAsyncSelect registration)
``registered``      a WSAAsyncSelect registration with a non-zero mask is on it
``connected``       it is connected
``reset``           the connection was reset
``reset_reported``  a call has already reported the reset (an error or end of file)
``peer_fin``        the peer's FIN arrived
``fin_sent``        our FIN was sent
``sd_send``         shutdown SD_SEND was made (``sd_recv``: SD_RECEIVE)
``close_seen``      the FD_CLOSE condition has been seen (a FIN or reset arrived)
``unsent``          data is queued, not yet delivered to the peer
``unread``          received data is waiting to be read
``linger``          SO_LINGER is on with a non-zero timeout (``linger_zero``: zero)
``duplicated``      two or more descriptors refer to it
``twin_closed``     a descriptor of it was closed while another still refers to it
``closing``         its last descriptor was closed; it lingers
``blocked_send``    a thread is blocked in a send on it (``blocked_recv``: a recv;
                    ``blocked_close``: a linger close)
``pending_ovl``     an overlapped operation on it is pending
``destroyed``       it was destroyed (every descriptor closed, the close finished)
``discarded``       peer data that arrived after it was closed was dropped
``closed_unread``   its last descriptor was closed while received data was unread
==================  =========================================================

Program facts: ``version1`` (the last startup asked for version 1.x),
``uninitialised`` (process p0's startup count is 0).

Step facts: ``on_OP`` for the step's own operation (``on_shutdown``,
``on_peer_send``, ...; the names of PROGRAMS.md), ``on_shutdown_receive``
for a shutdown with SD_RECEIVE or SD_BOTH, and ``after_OP`` for the last
call the step's thread made before it (``after_connect``).
"""

from __future__ import annotations

from harness.lang.program import Step, Var
from harness.lang.syntax import OP_NAMES
from harness.vocab import trace
from harness.vocab.constants import Lifecycle, Op, OpKind, Status

SOCKET_FACTS = (
    "stream", "dgram", "nonblocking", "registered", "connected", "reset", "reset_reported",
    "peer_fin", "fin_sent", "sd_send", "sd_recv", "close_seen", "unsent", "unread", "linger",
    "linger_zero", "duplicated", "twin_closed", "closing", "blocked_send", "blocked_recv",
    "blocked_close", "pending_ovl", "destroyed", "discarded", "closed_unread",
)  # fmt: skip
PROGRAM_FACTS = ("version1", "uninitialised")
STEP_FACTS = tuple(f"on_{name}" for name in OP_NAMES.values()) + ("on_shutdown_receive",)
STEP_FACTS += tuple(f"after_{name}" for name in OP_NAMES.values())
FACTS = frozenset(SOCKET_FACTS + PROGRAM_FACTS + STEP_FACTS)

_BLOCKED = {OpKind.SEND: "blocked_send", OpKind.RECV: "blocked_recv"}
_BLOCKED[OpKind.LINGER_CLOSE] = "blocked_close"


class ConditionError(ValueError):
    """A condition that names no fact: the message says which."""


Terms = tuple[tuple[str, bool], ...]


def parse_condition(text: str) -> tuple[Terms, ...]:
    """Alternatives separated by ``|``, each a list of terms:
    ``"twin_closed !reset | closing"`` ->
    ``((("twin_closed", True), ("reset", False)), (("closing", True),))``.
    The empty text is one empty alternative (it always holds)."""
    return tuple(_terms(part) for part in text.split("|"))


def _terms(text: str) -> Terms:
    terms = []
    for word in text.split():
        want = not word.startswith("!")
        name = word.lstrip("!")
        if name not in FACTS:
            close = [f for f in sorted(FACTS) if f.startswith(name[:3])]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConditionError(f"unknown fact {name!r}{hint}; facts: see conditions.py")
        terms.append((name, want))
    return tuple(terms)


def holds(condition: tuple[Terms, ...], facts: frozenset[str]) -> bool:
    """Whether one of the alternatives holds: all of its terms do."""
    return any(all((name in facts) == want for name, want in terms) for terms in condition)


class FactTracker:
    """Follows a model run step by step and names the facts before each step."""

    def __init__(self) -> None:
        #: socket id -> the most descriptors it had at once
        self._most_refs: dict[int, int] = {}
        self._version1 = False
        #: thread -> the name of the last call it made
        self._last_call: dict[int, str] = {}
        #: socket id -> its unread bytes while it was open; the sockets closed so
        #: (their last descriptor) with data unread
        self._unread: dict[int, int] = {}
        self._closed_unread: set[int] = set()

    def facts(self, step: Step, before: trace.Snapshot, slots: dict[str, int]) -> frozenset[str]:
        out: set[str] = {f"on_{OP_NAMES[step.op]}"}
        if step.op == Op.SHUTDOWN and step.args and step.args[0] in (0, 2):
            out.add("on_shutdown_receive")
        if self._version1:
            out.add("version1")
        if before.processes and before.processes[0]["startup_count"] == 0:
            out.add("uninitialised")
        for s in before.sockets:
            self._most_refs[s["id"]] = max(self._most_refs.get(s["id"], 0), s["refs"])
            if s["lifecycle"] == Lifecycle.OPEN:
                self._unread[s["id"]] = s["recv_queue"]
            elif self._unread.get(s["id"], 0) > 0:
                self._closed_unread.add(s["id"])
        subject = _subject(step, before, slots)
        if subject is not None:
            out |= self._socket_facts(subject, before)
        if step.op == Op.STARTUP and step.args:
            self._version1 = step.args[0] == 1
        if step.thread is not None:
            if step.thread in self._last_call:
                out.add(f"after_{self._last_call[step.thread]}")
            self._last_call[step.thread] = OP_NAMES[step.op]
        return frozenset(out)

    def _socket_facts(self, sid: int, snap: trace.Snapshot) -> set[str]:
        sock = next((s for s in snap.sockets if s["id"] == sid), None)
        if sock is None:
            return set()
        out = {"stream" if sock["type"] == 1 else "dgram"}
        for name in ("nonblocking", "connected", "reset", "reset_reported", "peer_fin"):
            if sock[name]:
                out.add(name)
        for name in ("fin_sent", "sd_send", "sd_recv", "close_seen"):
            if sock[name]:
                out.add(name)
        if sock["reg_mask"]:
            out.add("registered")
        if sock["send_queue"] > 0:
            out.add("unsent")
        if sock["recv_queue"] > 0:
            out.add("unread")
        if sock["linger_onoff"]:
            out.add("linger" if sock["linger_secs"] else "linger_zero")
        if sock["refs"] >= 2:
            out.add("duplicated")
        if 1 <= sock["refs"] < self._most_refs.get(sid, 0):
            out.add("twin_closed")
        if sock["lifecycle"] == Lifecycle.CLOSING:
            out.add("closing")
        if sock["lifecycle"] == Lifecycle.DESTROYED:
            out.add("destroyed")
        if sock["discarded"] > 0:
            out.add("discarded")
        if sid in self._closed_unread:
            out.add("closed_unread")
        for o in snap.ops:
            if o["socket"] != sid or o["status"] != Status.PENDING:
                continue
            if o["kind"] in _BLOCKED and o["thread"] >= 0:
                out.add(_BLOCKED[OpKind(o["kind"])])
            if o["kind"] in (OpKind.WSASEND, OpKind.WSARECV):
                out.add("pending_ovl")
        return out


def _subject(step: Step, snap: trace.Snapshot, slots: dict[str, int]) -> int | None:
    """The socket id the step is about, or None."""
    target = step.target
    if not isinstance(target, Var):
        return None
    value = slots.get(target.name)
    if value is None:
        return None
    if step.op in (Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET):
        return value or None  # a peer's id is its socket's id
    if step.op == Op.OVL:
        op = next((o for o in snap.ops if o["id"] == value), None)
        return None if op is None else op["socket"]
    process = (step.thread or 0) // 2
    for v, sid in snap.processes[process]["entries"]:  # type: ignore[attr-defined]
        if v == value:
            return int(sid)
    return None
