"""closesocket (SEMANTICS.md section 8) and cleanup (section 5.1).

closesocket, rule by rule::

    CS-E1..E4  common checks (in the engine); nothing changes on failure
    CS-5       last = (refs == 1)
    CS-6       nonblocking linger with unsent data: WSAEWOULDBLOCK, nothing changes
    CS-7       release the descriptor; cancel by cancel_scope
    CS-8       refs -= 1; not the last: return 0
    CS-9       last: discard recv_queue, release port and registration, then
               9a destroy | 9b graceful background | 9c abortive | 9d FIN now |
               9e blocking linger | 9f as 9b after shutdown
"""

from __future__ import annotations

from harness.reference import effects
from harness.reference.results import BLOCKED, fail, ok
from harness.reference.world import Entry, Operation, Socket, Thread, World
from harness.vocab import trace
from harness.vocab.constants import (
    WSA_OPERATION_ABORTED,
    WSAECONNRESET,
    WSAEINTR,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    Lifecycle,
    Mode,
    Note,
    OpKind,
    SockType,
    Status,
)
from harness.vocab.profiles import CancelScope, CleanupClose, LingerClose
from harness.vocab.ranges import INT64_MAX

Result = trace.Result


def closesocket(w: World, t: Thread, entry: Entry, sock: Socket) -> Result:
    w.apply("CS-5")
    last = _is_last(w, entry, sock)
    if _would_block(w, sock, last):
        return fail(w, t, WSAEWOULDBLOCK, "CS-6")
    p = w.profile
    release(w, entry, sock, last, p.cancel_scope, p.cancel_status, p.cancel_notifies)
    w.apply("CS-8")
    sock.refs -= 1
    if sock.refs > 0:
        return ok(w, t, 0, "CS-8")
    return _last_reference(w, t, entry, sock)


def _is_last(w: World, entry: Entry, sock: Socket) -> bool:
    """CS-5; under cancel_scope = none a call blocked through the entry will
    hold a reference (PF-12a), so this close is not the last."""
    return sock.refs == 1 and not _blocked_through(w, entry, sock)


def _blocked_through(w: World, entry: Entry, sock: Socket) -> list[Operation]:
    """cancel_scope = none: the blocking calls issued through ``entry`` that will
    hold the socket once the entry is released (PF-12a)."""
    if w.profile.cancel_scope != CancelScope.NONE:
        return []
    return [
        o for o in w.pending_on(sock)
        if o.entry is entry and o.kind in (OpKind.SEND, OpKind.RECV)
    ]  # fmt: skip


def _unsent(w: World, sock: Socket) -> bool:
    return sock.send_queue > 0 or bool(w.waiting_sends(sock))


def _would_block(w: World, sock: Socket, last: bool) -> bool:
    """CS-6: the reading of the remarks (SEMANTICS.md decision); never under
    linger_close = bsd (PF-4a)."""
    would = (
        sock.type == SockType.STREAM
        and last
        and sock.linger_onoff != 0
        and sock.linger_secs > 0
        and sock.nonblocking
        and sock.connected
        and not sock.reset
        and not sock.sd_send
        and _unsent(w, sock)
    )
    if would and w.profile.linger_close == LingerClose.BSD:
        w.apply("PF-4a")
        return False
    return would


def release(
    w: World,
    entry: Entry,
    sock: Socket,
    last: bool,
    scope: CancelScope,
    status: int,
    notifies: bool,
    blocking_error: int | None = None,
) -> None:
    """CS-7: remove the entry and its registration, then cancel by scope.
    ``blocking_error`` None means the profile's blocking_cancel_error."""
    w.apply("CS-7")
    holders = _blocked_through(w, entry, sock) if scope == CancelScope.NONE else []
    w.remove_entry(entry)
    reg = sock.registration
    if reg is not None and (reg.process, reg.value) == (entry.process, entry.value):
        sock.registration = None
    if scope == CancelScope.NONE:
        for op in holders:  # PF-12a: nothing is cancelled; blocked calls hold the socket
            w.apply("PF-12a")
            op.holds = True
            w.note_holder(op)
            sock.refs += 1
        return
    if scope == CancelScope.DESCRIPTOR:
        victims = [o for o in w.pending_on(sock) if o.entry is entry]
    else:
        victims = w.pending_on(sock) if last else []
    for op in victims:
        effects.cancel(w, op, "CS-7", status=status, notifies=notifies, error=blocking_error)


def _last_reference(w: World, t: Thread, entry: Entry, sock: Socket) -> Result:
    bsd = w.profile.linger_close == LingerClose.BSD
    branch = last_close(w, sock, caller_waits=bsd or not sock.nonblocking)
    if branch != "CS-9e":
        return ok(w, t, 0, branch)
    if bsd and sock.nonblocking:
        w.apply("PF-4a")  # blocks, nonblocking or not
    w.apply("CS-9e")
    _closing(w, sock)
    sock.linger_deadline = min(w.clock + 1000 * sock.linger_secs, INT64_MAX)  # D38
    w.lingering.add(sock.id)
    op = w.new_op(OpKind.LINGER_CLOSE, t.index, entry, sock, 0, Mode.BLOCKING)
    t.blocked_in = op.id
    return BLOCKED


