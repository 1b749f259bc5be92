"""Effects shared by several rules: completing and cancelling operations,
resets, destroying sockets (CS-D), FD_CLOSE bookkeeping, and settling
(SEMANTICS.md sections 6, 7 and 8)."""

from __future__ import annotations

from harness import trace
from harness.constants import (
    FD_CLOSE,
    FD_WRITE,
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
from harness.profiles import FdCloseTiming, LastErrorOnSuccess, LingerClose, ResetReporting
from harness.reference.world import Operation, Socket, Thread, World


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


# --- settling (section 6) --------------------------------------------------------------


def settle(w: World) -> None:
    for sock in list(w.sockets.values()):  # ascending id: the dict is in creation order
        if w.holders and sock.lifecycle == Lifecycle.OPEN:
            _drop_holders(w, sock)
        if sock.connected and sock.lifecycle != Lifecycle.DESTROYED and not _quiet(w, sock):
            _settle_socket(w, sock)
            # step 2 may have finished a holder: step 0 again, and the steps
            # after it if that closed the socket (the socket's fixpoint)
            if w.holders and sock.lifecycle == Lifecycle.OPEN and _drop_holders(w, sock):
                _settle_socket(w, sock)
    if not w.lingering:
        return
    expiring = sorted(
        (deadline, sid)
        for sid in w.lingering
        if (deadline := w.sockets[sid].linger_deadline) is not None and deadline <= w.clock
    )
    for _, sid in expiring:
        sock = w.sockets[sid]
        w.apply("CS-9e")
        if w.profile.linger_close == LingerClose.BSD:
            w.apply("PF-4b")  # no reset: the close returns, the socket goes on closing
            sock.linger_deadline = None
            w.lingering.discard(sid)
            finish_linger(w, sock, "PF-4b")
            continue
        reset_ours(w, sock, WSAECONNRESET, "CS-9e")
        destroy(w, sock)
        finish_linger(w, sock, "CS-9e")


def _drop_holders(w: World, sock: Socket) -> bool:
    """Settling step 0 (PF-12b): finished holders drop their references; the
    last one closes the socket without a caller.  True if it did."""
    from harness.reference.close import close_without_caller

    for op_id in sorted(w.holders):
        op = w.ops[op_id]
        if op.socket != sock.id or op.status == Status.PENDING:
            continue
        w.apply("PF-12b")
        op.holds = False
        w.holders.discard(op_id)
        sock.refs -= 1
        if sock.refs == 0:
            close_without_caller(w, sock, "PF-12b")
            return True
    return False


def _quiet(w: World, sock: Socket) -> bool:
    """No step of section 6 can act on an open socket: nothing queued or
    waiting to be queued, no FD_WRITE owed, no FIN due.  (A closing socket
    always goes through the steps: FIN and destroy are due.)"""
    return (
        sock.lifecycle == Lifecycle.OPEN
        and sock.send_queue == 0
        and not sock.write_blocked
        and (sock.fin_sent or not sock.sd_send or sock.fin_held)
        and not w.waiting_sends(sock)
    )


def _settle_socket(w: World, sock: Socket) -> None:
    """Steps 1-5 of section 6, to the socket's fixpoint.

    Steps 1 and 2 alternate until nothing moves: the queue drains into the
    peer's window and waiting sends refill it.  Their fixpoint is computed in
    one go: the bytes that reach the peer are bounded by the free window, and
    what does not get through stays queued (up to sndbuf) or in the sends.
    Space frees only once every waiting send is fully queued, so step 3's
    FD_WRITE always follows their completions, and steps 3-5 move no bytes:
    one pass over them reaches the fixpoint.
    """
    peer = w.peers[sock.id]
    # 1. delivery (and ST-1R: data that meets a closed application resets)
    room = peer.window - peer.buffered if w.network_up and not sock.reset else 0
    if min(sock.send_queue, room) > 0 and peer.closed:
        w.apply("ST-1R")
        peer_reset_effects(w, sock, "ST-1R")
        if sock.lifecycle == Lifecycle.DESTROYED:
            return
        room = 0  # steps 2-5 go on for the reset socket (decision D15)
    waiting = w.waiting_sends(sock)
    # bytes the sends still hold reach the peer only through the queue: with
    # sndbuf = 0 they never enter it
    unqueued = sum(op.n - op.done_bytes for op in waiting) if w.limits.sndbuf > 0 else 0
    flow = min(sock.send_queue + unqueued, room)
    if flow > 0:
        w.apply("ST-1")
        sock.delivered += flow
        peer.buffered += flow
    # 2. waiting sends take the freed space, in id order
    left_behind = sock.send_queue + unqueued - flow
    queue_after = min(w.limits.sndbuf, left_behind)
    taken = queue_after + flow - sock.send_queue
    sock.send_queue = queue_after
    sock.accepted += taken
    for op in waiting:
        take = min(op.n - op.done_bytes, taken)
        if take > 0:
            w.apply("ST-2")
        op.done_bytes += take
        taken -= take
        if op.done_bytes == op.n:
            complete(w, op, op.n, 0, "ST-2")
    # 3. FD_WRITE once space frees after WSAEWOULDBLOCK
    if sock.write_blocked and w.space(sock) > 0:
        w.apply("ST-3")
        sock.write_blocked = False
        w.post(sock, FD_WRITE)
    # 4. FIN
    if (
        w.network_up
        and sock.send_queue == 0
        and not w.waiting_sends(sock)
        and ((sock.sd_send and not sock.fin_held) or sock.lifecycle == Lifecycle.CLOSING)
        and not sock.fin_sent
    ):
        w.apply("ST-4")
        send_fin(w, sock, "ST-4")
    # 5. a closing socket whose FIN went out is destroyed
    if sock.lifecycle == Lifecycle.CLOSING and sock.fin_sent:
        w.apply("ST-5")
        destroy(w, sock)
        finish_linger(w, sock, "ST-5")


def send_fin(w: World, sock: Socket, rule: str) -> None:
    sock.fin_sent = True
    w.peers[sock.id].fin = True
    w.emit((trace.E_FIN, sock.id, 0, 0, 0), rule)
