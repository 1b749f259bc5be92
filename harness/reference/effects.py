"""Effects shared by several rules: completing and cancelling operations,
resets, destroying sockets (CS-D), FD_CLOSE bookkeeping, and settling
(SEMANTICS.md sections 6, 7 and 8)."""

from __future__ import annotations

from harness.reference.world import Operation, Socket, Thread, World
from harness.vocab import trace
from harness.vocab.constants import (
    FD_CLOSE,
    SOCKET_ERROR,
    WSAECONNRESET,
    WSAEINTR,
    WSAESHUTDOWN,
    Lifecycle,
    Mode,
    Note,
    OpKind,
    Status,
)
from harness.vocab.profiles import FdCloseTiming, LastErrorOnSuccess, ResetReporting


def first_reset_report(sock: Socket) -> int:
    """reset_reporting = once (PF-5a, PF-5b): mark the reset reported and give
    the error that reports it: EPIPE (WSAESHUTDOWN) after the peer's FIN, else
    WSAECONNRESET (D30)."""
    sock.reset_reported = True
    return WSAESHUTDOWN if sock.peer_fin else WSAECONNRESET


def clear_last_error(w: World, t: Thread) -> None:
    """A success sets last_error to 0 (section 4), unless last_error_on_success
    is keep (PF-11)."""
    if w.profile.last_error_on_success == LastErrorOnSuccess.KEEP:
        if t.last_error:
            w.apply("PF-11")
        return
    t.last_error = 0


# --- completing operations -----------------------------------------------------


def complete(w: World, op: Operation, nbytes: int, error: int, rule: str) -> None:
    """An operation finishes: ``error == 0`` means done with ``nbytes``.

    A blocking call unblocks its thread and sets last_error (section 4).  An
    overlapped operation is notified (NT-1, decision D5) and never touches
    last_error.
    """
    op.status = Status.FAILED if error else Status.DONE
    w.op_ended(op)
    op.error = error
    op.done_bytes = 0 if error else nbytes  # decision D4
    if op.mode == Mode.BLOCKING:
        thread = w.threads[op.thread]
        thread.blocked_in = 0
        if error:
            thread.last_error = error
        else:
            clear_last_error(w, thread)
        ret = SOCKET_ERROR if error else nbytes
        w.emit((trace.E_COMPLETE, op.thread, int(op.kind), ret, error), rule)
        return
    notify(w, op)
    w.apply("NT-1")
    _emit_ovl(w, op, rule)


def notify(w: World, op: Operation) -> None:
    if op.mode == Mode.EVENT:
        op.note = Note.SIGNALED
    else:
        op.note = Note.ROUTINE_QUEUED
        w.threads[op.thread].routines.append(op.id)


def _emit_ovl(w: World, op: Operation, rule: str) -> None:
    value = op.done_bytes if op.status == Status.DONE else op.error
    w.emit((trace.E_OVL, op.id, int(op.status), value, int(op.note)), rule)


def cancel(
    w: World, op: Operation, rule: str, *, status: int, notifies: bool, error: int | None = None
) -> None:
    """CS-7 cancellation: a blocking call completes with ``error`` (default: the
    profile's blocking_cancel_error, WSAEINTR but for PF-13); an overlapped
    operation fails with ``status``, notified only if ``notifies``."""
    if op.mode == Mode.BLOCKING:
        if error is None:
            error = w.profile.blocking_cancel_error
            if error != WSAEINTR:
                w.apply("PF-13")
        complete(w, op, 0, error, rule)
        return
    op.status = Status.FAILED
    w.op_ended(op)
    op.error = status
    op.done_bytes = 0
    if notifies:
        w.apply("NT-1")
        notify(w, op)
    _emit_ovl(w, op, rule)


def cancel_current(w: World, op: Operation, rule: str) -> None:
    """Cancel with the current profile's switches."""
    p = w.profile
    cancel(w, op, rule, status=p.cancel_status, notifies=p.cancel_notifies)


# --- destroy, resets ---------------------------------------------------------------


