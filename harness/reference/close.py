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

from harness import trace
from harness.constants import (
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
from harness.profiles import CancelScope
from harness.reference import effects
from harness.reference.calls import BLOCKED, fail, ok
from harness.reference.world import Entry, Socket, Thread, World

Result = trace.Result


def closesocket(w: World, t: Thread, entry: Entry, sock: Socket) -> Result:
    w.apply("CS-5")
    last = sock.refs == 1
    if _would_block(w, sock, last):
        return fail(w, t, WSAEWOULDBLOCK, "CS-6")
    scope = w.profile.cancel_scope
    release(w, entry, sock, last, scope, w.profile.cancel_status, w.profile.cancel_notifies)
    w.apply("CS-8")
    sock.refs -= 1
    if sock.refs > 0:
        return ok(w, t, 0, "CS-8")
    return _last_reference(w, t, entry, sock)


def _unsent(w: World, sock: Socket) -> bool:
    return sock.send_queue > 0 or bool(w.waiting_sends(sock))


def _would_block(w: World, sock: Socket, last: bool) -> bool:
    """CS-6: the reading of the remarks (SEMANTICS.md decision)."""
    return (
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


def release(
    w: World,
    entry: Entry,
    sock: Socket,
    last: bool,
    scope: CancelScope,
    status: int,
    notifies: bool,
) -> None:
    """CS-7: remove the entry and its registration, then cancel by scope."""
    w.apply("CS-7")
    w.remove_entry(entry)
    reg = sock.registration
    if reg is not None and (reg.process, reg.value) == (entry.process, entry.value):
        sock.registration = None
    if scope == CancelScope.DESCRIPTOR:
        victims = [o for o in w.pending_on(sock) if o.entry is entry]
    else:
        victims = w.pending_on(sock) if last else []
    for op in victims:
        effects.cancel(w, op, "CS-7", status=status, notifies=notifies)


def _last_reference(w: World, t: Thread, entry: Entry, sock: Socket) -> Result:
    discard_naming(w, sock)
    if sock.type == SockType.DGRAM or not sock.connected or sock.reset:
        effects.destroy(w, sock)
        return ok(w, t, 0, "CS-9a")
    if sock.linger_onoff == 0:
        sock.lifecycle = Lifecycle.CLOSING
        return ok(w, t, 0, "CS-9b")
    if sock.linger_secs == 0:
        make_abortive(w, sock, "CS-9c")
        return ok(w, t, 0, "CS-9c")
    if not _unsent(w, sock):
        if not sock.fin_sent:
            effects.send_fin(w, sock, "CS-9d")
        effects.destroy(w, sock)
        return ok(w, t, 0, "CS-9d")
    if not sock.nonblocking:
        w.apply("CS-9e")
        sock.lifecycle = Lifecycle.CLOSING
        sock.linger_deadline = w.clock + 1000 * sock.linger_secs
        w.lingering.add(sock.id)
        op = w.new_op(OpKind.LINGER_CLOSE, t.index, entry, sock, 0, Mode.BLOCKING)
        t.blocked_in = op.id
        return BLOCKED
    sock.lifecycle = Lifecycle.CLOSING
    return ok(w, t, 0, "CS-9f")


def discard_naming(w: World, sock: Socket) -> None:
    """CS-9: queued data, naming information and registration are discarded."""
    w.apply("CS-9")
    sock.recv_queue = 0
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
    for value in sorted(proc.table):
        entry = proc.table[value]
        sock = w.sockets[entry.socket]
        last = sock.refs == 1
        release(w, entry, sock, last, CancelScope.DESCRIPTOR, WSA_OPERATION_ABORTED, False)
        w.apply("CS-8")
        sock.refs -= 1
        if sock.refs > 0:
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
    for op in list(w.ops.values()):
        if op.status == Status.PENDING and w.threads[op.thread].process == t.process:
            w.apply("CU-5")
            op.status = Status.FAILED
            op.error = WSA_OPERATION_ABORTED
            op.done_bytes = 0
            op.note = Note.UNSIGNALED if op.mode == Mode.EVENT else Note.ROUTINE_NONE
            w.emit((trace.E_OVL, op.id, int(op.status), op.error, int(op.note)), "CU-5")
    return ok(w, t, 0, "CU-3")