def last_close(w: World, sock: Socket, *, caller_waits: bool | None) -> str:
    """CS-9 and its branch; returns the branch's rule.  In the linger case a
    caller that waits gets "CS-9e" and does the blocking itself; a caller that
    does not is CS-9f; with no caller at all (the deferred last close of PF-12b,
    cleanup's PF-14) it is CS-9b.  CS-9b and CS-9f do the same."""
    discard_naming(w, sock)
    if sock.type == SockType.DGRAM or not sock.connected or sock.reset:
        effects.destroy(w, sock)
        return "CS-9a"
    if sock.linger_onoff == 0:
        _closing(w, sock)
        return "CS-9b"
    if sock.linger_secs == 0:
        make_abortive(w, sock, "CS-9c")
        return "CS-9c"
    if not _unsent(w, sock):
        if not sock.fin_sent:
            effects.send_fin(w, sock, "CS-9d")
        effects.destroy(w, sock)
        return "CS-9d"
    if caller_waits:
        return "CS-9e"
    _closing(w, sock)
    return "CS-9b" if caller_waits is None else "CS-9f"


def _closing(w: World, sock: Socket) -> None:
    """Lifecycle becomes closing: settling has work on the socket (it delivers
    the queue, sends FIN and destroys it)."""
    sock.lifecycle = Lifecycle.CLOSING
    w.unsettle(sock.id)


def close_without_caller(w: World, sock: Socket, rule: str) -> None:
    """The last reference goes with nobody to block (PF-12b, PF-14)."""
    w.apply(rule)
    w.apply(last_close(w, sock, caller_waits=None))


def discard_naming(w: World, sock: Socket) -> None:
    """CS-9: queued data, naming information and registration are discarded."""
    w.apply("CS-9")
    sock.recv_queue = 0
    w.forget_port(sock)
    sock.port = 0
    sock.registration = None


def make_abortive(w: World, sock: Socket, rule: str) -> None:
    """CS-9c: reset from our side, then destroy."""
    w.apply("CS-9c")
    effects.reset_ours(w, sock, WSAECONNRESET, rule)
    effects.destroy(w, sock)


# --- cleanup (section 5.1) ----------------------------------------------------------


def cleanup(w: World, t: Thread) -> Result:
    proc = w.processes[t.process]
    if proc.startup_count == 0:
        return fail(w, t, WSANOTINITIALISED, "CU-1")
    proc.startup_count -= 1
    if proc.startup_count > 0:
        return ok(w, t, 0, "CU-2")
    # CU-3: every descriptor, in ascending value, as if closesocket were called
    w.apply("CU-3")
    p = w.profile
    as_close = p.cleanup_close == CleanupClose.AS_CLOSESOCKET
    for value in sorted(proc.table):
        entry = proc.table[value]
        sock = w.sockets[entry.socket]
        if as_close:  # PF-14: closed as closesocket closes, under the profile
            last = _is_last(w, entry, sock)
            release(w, entry, sock, last, p.cancel_scope, p.cancel_status, p.cancel_notifies)
        else:
            last = sock.refs == 1
            release(
                w, entry, sock, last, CancelScope.DESCRIPTOR, WSA_OPERATION_ABORTED, False,
                WSAEINTR,
            )  # fmt: skip
        w.apply("CS-8")
        sock.refs -= 1
        if sock.refs > 0:
            continue
        if as_close:
            close_without_caller(w, sock, "PF-14")
            continue
        discard_naming(w, sock)
        if sock.type == SockType.DGRAM or not sock.connected or sock.reset:
            w.apply("CS-9a")
            effects.destroy(w, sock)
        else:
            make_abortive(w, sock, "CU-3")
    # CU-4: threads still blocked, in thread order
    for thread in w.threads:
        if thread.process != t.process or not thread.blocked_in:
            continue
        w.apply("CU-4")
        op = w.ops[thread.blocked_in]
        linger_sock = w.sockets[op.socket]
        if op.kind == OpKind.LINGER_CLOSE and linger_sock.lifecycle != Lifecycle.DESTROYED:
            make_abortive(w, linger_sock, "CU-4")
        effects.complete(w, op, 0, WSAEINTR, "CU-4")
    # CU-5: the process's operations still pending, in id order
    for op in w.all_pending():
        if op.status == Status.PENDING and w.threads[op.thread].process == t.process:
            w.apply("CU-5")
            if as_close:
                effects.cancel(w, op, "CU-5", status=p.cancel_status, notifies=p.cancel_notifies)
                continue
            op.status = Status.FAILED
            w.op_ended(op)
            op.error = WSA_OPERATION_ABORTED
            op.done_bytes = 0
            op.note = Note.UNSIGNALED if op.mode == Mode.EVENT else Note.ROUTINE_NONE
            w.emit((trace.E_OVL, op.id, int(op.status), op.error, int(op.note)), "CU-5")
    return ok(w, t, 0, "CU-3")