def destroy(w: World, sock: Socket) -> None:
    """CS-D: destroy, then cancel what is still pending except a linger close."""
    w.apply("CS-D")
    sock.lifecycle = Lifecycle.DESTROYED
    w.live -= 1  # index
    w.forget_port(sock)  # index: it holds its port no more (CS-9 released it already)
    sock.linger_deadline = None
    w.lingering.discard(sock.id)
    w.emit((trace.E_DESTROYED, sock.id, 0, 0, 0), "CS-D")
    for op in w.pending_on(sock):
        if op.kind != OpKind.LINGER_CLOSE:
            cancel_current(w, op, "CS-D")


def finish_linger(w: World, sock: Socket, rule: str) -> None:
    """A linger close blocked on ``sock`` completes with 0."""
    for op in w.pending_on(sock):
        if op.kind == OpKind.LINGER_CLOSE:
            complete(w, op, 0, 0, rule)


def reset_ours(w: World, sock: Socket, code: int, rule: str) -> None:
    """Reset the connection from our side (section 7, RS-1)."""
    w.apply("RS-1")
    peer = w.peers[sock.id]
    w.emit((trace.E_RESET, sock.id, 0, 0, 0), rule)
    sock.reset = True
    peer.reset = True
    peer.reset_code = code
    sock.discarded += sock.send_queue
    sock.send_queue = 0
    if w.profile.reset_keeps_received and peer.buffered:
        w.apply("PF-6")  # the peer still reads what had arrived
        return
    peer.dropped += peer.buffered
    peer.buffered = 0


def peer_reset_effects(w: World, sock: Socket, rule: str) -> None:
    """The peer resets the connection (section 7 ``peer_reset``, also ST-1R)."""
    w.apply("PX-1")
    peer = w.peers[sock.id]
    w.emit((trace.E_RESET, sock.id, 0, 0, 0), rule)
    peer.closed = True
    peer.reset = True
    peer.dropped += peer.buffered
    peer.buffered = 0
    if sock.lifecycle == Lifecycle.DESTROYED:
        return
    # the reset effects, in order
    sock.reset = True
    sock.discarded += sock.send_queue
    sock.send_queue = 0
    once = w.profile.reset_reporting == ResetReporting.ONCE
    for op in w.pending_on(sock):
        if op.kind == OpKind.LINGER_CLOSE:
            continue
        if not once:
            complete(w, op, 0, WSAECONNRESET, rule)
        elif not sock.reset_reported:  # PF-5b: the first one gets the error
            w.apply("PF-5b")
            complete(w, op, 0, first_reset_report(sock), "PF-5b")
        else:
            w.apply("PF-5b")
            complete(w, op, 0, 0 if op.is_recv else WSAESHUTDOWN, "PF-5b")
    sock.close_seen = True
    sock.close_error = w.profile.fd_close_reset_error
    sock.close_posted = True
    w.post(sock, FD_CLOSE)
    if sock.lifecycle == Lifecycle.CLOSING:
        destroy(w, sock)
        finish_linger(w, sock, rule)


# --- FD_CLOSE after FIN (MS-1, MS-2, decision D2) ----------------------------------


def fin_close_due(w: World, sock: Socket) -> None:
    """A FIN's FD_CLOSE: at once, or deferred until recv_queue is empty."""
    if w.profile.fd_close_timing == FdCloseTiming.AFTER_DATA and sock.recv_queue > 0:
        w.apply("MS-2")
        sock.close_posted = False
        return
    sock.close_posted = True
    w.post(sock, FD_CLOSE)


def after_receive(w: World, sock: Socket) -> None:
    """A deferred FD_CLOSE fires once a recv or wsarecv empties the queue."""
    if sock.recv_queue == 0 and sock.close_seen and not sock.close_posted:
        w.apply("MS-2")
        sock.close_posted = True
        w.post(sock, FD_CLOSE)


def send_fin(w: World, sock: Socket, rule: str) -> None:
    sock.fin_sent = True
    w.peers[sock.id].fin = True
    w.emit((trace.E_FIN, sock.id, 0, 0, 0), rule)
